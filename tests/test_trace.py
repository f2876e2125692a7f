"""The trace (what the plot draws) shows ducking and performer overrides as the audio has them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from adaptive.actions import StartStinger
from adaptive.cli import demo_paths
from adaptive.commands import parse_command
from adaptive.render import render
from adaptive.score.load import load_score
from adaptive.trace import Trace, build_trace, stinger_frames
from tests.audio import sine_level_db, write_sine
from tests.conftest import SR, Renderer

AMPLITUDE_DB = 20 * math.log10(0.1)  # test stems are sines of amplitude 0.1


def trace_db(trace: Trace, key: str, at: float) -> float:
    return 20 * math.log10(max(float(np.interp(at, trace.times, trace.layer_gains[key])),
                               1e-12))


def test_trace_shows_a_stem_stingers_duck_and_a_mute_as_rendered(
        tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "bed.wav", 441.0, 8.0)
    write_sine(tmp_path / "other.wav", 1003.0, 8.0)
    write_sine(tmp_path / "hit.wav", 2207.0, 1.0)  # its own length decides the duck's hold
    score = """
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.s]
stem = "bed.wav"
[sections.a.layers.m]
stem = "other.wav"
[stingers.hit]
stem = "hit.wav"
when = "immediate"
duck = -8.0
duck_attack = 0.05
duck_release = 0.3
"""
    cues = [(1.0, {"cmd": "stinger", "name": "hit"}),
            (3.0, {"cmd": "mute", "layer": "m"})]
    loaded, result = render_score(score, cues, 5.0)
    audio = result.audio
    assert audio is not None
    trace = build_trace(loaded.score, result.actions, SR, 5.0,
                        stinger_frames=stinger_frames(loaded))

    def heard(frequency: float, at: float) -> float:
        return sine_level_db(audio, frequency, SR, at, 0.4) - AMPLITUDE_DB

    # the duck: 0 dB before, -8 dB while the hit sounds, back after its release, on both
    # bed layers; the audio agrees
    for key, frequency in (("a.s", 441.0), ("a.m", 1003.0)):
        assert abs(trace_db(trace, key, 0.5)) < 0.01
        assert abs(trace_db(trace, key, 1.5) - -8.0) < 0.01
        assert abs(trace_db(trace, key, 2.6)) < 0.01
        assert abs(heard(frequency, 0.3)) < 0.5
        assert abs(heard(frequency, 1.3) - -8.0) < 0.5
        assert abs(heard(frequency, 2.4)) < 0.5
    assert trace.bed_gain is not None
    assert abs(20 * math.log10(float(trace.bed_gain.min())) - -8.0) < 1e-6
    # the mute: the muted layer is silent in the trace and in the audio, the other plays on
    assert trace_db(trace, "a.m", 3.5) < -200
    assert heard(1003.0, 3.5) < -100
    assert abs(trace_db(trace, "a.s", 3.5)) < 0.01
    assert abs(heard(441.0, 3.5)) < 0.5


def test_the_demo_trace_shows_its_eight_db_duck() -> None:
    """`adaptive demo`'s picture: the hit ducks every sounding bed layer by 8 dB."""
    score_path, _ = demo_paths()
    loaded = load_score(score_path)
    cues = [(0.0, {"cmd": "state", "name": "calm"}),
            (0.0, {"cmd": "params", "values": {"arousal": 0.5}}),
            (2.0, {"cmd": "stinger", "name": "hit"})]
    commands = [(round(at * SR), parse_command(body)) for at, body in cues]
    result = render(loaded, commands, 7 * SR, keep_audio=False)
    trace = build_trace(loaded.score, result.actions, SR, 7.0,
                        stinger_frames=stinger_frames(loaded))
    hit = trace.stingers[0][0]
    spec = loaded.score.stingers["hit"]
    assert spec.duck == -8.0 and spec.length is not None
    # the same plan without the stinger: what the bed does undisturbed
    undisturbed = build_trace(loaded.score, [a for a in result.actions
                                             if not isinstance(a, StartStinger)], SR, 7.0)
    sounding = [key for key, gains in undisturbed.layer_gains.items()
                if float(np.interp(hit, trace.times, gains)) > 1e-3]
    assert sounding  # the calm bed plays
    for key in sounding:
        def ducked(at: float, key: str = key) -> float:
            return trace_db(trace, key, at) - trace_db(undisturbed, key, at)

        assert abs(ducked(hit - 0.1)) < 1e-6
        assert abs(ducked(hit + spec.duck_attack + 0.5) - -8.0) < 1e-6, key
        assert abs(ducked(hit + spec.length + spec.duck_release + 0.1)) < 1e-6, key
