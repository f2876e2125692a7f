"""Layer levels follow their authored curves, and smoothing times are honoured."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from adaptive.trace import build_trace
from tests.audio import envelope_db, sine_level_db, write_sine
from tests.conftest import SR, Renderer

AMPLITUDE_DB = 20 * math.log10(0.1)  # test stems are sines of amplitude 0.1


def test_layer_levels_follow_curves(tmp_path: Path, render_score: Renderer) -> None:
    for name, frequency in (("low", 441.0), ("mid", 1003.0), ("high", 2207.0)):
        write_sine(tmp_path / f"{name}.wav", frequency, 10.0)
    score = """
[parameters.tension]
smoothing = 0.1
[parameters.arousal]
smoothing = 0.1
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.low]
stem = "low.wav"
gain = { tension = [[0.0, -20.0], [1.0, 0.0]] }
[sections.a.layers.mid]
stem = "mid.wav"
gain = -6.0
[sections.a.layers.high]
stem = "high.wav"
gain = { tension = [[0.0, -inf], [0.5, -inf], [1.0, -3.0]], arousal = [[0, -6], [1, 0]] }
"""
    cues = [(2.0, {"cmd": "param", "name": "tension", "value": 0.5}),
            (4.0, {"cmd": "params", "values": {"tension": 1.0, "arousal": 0.5}})]
    _, result = render_score(score, cues, 6.0)
    audio = result.audio
    assert audio is not None

    def level(frequency: float, at: float) -> float:
        return sine_level_db(audio, frequency, SR, at) - AMPLITUDE_DB

    # tension 0: -20 dB; 0.5: -10 dB; 1.0: 0 dB
    assert abs(level(441, 1.0) - -20.0) < 0.5
    assert abs(level(441, 3.0) - -10.0) < 0.5
    assert abs(level(441, 5.0) - 0.0) < 0.5
    assert abs(level(1003, 1.0) - -6.0) < 0.5
    assert abs(level(1003, 5.0) - -6.0) < 0.5
    # -inf up to tension 0.5 is silence; at tension 1 and arousal 0.5: -3 + -3 dB
    assert level(2207, 1.0) < -100
    assert level(2207, 3.0) < -100
    assert abs(level(2207, 5.0) - -6.0) < 0.5


def test_measured_levels_match_the_trace(tmp_path: Path, render_score: Renderer) -> None:
    """The trace (what the plot shows) predicts what the audio does."""
    write_sine(tmp_path / "s.wav", 441.0, 9.0)
    score = """
[parameters.tension]
smoothing = 0.5
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.s]
stem = "s.wav"
gain = { tension = [[0.0, -24.0], [0.3, -12.0], [1.0, 0.0]] }
"""
    cues = [(1.0, {"cmd": "param", "name": "tension", "value": 0.8}),
            (3.0, {"cmd": "param", "name": "tension", "value": 0.2})]
    loaded, result = render_score(score, cues, 5.0)
    assert result.audio is not None
    trace = build_trace(loaded.score, result.actions, SR, 5.0)
    for at in (0.5, 2.0, 4.0):
        predicted = 20 * math.log10(float(np.interp(at + 0.25, trace.times,
                                                    trace.layer_gains["a.s"])))
        measured = sine_level_db(result.audio, 441.0, SR, at) - AMPLITUDE_DB
        assert abs(measured - predicted) < 0.5, (at, measured, predicted)


def test_smoothing_time_is_honoured(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 9.0, amplitude=0.5)
    smoothing = 1.0
    score = f"""
[parameters.tension]
smoothing = {smoothing}
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.s]
stem = "s.wav"
gain = {{ tension = [[0.0, -30.0], [1.0, 0.0]] }}
"""
    jump_at = 1.0
    _, result = render_score(score, [(jump_at, {"cmd": "param", "name": "tension",
                                                "value": 1.0})], 3.5)
    assert result.audio is not None
    window = 0.005
    levels = envelope_db(result.audio, SR, window)
    final = float(np.median(levels[round(3.0 / window):]))
    start = float(np.median(levels[round(0.2 / window):round(0.9 / window)]))
    assert abs(final - start - 30.0) < 0.5
    times = (np.arange(len(levels)) + 0.5) * window
    halfway = times[np.argmax(levels >= start + 15.0)] - jump_at
    arrived = times[np.argmax(levels >= final - 0.3)] - jump_at
    # the dB curve is linear in the parameter and the ramp linear in time
    assert abs(halfway - smoothing / 2) <= 0.1 * smoothing / 2, halfway
    assert abs(arrived - smoothing) <= 0.1 * smoothing, arrived


def test_performer_overrides_mute_solo_gain_and_auto(tmp_path: Path,
                                                    render_score: Renderer) -> None:
    write_sine(tmp_path / "a.wav", 441.0, 10.0)
    write_sine(tmp_path / "b.wav", 1003.0, 10.0)
    score = """
[sections.s]
tempo = 120
bars = 4
[sections.s.layers.a]
stem = "a.wav"
[sections.s.layers.b]
stem = "b.wav"
gain = -6.0
"""
    cues = [(1.0, {"cmd": "mute", "layer": "a"}),
            (2.0, {"cmd": "auto", "layer": "a"}),
            (3.0, {"cmd": "solo", "layer": "s.b"}),
            (4.0, {"cmd": "solo", "layer": "s.b", "on": False}),
            (4.0, {"cmd": "layer_gain", "layer": "b", "db": -10.0}),
            (5.0, {"cmd": "auto", "layer": "b"})]
    _, result = render_score(score, cues, 6.0)
    audio = result.audio
    assert audio is not None

    def level(frequency: float, at: float) -> float:
        return sine_level_db(audio, frequency, SR, at, seconds=0.4) - AMPLITUDE_DB

    assert abs(level(441, 0.3)) < 0.5 and abs(level(1003, 0.3) + 6) < 0.5
    assert level(441, 1.3) < -100 and abs(level(1003, 1.3) + 6) < 0.5      # mute a
    assert abs(level(441, 2.3)) < 0.5                                         # auto
    assert level(441, 3.3) < -100 and abs(level(1003, 3.3) + 6) < 0.5      # solo b
    assert abs(level(441, 4.3)) < 0.5 and abs(level(1003, 4.3) + 16) < 0.5  # gain on b
    assert abs(level(1003, 5.3) + 6) < 0.5                                    # auto


def test_stinger_ducks_the_bed(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "bed.wav", 441.0, 10.0)
    write_sine(tmp_path / "sting.wav", 2003.0, 1.0)
    score = """
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[stingers.s]
stem = "sting.wav"
when = "beat"
duck = -9.0
duck_attack = 0.05
duck_release = 0.2
"""
    _, result = render_score(score, [(1.1, {"cmd": "stinger", "name": "s"})], 4.0)
    audio = result.audio
    assert audio is not None
    start = 1.5  # the next beat at 120 BPM
    assert abs(sine_level_db(audio, 441.0, SR, 1.0, 0.4) - AMPLITUDE_DB) < 0.5
    ducked = sine_level_db(audio, 441.0, SR, start + 0.2, 0.6) - AMPLITUDE_DB
    assert abs(ducked - -9.0) < 0.5, ducked
    assert abs(sine_level_db(audio, 2003.0, SR, start + 0.2, 0.6) - AMPLITUDE_DB) < 0.5
    assert abs(sine_level_db(audio, 441.0, SR, start + 1.5, 0.4) - AMPLITUDE_DB) < 0.5


def test_an_override_set_while_its_section_is_silent_holds_when_it_plays(
        tmp_path: Path, render_score: Renderer) -> None:
    """Overrides are built on first use; one set on an idle voice must still apply."""
    write_sine(tmp_path / "a.wav", 441.0, 10.0)
    write_sine(tmp_path / "x.wav", 1003.0, 10.0)
    write_sine(tmp_path / "y.wav", 2003.0, 10.0)
    score = """
[sections.a]
tempo = 120
bars = 1
[sections.a.layers.a]
stem = "a.wav"
[sections.b]
tempo = 120
bars = 1
[sections.b.layers.x]
stem = "x.wav"
[sections.b.layers.y]
stem = "y.wav"
"""
    cues = [(0.5, {"cmd": "mute", "layer": "b.x"}),
            (0.6, {"cmd": "section", "name": "b", "when": "immediate"}),
            (2.0, {"cmd": "auto", "layer": "b.x"})]
    _, result = render_score(score, cues, 3.0)
    audio = result.audio
    assert audio is not None

    def level(frequency: float, at: float) -> float:
        return sine_level_db(audio, frequency, SR, at, seconds=0.4) - AMPLITUDE_DB

    assert abs(level(441, 0.1)) < 0.5
    assert level(1003, 1.2) < -100 and abs(level(2003, 1.2)) < 0.5  # x muted, y plays
    assert abs(level(1003, 2.4)) < 0.5                                # auto: x back
