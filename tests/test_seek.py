"""A seek on a playing engine: from the seek on, the music is what a straight play would be.

Render 0 → T straight, and render with a seek to T at an earlier sample P: after the
20 ms cross-fade the stems match the straight render sample for sample (to float32
resolution once the master's DC filter and limiter have forgotten the cross-fade), and a
patch's notes land on the same samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from adaptive.commands import Command, parse_command
from adaptive.render import render
from adaptive.score.load import LoadedScore, load_score
from tests.audio import impulses, sine_level_db, write_sine

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
[[transitions]]
when = "bar"
fade_out = 0.5
[rests]
when = "beat"
release = 0.3
"""

TICKS = '''"""A test patch: an impulse on the first sample of every sixteenth (onsets to the
sample), quieter on the off-beats."""
from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS: dict[str, ControlSpec] = {}


def build(ctx: PatchContext):
    pyo = ctx.pyo
    strong = ctx.clock.trigger(1.0) * 0.3
    weak = ctx.clock.trigger(4.0) * 0.1
    return pyo.Mix([strong + weak, strong + weak], voices=2)
'''

CUES = [(1.0, {"cmd": "param", "name": "x", "value": 1.0}),
        (5.0, {"cmd": "section", "name": "b"}),
        (9.0, {"cmd": "param", "name": "x", "value": 0.3}),
        (14.0, {"cmd": "section", "name": "a"}),
        (20.0, {"cmd": "rest"}),
        (24.0, {"cmd": "resume"})]


@pytest.fixture(scope="module")
def piece(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadedScore, list[tuple[int,
                                                                                      Command]]]:
    directory = tmp_path_factory.mktemp("seek")
    write_sine(directory / "low.wav", 220.0, 40, amplitude=0.1)
    write_sine(directory / "high.wav", 1003.0, 40, amplitude=0.1)
    write_sine(directory / "b.wav", 660.0, 40, amplitude=0.1)
    (directory / "patches").mkdir()
    (directory / "patches" / "ticks.py").write_text(TICKS)
    (directory / "score.toml").write_text(SCORE)
    commands = [(round(at * SR), parse_command(body)) for at, body in CUES]
    return load_score(directory / "score.toml"), commands


def _straight_and_sought(piece: tuple[LoadedScore, list[tuple[int, Command]]], target: float,
                         seek_at: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    loaded, commands = piece
    t, p = round(target * SR), round(seek_at * SR)
    straight = render(loaded, commands, t + round(seconds * SR)).audio
    sought = render(loaded, commands, p + round(seconds * SR), seeks=[(p, t)]).audio
    assert straight is not None and sought is not None
    return straight[t:], sought[p:]


@pytest.mark.parametrize("target", [3.0, 16.5])
def test_stems_after_a_seek_match_a_straight_play(
        piece: tuple[LoadedScore, list[tuple[int, Command]]], target: float) -> None:
    """3.0 s: in a, mid parameter ramp done; 16.5 s: back in a after b, with a transition
    that happened before the target (its fade-out over)."""
    straight, sought = _straight_and_sought(piece, target, 1.0, 3.0)
    after_fade = slice(FADE + round(0.01 * SR), None)
    settled = slice(round(0.3 * SR), None)
    assert np.max(np.abs(straight[after_fade] - sought[after_fade])) < 1e-3  # -60 dB
    assert np.max(np.abs(straight[settled] - sought[settled])) < 1e-6  # -120 dB
    # and it is the music, not silence matching silence
    assert sine_level_db(sought, 1003.0, SR, 0.5) > -25.0


def test_a_patch_plays_the_same_notes_after_a_seek(
        piece: tuple[LoadedScore, list[tuple[int, Command]]]) -> None:
    """Into b at 11.3 s (its drums a patch on the sixteenth grid): the same onsets, to the
    sample, from the end of the cross-fade on."""
    straight, sought = _straight_and_sought(piece, 11.3, 2.0, 2.5)
    start = FADE + 8
    heard = impulses(sought[start:], threshold=0.05) + start
    expected = impulses(straight[start:], threshold=0.05) + start
    assert len(expected) >= 16  # a sixteenth at 120 BPM is 6,000 samples
    assert len(heard) == len(expected)
    assert np.max(np.abs(heard - expected)) <= 1


def test_a_seek_into_a_rest_is_silent_and_resumes_on_cue(
        piece: tuple[LoadedScore, list[tuple[int, Command]]]) -> None:
    straight, sought = _straight_and_sought(piece, 22.0, 1.0, 4.0)
    # resting: silence (-80 dB: the master's DC filter lets the cross-fade's tail decay)
    assert np.max(np.abs(sought[FADE + 64:round(1.5 * SR)])) < 1e-4
    resumed = round(3.5 * SR)  # the resume (24.0 s) re-enters on a's next bar before 25.5 s
    assert sine_level_db(sought, 1003.0, SR, resumed / SR, 0.3) > -25.0
    assert np.max(np.abs(straight[resumed:] - sought[resumed:])) < 1e-6


def test_a_section_crossfading_into_itself_keeps_its_curve_gains(
        piece: tuple[LoadedScore, list[tuple[int, Command]]]) -> None:
    """A curve's lookup is shared by the section's voice slots: it belongs to the bus, so
    stopping the slot that built it first does not silence the next one (it did)."""
    loaded, _ = piece
    commands = [(0, parse_command({"cmd": "param", "name": "x", "value": 1.0})),
                (SR, parse_command({"cmd": "section", "name": "a"}))]
    audio = render(loaded, commands, 6 * SR).audio
    assert audio is not None
    assert sine_level_db(audio, 220.0, SR, 1.0) == pytest.approx(-20.0, abs=0.2)  # slot 0
    assert sine_level_db(audio, 220.0, SR, 4.0) == pytest.approx(-20.0, abs=0.2)  # slot 1
