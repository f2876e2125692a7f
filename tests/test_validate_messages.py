"""`adaptive validate`'s messages point at the field, say what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive.errors import ScoreError
from adaptive.score.load import load_score, parse_score
from tests.audio import write_sine


def problems_of(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(ScoreError) as caught:
        if tmp_path is None:
            parse_score(text, Path("score.toml"))
        else:
            (tmp_path / "score.toml").write_text(text)
            load_score(tmp_path / "score.toml")
    return [str(problem) for problem in caught.value.problems]


def test_an_unsorted_curve_points_at_the_curve_and_says_sort_it() -> None:
    problems = problems_of("""
[parameters.tension]
[sections.calm]
tempo = 90
bars = 2
[sections.calm.layers.pad]
patch = "pad"
gain = { tension = [[0.6, -3], [0.2, -12]] }
controls.brightness = { tension = [[0.0, 0.2], [1.0, 0.8]] }
controls.motion = { tension = [[1.0, 0.2], [0.0, 0.8]] }
""")
    assert problems == [
        "sections.calm.layers.pad.gain.tension: breakpoints are not sorted by parameter "
        "value (got [0.6, 0.2]); fix: sort the breakpoints by parameter value",
        "sections.calm.layers.pad.controls.motion.tension: breakpoints are not sorted by "
        "parameter value (got [1.0, 0.0]); fix: sort the breakpoints by parameter value"]


def test_a_wrong_rate_stem_is_not_also_called_short(tmp_path: Path) -> None:
    # 2 bars at 120 bpm last 4 s: at 44.1 kHz the file has fewer frames than 4 s at 48 kHz
    write_sine(tmp_path / "s.wav", 441.0, 4.0, sample_rate=44100)
    problems = problems_of('[sections.a]\ntempo = 120\nbars = 2\n'
                           '[sections.a.layers.s]\nstem = "s.wav"\n', tmp_path)
    assert len(problems) == 1, problems
    assert "s.wav is at 44100 Hz but the score plays at 48000 Hz" in problems[0]
    assert "shorter" not in problems[0]
    # at the right rate, a short stem is still reported
    write_sine(tmp_path / "s.wav", 441.0, 2.0)
    problems = problems_of('[sections.a]\ntempo = 120\nbars = 2\n'
                           '[sections.a.layers.s]\nstem = "s.wav"\n', tmp_path)
    assert len(problems) == 1 and "shorter than its section (4.000 s)" in problems[0]


def test_an_unknown_field_gets_a_did_you_mean() -> None:
    problems = problems_of("""
[score]
sample_rat = 44100
[sections.a]
tempi = 90
tempo = 90
bars = 2
[sections.a.layers.s]
stem = "s.wav"
gian = -3
[[transitions]]
form = "a"
[stingers.hit]
stem = "s.wav"
zzz = 1
""")
    assert "score.sample_rat: unknown field (got 44100); fix: did you mean 'sample_rate'? " \
        "(fields here: initial_section, initial_state, master_gain, name, sample_rate, " \
        "stream_longer_than)" in \
        problems
    by_field = {problem.split(":")[0]: problem for problem in problems}
    assert "fix: did you mean 'tempo'?" in by_field["sections.a.tempi"]
    assert "fix: did you mean 'gain'?" in by_field["sections.a.layers.s.gian"]
    assert "fix: did you mean 'from'?" in by_field["transitions[0].form"]  # the alias
    assert "fix: remove it, or use one of the fields here: args, chord, duck" in \
        by_field["stingers.hit.zzz"]


def test_an_unknown_patch_lists_the_built_in_ones(tmp_path: Path) -> None:
    problems = problems_of('[sections.a]\ntempo = 120\nbars = 2\n'
                           '[sections.a.layers.p]\npatch = "pda"\n', tmp_path)
    assert problems == [
        "sections.a.layers.p.patch: no patch named 'pda' (got 'pda'); fix: did you mean "
        "'pad'? add patches/pda.py beside the score or use a built-in patch: bass, hit, "
        "motif, pad, percussion, pulse, riser"]
