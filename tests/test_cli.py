"""The `adaptive` command as a user runs it: validate, schema, render (in fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from tests.audio import write_sine

GOOD_SCORE = """
[parameters.tension]
smoothing = 0.2
[sections.a]
tempo = 97
bars = 2
[sections.a.layers.s]
stem = "s.wav"
gain = { tension = [[0, -12], [1, 0]] }
[sections.b]
tempo = 120
bars = 2
[sections.b.layers.s]
stem = "s.wav"
"""


def adaptive(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adaptive.cli", *args], capture_output=True,
                          text=True, cwd=cwd, check=False, timeout=300)


def test_validate_accepts_a_good_score(tmp_path: Path) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 6.0)
    (tmp_path / "score.toml").write_text(GOOD_SCORE)
    result = adaptive("validate", str(tmp_path / "score.toml"))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "2 sections" in result.stdout


def test_validate_names_file_field_value_and_fix(tmp_path: Path) -> None:
    bad = GOOD_SCORE.replace('stem = "s.wav"\ngain', 'stem = "missing.wav"\ngain') + """
[[transitions]]
from = "a"
to = "nowhere"
fade_out = 1.0
[sections.c]
tempo = 90
bars = 1
tempi = 3
"""
    write_sine(tmp_path / "s.wav", 441.0, 6.0)
    (tmp_path / "score.toml").write_text(bad)
    result = adaptive("validate", str(tmp_path / "score.toml"))
    assert result.returncode == 1
    message = result.stderr
    assert "Traceback" not in message
    assert str(tmp_path / "score.toml") in message
    # the unknown field, with its path and a fix
    assert "sections.c.tempi" in message and "fix:" in message
    # once fields are valid, a dangling reference names the field and the known sections
    (tmp_path / "score.toml").write_text(bad.replace("tempi = 3\n", ""))
    message = adaptive("validate", str(tmp_path / "score.toml")).stderr
    assert "transitions[0].to: unknown section 'nowhere' (known: a, b, c)" in message


def test_validate_reports_a_missing_stem_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "score.toml").write_text(GOOD_SCORE)
    result = adaptive("validate", str(tmp_path / "score.toml"))
    assert result.returncode == 1
    assert "sections.a.layers.s.stem" in result.stderr
    assert str(tmp_path / "s.wav") in result.stderr


def test_validate_reports_bad_toml_and_stem_rate(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[sections.a\ntempo = 1")
    result = adaptive("validate", str(tmp_path / "broken.toml"))
    assert result.returncode == 1 and "not valid TOML" in result.stderr
    write_sine(tmp_path / "s.wav", 441.0, 6.0, sample_rate=44100)
    (tmp_path / "score.toml").write_text(GOOD_SCORE)
    result = adaptive("validate", str(tmp_path / "score.toml"))
    assert result.returncode == 1 and "44100 Hz" in result.stderr


def test_schema_is_json_schema_of_the_score(tmp_path: Path) -> None:
    result = adaptive("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "sections" in schema["properties"]
    assert "from" in json.dumps(schema["$defs"]["Transition"])


def test_render_writes_audio_that_follows_the_timeline(tmp_path: Path) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 6.0, amplitude=0.2)
    (tmp_path / "score.toml").write_text(GOOD_SCORE)
    (tmp_path / "timeline.toml").write_text("""
duration = 4.0
[[cue]]
at = 2.0
cmd = "param"
name = "tension"
value = 1.0
""")
    out = tmp_path / "out.wav"
    result = adaptive("render", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "timeline.toml"), "-o", str(out), "--format", "float")
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(str(out))
    assert rate == 48000 and audio.shape == (4 * 48000, 2)
    quiet = np.sqrt(np.mean(audio[48000:90000, 0] ** 2))
    loud = np.sqrt(np.mean(audio[150000:190000, 0] ** 2))
    assert abs(20 * np.log10(loud / quiet) - 12.0) < 0.5


def test_render_reports_a_bad_timeline(tmp_path: Path) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 6.0)
    (tmp_path / "score.toml").write_text(GOOD_SCORE)
    (tmp_path / "timeline.toml").write_text('[[cue]]\nat = 1.0\ncmd = "param"\nname = "x"\n'
                                            'value = nan\n')
    result = adaptive("render", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "timeline.toml"), "-o", str(tmp_path / "o.wav"))
    assert result.returncode == 1
    assert "cue[0]" in result.stderr and "value" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_patch_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "broken.py").write_text(
        "CONTROLS = {}\n\ndef build(ctx):\n    return ctx.pyo.Sine(freq=ctx.args['freq'])\n")
    (tmp_path / "score.toml").write_text(
        '[sections.a]\ntempo = 90\nbars = 1\n[sections.a.layers.x]\npatch = "broken"\n')
    (tmp_path / "timeline.toml").write_text("duration = 1.0\n")
    assert adaptive("validate", str(tmp_path / "score.toml")).returncode == 0
    result = adaptive("render", str(tmp_path / "score.toml"), "--timeline",
                      str(tmp_path / "timeline.toml"), "-o", str(tmp_path / "o.wav"))
    assert result.returncode == 1
    assert "sections.a.layers.x.patch: the patch failed to build: KeyError('freq')" in \
        result.stderr
    assert "Traceback" not in result.stderr
