"""`adaptive render --from TC --to TC`: a render of film time that starts as a seek would.

The sheet (24 fps, start 01:00:00:00, labelled cues, a stinger hit) is rendered in full and
from 01:00:03:12: from the end of the entry fade on (plus the few ms the master's DC filter
and limiter take to forget it), the later render is the full one from that sample, to
float32 resolution, and the patch's notes land on the same samples. --to ends it on its
exact sample; a bad --from/--to is a one-line usage error (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from adaptive.cli import main
from tests.audio import impulses, sine_level_db, write_marker, write_sine

SR = 48000
FADE = round(0.02 * SR)

SCORE = """
[parameters.x]
smoothing = 0.5
[sections.a]
tempo = 97
bars = 8
[sections.a.layers.low]
stem = "low.wav"
gain = { x = [[0.0, -20.0], [1.0, 0.0]] }
[sections.a.layers.high]
stem = "high.wav"
[sections.b]
tempo = 120
bars = 4
[sections.b.layers.tone]
stem = "b.wav"
[sections.b.layers.ticks]
patch = "ticks"
[stingers.sting]
stem = "sting.wav"
[[transitions]]
when = "bar"
fade_out = 0.3
"""

TICKS = '''"""An impulse on every sixteenth: onsets readable to the sample."""
from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS: dict[str, ControlSpec] = {}


def build(ctx: PatchContext):
    strong = ctx.clock.trigger(1.0) * 0.3
    weak = ctx.clock.trigger(4.0) * 0.1
    return ctx.pyo.Mix([strong + weak, strong + weak], voices=2)
'''

SHEET = """
fps = "24"
start = "01:00:00:00"
duration = "01:00:07:00"

[[cue]]
at = "01:00:00:00"
label = "1M1"
cmd = "section"
name = "a"

[[cue]]
at = "01:00:00:12"
cmd = "param"
name = "x"
values = { x = 1.0 }

[[cue]]
at = "01:00:02:00"
label = "1M2"
cmd = "section"
name = "b"

[[hit]]
at = "01:00:05:06"
label = "door"
stinger = "sting"
"""


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("film")
    write_sine(directory / "low.wav", 220.0, 20, amplitude=0.1)
    write_sine(directory / "high.wav", 1003.0, 20, amplitude=0.1)
    write_sine(directory / "b.wav", 660.0, 20, amplitude=0.1)
    write_marker(directory / "sting.wav", 1.0, positions=(0,), amplitude=0.4)
    (directory / "patches").mkdir()
    (directory / "patches" / "ticks.py").write_text(TICKS)
    (directory / "score.toml").write_text(SCORE)
    (directory / "sheet.toml").write_text(SHEET.replace("cmd = \"param\"\nname = \"x\"\n"
                                                        "values = { x = 1.0 }",
                                                        "cmd = \"params\"\n"
                                                        "values = { x = 1.0 }"))
    return directory


def _render(film: Path, name: str, *extra: str) -> np.ndarray:
    out = film / name
    assert main(["render", str(film / "score.toml"), "--timeline", str(film / "sheet.toml"),
                 "-o", str(out), "--format", "float", *extra]) == 0
    audio, rate = soundfile.read(str(out), dtype="float32")
    assert rate == SR
    return np.asarray(audio)


@pytest.fixture(scope="module")
def full(film: Path) -> np.ndarray:
    return _render(film, "full.wav")


def test_the_full_render_is_the_sheet(film: Path, full: np.ndarray) -> None:
    assert len(full) == 7 * SR
    assert sine_level_db(full, 1003.0, SR, 1.0) > -25.0  # a
    assert sine_level_db(full, 660.0, SR, 3.0) > -25.0  # b, from 1M2 on its bar
    # the hit: the stinger's impulse on frame 126 (5 s + 6 frames), to the sample
    assert any(abs(onset - round(5.25 * SR)) <= 1 for onset in impulses(full, 0.35))


@pytest.mark.parametrize("start, seconds, patch", [("01:00:03:12", 3.5, True),
                                                   ("0.75", 0.75, False)])
def test_from_a_timecode_is_the_full_render_from_there(film: Path, full: np.ndarray,
                                                       start: str, seconds: float,
                                                       patch: bool) -> None:
    """Stems (and the patch, in b): after the entry fade, the full render's samples. At
    0.75 s (film seconds) the parameter's ramp from the 00:12 cue is still moving."""
    sought = _render(film, "from.wav", "--from", start)
    first = round(seconds * SR)
    straight = full[first:]
    assert sought.shape == straight.shape  # to the sheet's end
    after_fade = slice(FADE + round(0.01 * SR), None)
    settled = slice(round(0.3 * SR), None)
    assert np.max(np.abs(straight[after_fade] - sought[after_fade])) < 1e-3  # -60 dB
    assert np.max(np.abs(straight[settled] - sought[settled])) < 1e-6  # float32
    # the fade-in: silence at sample 0, the music by the end of the fade
    assert np.max(np.abs(sought[:8])) < 0.02
    if not patch:
        return
    heard = impulses(sought[FADE + 8:], 0.05)
    expected = impulses(straight[FADE + 8:], 0.05)
    assert len(expected) > 4 and len(heard) == len(expected)
    assert np.max(np.abs(heard - expected)) <= 1


def test_to_ends_on_its_exact_sample(film: Path, full: np.ndarray) -> None:
    part = _render(film, "part.wav", "--from", "01:00:02:00", "--to", "01:00:03:01")
    assert len(part) == round((1 + 1 / 24) * SR)  # 25 frames at 24 fps
    straight = full[2 * SR:2 * SR + len(part)]
    settled = slice(round(0.3 * SR), None)
    assert np.max(np.abs(straight[settled] - part[settled])) < 1e-6
    whole = _render(film, "to.wav", "--to", "2.5")
    assert len(whole) == round(2.5 * SR)
    assert np.max(np.abs(whole - full[:len(whole)])) == 0.0  # no --from: the straight path


@pytest.mark.parametrize("args, words", [
    (["--from", "00:59:59:00"], ["--from", "before the sheet's start 01:00:00:00", "fix:"]),
    (["--from", "01:00:03:00", "--to", "01:00:02:00"], ["--to", "not after --from", "fix:"]),
    (["--from", "01:00:03:00", "--to", "01:00:03:00"], ["--to", "not after --from"]),
    (["--from", "1:00:03"], ["--from", "not a timecode", "fix:"]),
    (["--from", "01:00:03:30"], ["--from", "past the last frame 23", "fix:"]),
    (["--from", "-2"], ["--from", ">= 0", "fix:"]),
    (["--from", "01:00:09:00"], ["--from", "after the sheet's end", "fix:"]),
    (["--to", "3", "--duration", "1"], ["--to and --duration", "fix:"]),
])
def test_bad_film_times_are_one_line_usage_errors(film: Path, args: list[str],
                                                  words: list[str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["render", str(film / "score.toml"), "--timeline", str(film / "sheet.toml"),
                 "-o", str(film / "bad.wav"), *args])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if not line.startswith("rendering")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


def test_a_timecode_needs_a_sheet_with_fps(film: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (film / "plain.toml").write_text('[[cue]]\nat = 0.0\ncmd = "section"\nname = "a"\n')
    code = main(["render", str(film / "score.toml"), "--timeline", str(film / "plain.toml"),
                 "-o", str(film / "bad.wav"), "--from", "00:00:01:00"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--from" in err and "fps" in err and "fix:" in err
    assert len(err.splitlines()) == 1
