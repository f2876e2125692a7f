"""Performer commands on rendered audio: GO on the bar, the lockout, vamp, panic.

Rendered offline through the renderer with timelines, so every figure is in samples of the
performance: deterministic. At 120 bpm in 4/4 a bar is 96,000 samples (2 s) and a beat
24,000, computed here from tempo and meter; stems are sines with a whole number of cycles
per bar (a loop of a bar is seamless) and single-sample markers (onsets to the sample).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.audio import envelope_db, impulses, max_jump, sine_level_db, write_marker, write_sine
from tests.conftest import SR, Renderer

BAR = 96000
BEAT = 24000
SILENT_DB = -90.0


def _score(stingers: bool = True) -> str:
    text = """
[parameters.tension]
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = 120
bars = 4
[sections.b.layers.mark]
stem = "mark.wav"
[sections.c]
tempo = 120
bars = 4
[sections.c.layers.tone]
stem = "tone.wav"
[[transitions]]
when = "bar"
fade_out = 0.0
"""
    if stingers:
        text += '[stingers.hit]\nstem = "hit.wav"\nwhen = "beat"\n'
    return text


def _stems(folder: Path) -> None:
    write_sine(folder / "bed.wav", 441.0, 10.0, amplitude=0.1, cycles_per=BAR)
    write_sine(folder / "tone.wav", 660.0, 10.0, amplitude=0.1, cycles_per=BAR)
    write_marker(folder / "mark.wav", 9.0)
    write_marker(folder / "hit.wav", 1.0)


def _bar_marked_bed(folder: Path) -> list[int]:
    """A sine (whole cycles per bar) with one marker per bar at a position unique to the
    bar: which bar sounds is read from where its marker falls. Returns the offsets."""
    offsets = [4800 + 960 * bar for bar in range(4)]
    t = np.arange(4 * BAR + 16) / SR
    data = 0.05 * np.sin(2 * np.pi * 441.0 * t)
    for bar, offset in enumerate(offsets):
        data[bar * BAR + offset] += 0.5
    soundfile.write(str(folder / "bed.wav"), data.astype(np.float32), SR, subtype="FLOAT")
    return offsets


def _silent_from(audio: np.ndarray, start: int, end: int) -> float:
    """Peak level (dBFS) over [start, end), both channels."""
    peak = float(np.max(np.abs(audio[start:end]))) if end > start else 0.0
    return 20 * math.log10(max(peak, 1e-12))


# ------------------------------------------------------------------------- GO

def test_go_lands_on_the_bar_and_a_double_go_fires_once(tmp_path: Path,
                                                        render_score: Renderer) -> None:
    _stems(tmp_path)
    cues = [(1.0, {"cmd": "arm", "what": "section", "name": "b"}),
            (2.3, {"cmd": "go"}),  # b on the next bar: 4.0 s
            (2.35, {"cmd": "arm", "what": "stinger", "name": "hit"}),
            (2.4, {"cmd": "go"}),  # a bounce, 0.1 s later: within the 0.5 s lockout
            (3.1, {"cmd": "go"})]  # a real second GO: the stinger on the next beat, 3.5 s
    _, result = render_score(_score(), cues, 6.0)
    assert result.audio is not None
    onsets = impulses(result.audio)
    assert len(onsets) == 2, onsets
    assert abs(onsets[0] - 7 * BEAT) <= 1 and abs(onsets[1] - 2 * BAR) <= 1, onsets
    assert not result.rejected


def test_arm_then_disarm_does_nothing(tmp_path: Path, render_score: Renderer) -> None:
    _stems(tmp_path)
    cues = [(1.0, {"cmd": "arm", "what": "section", "name": "b"}), (1.5, {"cmd": "disarm"}),
            (2.3, {"cmd": "go"})]
    _, result = render_score(_score(), cues, 6.0)
    assert result.audio is not None
    assert len(impulses(result.audio)) == 0
    assert sine_level_db(result.audio, 441.0, SR, 5.0) > -25  # the bed plays on
    assert [m for _, _, m in result.rejected] == ["GO with nothing armed; fix: /arm a move "
                                                  "first"]


# ------------------------------------------------------------------------ vamp

@pytest.mark.parametrize("stream", [False, True], ids=["in RAM", "streamed"])
def test_vamp_repeats_the_bar_sample_for_sample_and_devamp_leaves_on_the_bar(
        tmp_path: Path, render_score: Renderer, stream: bool) -> None:
    _stems(tmp_path)
    offsets = _bar_marked_bed(tmp_path)
    cues = [(2.5, {"cmd": "vamp"}),  # in bar 2: from bar 3's line (4 s), bar 2 repeats
            (9.3, {"cmd": "devamp"})]  # leaves on the next bar line, 10 s: into bar 3
    streamed = f'stem = "bed.wav"\nstream = {str(stream).lower()}\n'
    _, result = render_score(_score().replace('stem = "bed.wav"\n', streamed), cues, 12.0)
    audio = result.audio
    assert audio is not None and not result.rejected
    assert result.streams is not None and (result.streams.streamed_stems > 0) == stream
    original = audio[BAR:2 * BAR].astype(np.float64)
    for repeat in range(3):  # 4, 6 and 8 s
        start = 2 * BAR + repeat * BAR
        again = audio[start:start + BAR].astype(np.float64)
        assert np.max(np.abs(again - original)) < 1e-6, repeat
    onsets = list(impulses(audio))
    expected = [offsets[0], BAR + offsets[1]] + \
        [2 * BAR + k * BAR + offsets[1] for k in range(3)] + [5 * BAR + offsets[2]]
    assert onsets == expected, (onsets, expected)
    sine_step = 2 * math.pi * 441.0 * 0.05 / SR  # the largest step of the bed's sine
    for loop_point in (2 * BAR, 3 * BAR, 4 * BAR, 5 * BAR):
        assert max_jump(audio, loop_point - 16, loop_point + 16) <= 1.05 * sine_step


def test_devamp_on_a_beat_plays_on_from_that_beat(tmp_path: Path,
                                                  render_score: Renderer) -> None:
    _stems(tmp_path)
    offsets = _bar_marked_bed(tmp_path)
    cues = [(2.5, {"cmd": "vamp"}), (4.2, {"cmd": "devamp", "exit": "beat"}),
            (4.3, {"cmd": "arm", "what": "stinger", "name": "hit"})]
    _, result = render_score(_score(), cues, 8.0)
    assert result.audio is not None
    onsets = list(impulses(result.audio))
    # one repeat of bar 2 (its marker at 4 s + offset), left at 4.5 s: the rest of the bar,
    # then bar 3 from 6 s; the stinger armed after the devamp is not fired
    assert onsets == [offsets[0], BAR + offsets[1], 2 * BAR + offsets[1],
                      3 * BAR + offsets[2]], onsets


# ----------------------------------------------------------------------- panic

def _panic_case(render_score: Renderer, cues: list[tuple[float, dict[str, object]]],
                seconds: float) -> np.ndarray:
    _, result = render_score(_score(), cues, seconds)
    assert result.audio is not None
    return result.audio


def test_panic_fades_to_silence_and_holds_it_until_resume(tmp_path: Path,
                                                          render_score: Renderer) -> None:
    _stems(tmp_path)
    audio = _panic_case(render_score, [
        (3.0, {"cmd": "panic"}),  # 2 s
        (5.5, {"cmd": "param", "name": "tension", "value": 1.0}),
        (6.1, {"cmd": "section", "name": "c"}),
        (6.6, {"cmd": "stinger", "name": "hit"}),
        (7.0, {"cmd": "rest", "beats": 1}),
        (10.2, {"cmd": "resume"})], 13.0)  # back on the next bar: 12 s
    assert sine_level_db(audio, 441.0, SR, 2.0, 0.5) > -25
    levels = envelope_db(audio, SR, 0.1)  # 100 ms windows
    assert levels[31] > levels[35] > levels[39] > SILENT_DB  # fading
    assert _silent_from(audio, 5 * SR, 12 * SR) < SILENT_DB
    assert sine_level_db(audio, 660.0, SR, 12.1, 0.5) > -25  # the section taken meanwhile
    assert len(impulses(audio)) == 0  # the stinger never sounded


def test_panic_zero_is_silent_after_the_anti_click_fade(tmp_path: Path,
                                                        render_score: Renderer) -> None:
    _stems(tmp_path)
    audio = _panic_case(render_score, [(3.0, {"cmd": "panic", "seconds": 0})], 5.0)
    at = 3 * SR
    assert _silent_from(audio, at - 240, at) > -25  # loud just before
    assert _silent_from(audio, at + 144, 5 * SR) < SILENT_DB  # 3 ms later: silent
    assert max_jump(audio, at - 8, at + 200) < 0.02  # a fade, not a cut


@pytest.mark.parametrize("case", ["rest", "pending transition", "vamp"])
def test_panic_works_in_any_state(tmp_path: Path, render_score: Renderer, case: str) -> None:
    _stems(tmp_path)
    before: list[tuple[float, dict[str, object]]] = {
        "rest": [(0.5, {"cmd": "rest", "beats": 4})],  # 2 s to 4 s, sounding at 3 s
        "pending transition": [(2.1, {"cmd": "section", "name": "c"})],  # for 4 s
        "vamp": [(2.1, {"cmd": "vamp"})],
    }[case]
    audio = _panic_case(render_score, [*before, (3.0, {"cmd": "panic", "seconds": 0.5}),
                                       (8.2, {"cmd": "resume"})], 11.0)
    assert _silent_from(audio, round(3.5 * SR), 10 * SR) < SILENT_DB
    assert sine_level_db(audio, 441.0, SR, 10.1, 0.5) > -25  # a again, from the bar at 10 s
    assert sine_level_db(audio, 660.0, SR, 10.1, 0.5) < -80  # the move was dropped


def test_devamp_fires_what_is_armed_on_its_exit_bar(tmp_path: Path,
                                                    render_score: Renderer) -> None:
    _stems(tmp_path)
    offsets = _bar_marked_bed(tmp_path)
    cues = [(2.5, {"cmd": "vamp"}), (3.0, {"cmd": "arm", "what": "section", "name": "b"}),
            (5.3, {"cmd": "devamp"})]  # leaves at 6 s, into b (armed)
    _, result = render_score(_score(), cues, 8.0)
    assert result.audio is not None and not result.rejected
    onsets = list(impulses(result.audio))
    assert onsets[:3] == [offsets[0], BAR + offsets[1], 2 * BAR + offsets[1]], onsets
    assert abs(onsets[3] - 3 * BAR) <= 1 and len(onsets) == 4, onsets  # b's marker on the bar


def test_a_seek_inside_a_vamp_keeps_vamping(tmp_path: Path) -> None:
    """A film's relocation replays the history (vamp included): the restarted voice goes
    on repeating the vamped bar on the same grid."""
    from adaptive.commands import parse_command
    from adaptive.render import render
    from adaptive.score.load import load_score

    _stems(tmp_path)
    offsets = _bar_marked_bed(tmp_path)
    (tmp_path / "score.toml").write_text(_score())
    commands = [(round(2.5 * SR), parse_command({"cmd": "vamp"}))]
    result = render(load_score(tmp_path / "score.toml"), commands, 10 * SR,
                    seeks=[(5 * SR, 5 * SR)])
    assert result.audio is not None
    onsets = list(impulses(result.audio))
    assert onsets == [offsets[0], BAR + offsets[1]] + \
        [2 * BAR + k * BAR + offsets[1] for k in range(3)], onsets


def test_patches_follow_the_vamp_on_the_grid_without_a_click(render_score: Renderer) -> None:
    """Patches read the same repeated position (bar 2's chord comes again), but their own
    state runs on (LFOs, tails), so they repeat on the grid, not sample for sample: the
    loop point is no louder a step than the music's own."""
    score = """
[sections.a]
tempo = 120
bars = 4
key = "C major"
chords = ["C", "F", "G", "Am"]
[sections.a.layers.pad]
patch = "pad"
[sections.a.layers.pulse]
patch = "pulse"
"""
    _, plain = render_score(score, [], 7.0)
    _, vamped = render_score(score, [(2.5, {"cmd": "vamp"})], 7.0)
    assert plain.audio is not None and vamped.audio is not None
    a, b = plain.audio.astype(np.float64), vamped.audio.astype(np.float64)
    assert np.array_equal(a[:2 * BAR], b[:2 * BAR])
    assert np.max(np.abs(a[2 * BAR:3 * BAR] - b[2 * BAR:3 * BAR])) > 0.1  # bar 2 again
    own = max_jump(vamped.audio, BAR, 2 * BAR)
    for loop_point in (2 * BAR, 3 * BAR):
        assert max_jump(vamped.audio, loop_point - 16, loop_point + 16) < 0.5 * own
