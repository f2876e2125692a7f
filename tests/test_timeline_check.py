"""Timelines are checked against the score before anything renders: every unknown name."""

from __future__ import annotations

from pathlib import Path

from adaptive.cli import demo_paths
from adaptive.score.load import load_score, parse_score
from adaptive.timeline import check_timeline, load_timeline, parse_timeline
from tests.audio import write_sine
from tests.test_cli import adaptive

SCORE = """
[parameters.tension]
[parameters.arousal]
[states.calm]
tension = 0.1
[sections.calm]
tempo = 90
bars = 2
[sections.calm.layers.pad]
stem = "s.wav"
[sections.calm.layers.bass]
stem = "s.wav"
[sections.chase]
tempo = 120
bars = 2
[sections.chase.layers.drums]
stem = "s.wav"
[stingers.hit]
stem = "s.wav"
"""

MISSPELT = """
[[cue]]
at = 1.0
cmd = "param"
name = "tensoin"
value = 0.5
[[cue]]
at = 0.5
cmd = "params"
values = { arousal = 0.2, valance = 0.3 }
[[cue]]
at = 2.0
cmd = "state"
name = "clam"
[[cue]]
at = 3.0
cmd = "section"
name = "chace"
[[cue]]
at = 4.0
cmd = "stinger"
name = "hits"
[[cue]]
at = 5.0
cmd = "mute"
layer = "paf"
[[cue]]
at = 6.0
cmd = "solo"
layer = "calm.drums"
[[cue]]
at = 7.0
cmd = "resume"
section = "nowhere"
[[cue]]
at = 8.0
cmd = "layer_gain"
layer = "chase.drums"
db = -3.0
[[cue]]
at = 9.0
cmd = "auto"
layer = "bass"
"""


def _problems(timeline_text: str) -> list[str]:
    import tomllib

    score = parse_score(SCORE, Path("score.toml"))
    timeline = parse_timeline(tomllib.loads(timeline_text), "t.toml")
    return [str(problem) for problem in check_timeline(timeline, score)]


def test_every_unknown_name_is_listed_with_cue_time_and_fix() -> None:
    problems = _problems(MISSPELT)
    assert problems == [
        "cue[0] at 1.000 s: name: unknown parameter 'tensoin'; fix: did you mean "
        "'tension'? (known parameters: arousal, tension)",
        "cue[1] at 0.500 s: values.valance: unknown parameter 'valance'; fix: use one of "
        "the score's parameters: arousal, tension",
        "cue[2] at 2.000 s: name: unknown state 'clam'; fix: did you mean 'calm'? "
        "(known states: calm)",
        "cue[3] at 3.000 s: name: unknown section 'chace'; fix: did you mean 'chase'? "
        "(known sections: calm, chase)",
        "cue[4] at 4.000 s: name: unknown stinger 'hits'; fix: did you mean 'hit'? "
        "(known stingers: hit)",
        "cue[5] at 5.000 s: layer: unknown layer 'paf'; fix: did you mean 'pad'? "
        "(known layers: bass, drums, pad, calm.bass, calm.pad, chase.drums)",
        "cue[6] at 6.000 s: layer: section 'calm' has no layer 'drums'; fix: did you mean "
        "'chase.drums'? (layers of calm: bass, pad)",
        "cue[7] at 7.000 s: section: unknown section 'nowhere'; fix: use one of the "
        "score's sections: calm, chase",
    ]


def test_a_name_the_score_cannot_have_says_what_to_declare() -> None:
    import tomllib

    score = parse_score('[sections.a]\ntempo = 90\nbars = 1\n', Path("score.toml"))
    timeline = parse_timeline(tomllib.loads('[[cue]]\nat = 0.25\ncmd = "stinger"\n'
                                            'name = "hit"\n'), "t.toml")
    assert [str(p) for p in check_timeline(timeline, score)] == [
        "cue[0] at 0.250 s: name: unknown stinger 'hit'; fix: the score declares no "
        "stinger; declare it under [stingers]"]


def test_the_demo_timeline_is_valid() -> None:
    score, timeline = demo_paths()
    assert check_timeline(load_timeline(timeline), load_score(score).score) == []


def test_render_and_validate_reject_a_misspelt_timeline(tmp_path: Path) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 6.0)
    (tmp_path / "score.toml").write_text(SCORE)
    (tmp_path / "t.toml").write_text("duration = 2.0\n" + MISSPELT)
    out = tmp_path / "o.wav"
    result = adaptive("render", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "t.toml"), "-o", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 't.toml'}: 8 problem(s)" in result.stderr
    assert "cue[5] at 5.000 s: layer: unknown layer 'paf'; fix: did you mean 'pad'?" in \
        result.stderr
    assert not out.exists()  # rejected before rendering
    result = adaptive("validate", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "t.toml"))
    assert result.returncode == 1
    assert result.stderr.count("cue[") == 8
    (tmp_path / "good.toml").write_text('[[cue]]\nat = 1.0\ncmd = "mute"\nlayer = "calm.pad"\n')
    result = adaptive("validate", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "good.toml"))
    assert result.returncode == 0, result.stderr
    assert "good.toml: ok — 1 cues" in result.stdout
