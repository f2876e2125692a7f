"""Rests, clicks, section choice, output safety and determinism, measured on rendered audio."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from adaptive.actions import EndRest, StartRest, StartVoice
from tests.audio import max_jump, samples_per_bar, sine_level_db, write_sine
from tests.conftest import SR, Renderer


def steady_jump(frequency: float, amplitude: float) -> float:
    """The largest step a steady sine makes between samples."""
    return amplitude * 2 * math.sin(math.pi * frequency / SR)


def test_rest_is_silent_and_reenters_on_a_downbeat(tmp_path: Path,
                                                   render_score: Renderer) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 12.0, amplitude=0.3)
    score = """
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.s]
stem = "s.wav"
[rests]
when = "bar"
release = 0.5
reenter = "bar"
"""
    cues = [(1.0, {"cmd": "rest", "bars": 2})]
    _, result = render_score(score, cues, 8.0)
    audio = result.audio
    assert audio is not None
    bar = samples_per_bar(97)
    rest_start = math.ceil(1.0 * SR / bar) * bar
    reentry = rest_start + 2 * bar
    starts = [a.at for a in result.actions if isinstance(a, StartRest)]
    ends = [a.at for a in result.actions if isinstance(a, EndRest)]
    assert starts == [math.ceil(rest_start)] and ends == [math.ceil(reentry)]
    release_end = math.ceil(rest_start + 0.5 * SR)
    silent = audio[release_end:math.floor(reentry)]
    assert np.max(np.abs(silent)) < 10 ** (-80 / 20)
    # the tail rings through the release: still sounding half-way through it
    assert np.max(np.abs(audio[math.ceil(rest_start + 0.2 * SR):][:480])) > 0.05
    # re-entry: the first audible sample after the silence is the downbeat (searching
    # from mid-rest, once the DC filter's tail of the release has died away)
    quiet = math.ceil((release_end + reentry) / 2)
    after = np.nonzero(np.abs(audio[quiet:, 0]) > 1e-9)[0]
    assert abs(quiet + after[0] - reentry) <= 1, (quiet + after[0], reentry)
    assert sine_level_db(audio, 441.0, SR, reentry / SR + 0.2) > 20 * math.log10(0.3) - 0.5


def test_resume_reenters_on_next_downbeat(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 12.0, amplitude=0.3)
    score = """
[sections.a]
tempo = 120
meter = "3/4"
bars = 4
[sections.a.layers.s]
stem = "s.wav"
[rests]
when = "beat"
release = 0.1
"""
    cues = [(0.7, {"cmd": "rest"}), (2.6, {"cmd": "resume"})]
    _, result = render_score(score, cues, 5.0)
    bar = samples_per_bar(120, 3)
    ends = [a.at for a in result.actions if isinstance(a, EndRest)]
    assert ends == [math.ceil(math.ceil(2.6 * SR / bar) * bar)]


def test_no_clicks_at_cuts_loops_rests_and_fast_moves(tmp_path: Path,
                                                      render_score: Renderer) -> None:
    tempo, bars = 97.0, 1
    loop = samples_per_bar(tempo) * bars
    amplitude = 0.3
    write_sine(tmp_path / "a.wav", 441.0, 4.0, amplitude=amplitude, cycles_per=loop)
    write_sine(tmp_path / "b.wav", 661.0, 4.0, amplitude=amplitude, cycles_per=loop)
    score = f"""
[parameters.level]
default = 1.0
smoothing = 0.0
[sections.a]
tempo = {tempo}
bars = {bars}
[sections.a.layers.s]
stem = "a.wav"
gain = {{ level = [[0.0, -inf], [0.01, -40], [1.0, 0.0]] }}
[sections.b]
tempo = {tempo}
bars = {bars}
[sections.b.layers.s]
stem = "b.wav"
[[transitions]]
when = "beat"
fade_out = 0.0
[rests]
release = 0.0
when = "immediate"
"""
    cues = [(1.03, {"cmd": "param", "name": "level", "value": 0.0}),   # a hard mute
            (1.51, {"cmd": "param", "name": "level", "value": 1.0}),
            (4.2, {"cmd": "section", "name": "b"}),                     # a hard cut
            (6.3, {"cmd": "rest"}),                                     # a sudden rest
            (7.1, {"cmd": "resume"})]
    _, result = render_score(score, cues, 9.0)
    audio = result.audio
    assert audio is not None
    limit = 2.0 * steady_jump(661.0, amplitude)
    assert max_jump(audio, 0, len(audio)) < limit, (max_jump(audio, 0, len(audio)), limit)
    # loop points were crossed several times and the sections really played
    starts = [a for a in result.actions if isinstance(a, StartVoice)]
    assert [a.section for a in starts] == ["a", "b"]
    assert sine_level_db(audio, 661.0, SR, 5.0) > 20 * math.log10(amplitude) - 0.5


def test_oscillating_parameter_never_flaps(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "calm.wav", 441.0, 12.0)
    write_sine(tmp_path / "chase.wav", 1003.0, 12.0)
    score = """
[parameters.arousal]
smoothing = 0.05
[sections.calm]
tempo = 120
bars = 4
[sections.calm.layers.s]
stem = "calm.wav"
[sections.chase]
tempo = 120
bars = 4
[sections.chase.layers.s]
stem = "chase.wav"
[choice]
mode = "rules"
dwell = 1.5
hysteresis = 0.02
[[choice.rules]]
section = "chase"
when = { arousal = [0.5, 1.0] }
[[choice.rules]]
section = "calm"
[[transitions]]
when = "beat"
"""
    wobble = [(0.5 + 0.4 * i, {"cmd": "param", "name": "arousal",
                               "value": 0.6 if i % 2 == 0 else 0.4}) for i in range(20)]
    _, result = render_score(score, wobble, 9.0)
    assert result.audio is not None
    starts = [a.section for a in result.actions if isinstance(a, StartVoice)]
    assert starts == ["calm"]
    assert sine_level_db(result.audio, 1003.0, SR, 8.0) < -100

    held = [(0.5, {"cmd": "param", "name": "arousal", "value": 0.6})]
    _, moved = render_score(score, held, 4.0)
    start = next(a for a in moved.actions if isinstance(a, StartVoice) and a.section == "chase")
    due = 0.5 * SR + 1.5 * SR
    assert start.at == math.ceil(math.ceil(due / (SR / 2)) * (SR / 2))  # next beat after dwell


def test_output_is_limited_finite_and_dc_free(tmp_path: Path, render_score: Renderer) -> None:
    for index, frequency in enumerate((110.0, 220.0, 330.0, 440.0)):
        write_sine(tmp_path / f"s{index}.wav", frequency, 6.0, amplitude=0.9)
    layers = "\n".join(f'[sections.a.layers.l{i}]\nstem = "s{i}.wav"\ngain = 6.0'
                       for i in range(4))
    score = f"""
[score]
master_gain = 12.0
[sections.a]
tempo = 120
bars = 2
{layers}
"""
    _, result = render_score(score, [], 4.0)
    audio = result.audio
    assert audio is not None
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) < 1.0
    assert abs(float(np.mean(audio[SR:]))) < 1e-3


def test_rendering_is_deterministic(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "s.wav", 441.0, 12.0)
    score = """
[parameters.tension]
smoothing = 0.3
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.s]
stem = "s.wav"
gain = { tension = [[0, -12], [1, 0]] }
[sections.b]
tempo = 131
bars = 2
[sections.b.layers.s]
stem = "s.wav"
"""
    cues = [(0.5, {"cmd": "param", "name": "tension", "value": 0.9}),
            (1.2, {"cmd": "section", "name": "b"})]
    _, first = render_score(score, cues, 5.0)
    _, second = render_score(score, cues, 5.0)
    assert first.audio is not None and second.audio is not None
    assert np.array_equal(first.audio, second.audio)
