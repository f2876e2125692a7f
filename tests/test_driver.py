"""One driver policy for render and serve: an action for sample S sounds at S.

Measured on rendered audio at several sample rates and block sizes: a parameter change
(its first changed sample), a transition and a stinger (marker impulses) land on the
sample computed here from the cue time, tempo and meter, independently of the engine.
The policy itself is tested without pyo, with a recording sink.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from adaptive.actions import Action, RampParams
from adaptive.commands import parse_command
from adaptive.conductor import Conductor
from adaptive.ramps import Ramp
from adaptive.render import render
from adaptive.runtime.driver import Driver
from adaptive.score.load import load_score
from adaptive.score.model import Score
from tests.audio import impulses, write_marker, write_sine

CASES = [(48000, 256), (44100, 64), (44100, 1024), (96000, 64), (96000, 1024)]

SCORE = """
[score]
sample_rate = {rate}
[parameters.x]
smoothing = 0.0
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.tone]
stem = "tone.wav"
gain = {{ x = [[0.0, -inf], [1.0, 0.0]] }}
[sections.b]
tempo = 97
bars = 4
[sections.b.layers.mark]
stem = "mark.wav"
[[transitions]]
when = "bar"
fade_out = 0.01
[stingers.hit]
stem = "hit.wav"
when = "beat"
"""


def _first_audible(audio: np.ndarray, start: int = 0) -> int:
    loud = np.nonzero(np.abs(audio[start:, 0]) > 1e-7)[0]
    return int(loud[0]) + start if len(loud) else -1


@pytest.mark.parametrize("rate, block", CASES)
def test_parameter_transition_and_stinger_land_on_their_samples(
        tmp_path: Path, rate: int, block: int) -> None:
    write_sine(tmp_path / "tone.wav", 443.3, 12.0, sample_rate=rate, amplitude=0.1)
    write_marker(tmp_path / "mark.wav", 12.0, sample_rate=rate, amplitude=0.5)
    write_marker(tmp_path / "hit.wav", 1.0, sample_rate=rate, amplitude=0.5)
    path = tmp_path / "score.toml"
    path.write_text(SCORE.format(rate=rate))
    loaded = load_score(path)
    param_at = round(1.0 * rate)
    section_at, stinger_at = round(2.2 * rate), round(5.1 * rate)
    commands = [(param_at, parse_command({"cmd": "param", "name": "x", "value": 1.0})),
                (section_at, parse_command({"cmd": "section", "name": "b"})),
                (stinger_at, parse_command({"cmd": "stinger", "name": "hit"}))]
    result = render(loaded, commands, round(7.0 * rate), block=block)
    assert result.audio is not None
    # the parameter: its first changed sample is the cue's sample (before: silence)
    assert _first_audible(result.audio) == param_at
    # the transition: b's first marker on the next bar of a's grid
    bar = rate * 60 / 97 * 4
    ideal_section = math.ceil(section_at / bar) * bar
    onsets = impulses(result.audio[round(section_at):], threshold=0.3) + section_at
    assert abs(onsets[0] - ideal_section) <= 1, (onsets[0], ideal_section)
    # the stinger: on the next beat of b's grid (b starts on the bar above)
    beat = rate * 60 / 97
    origin = math.ceil(ideal_section - 1e-6)
    ideal_stinger = ideal_section + math.ceil((stinger_at - ideal_section) / beat) * beat
    stinger_onsets = impulses(result.audio[stinger_at:], threshold=0.3) + stinger_at
    assert origin <= section_at + bar
    assert abs(stinger_onsets[0] - ideal_stinger) <= 1, (stinger_onsets[0], ideal_stinger)


def test_the_parameter_skew_of_main_is_gone(tmp_path: Path) -> None:
    """The issue's measurement: `param x = 1.0` at 1.000 s first sounded at 47,682 offline
    (318 samples early). It sounds at 48,000."""
    rate = 48000
    write_sine(tmp_path / "tone.wav", 443.3, 12.0, amplitude=0.1)
    write_marker(tmp_path / "mark.wav", 12.0)
    write_marker(tmp_path / "hit.wav", 1.0)
    path = tmp_path / "score.toml"
    path.write_text(SCORE.format(rate=rate))
    commands = [(48000, parse_command({"cmd": "param", "name": "x", "value": 1.0}))]
    result = render(load_score(path), commands, 2 * rate)
    assert result.audio is not None
    assert _first_audible(result.audio) == 48000


# ------------------------------------------------------------ the policy, without pyo

def _score() -> Score:
    return Score.model_validate({
        "parameters": {"x": {"smoothing": 0.1}},
        "sections": {"a": {"tempo": 120, "bars": 4}, "b": {"tempo": 120, "bars": 4}},
    })


class Recorder:
    def __init__(self) -> None:
        self.written: list[tuple[int, Action]] = []
        self.now = 0

    def apply(self, action: Action) -> None:
        self.written.append((self.now, action))


def _drive(horizon_blocks: int, cues: list[tuple[int, dict[str, object]]], until: int,
           block: int = 256) -> Recorder:
    conductor = Conductor(_score(), 48000)
    for at, body in cues:
        conductor.submit(parse_command(body), at)
    sink = Recorder()
    driver = Driver(conductor, sink, block, horizon_blocks)
    for now in range(0, until, block):
        sink.now = now
        driver.pump(now)
    return sink


def test_a_control_waits_while_the_ramp_it_replaces_moves() -> None:
    # x ramps over 0.1 s (4800 samples) from 10,000; a second change at 12,000 replaces it
    # mid-ramp: it may only be written in the block that holds 12,000
    sink = _drive(8, [(10_000, {"cmd": "param", "name": "x", "value": 1.0}),
                      (12_000, {"cmd": "param", "name": "x", "value": 0.2})], 20_000)
    ramps = [(now, a) for now, a in sink.written if isinstance(a, RampParams) and a.at > 0]
    (first_written, first), (second_written, second) = ramps
    assert first_written <= first.at and second.at == 12_000
    assert second_written <= 12_000 < second_written + 256
    assert second.ramps["x"].start_value == pytest.approx(first.ramps["x"].value_at(11_999))


def test_a_control_is_written_early_once_the_old_ramp_is_complete() -> None:
    sink = _drive(8, [(10_000, {"cmd": "param", "name": "x", "value": 1.0}),
                      (30_000, {"cmd": "param", "name": "x", "value": 0.2})], 40_000)
    written = [(now, a) for now, a in sink.written if isinstance(a, RampParams) and a.at > 0]
    now, second = written[-1]
    assert second.at == 30_000 and now < 30_000 - 256  # ahead of its block: no race


@pytest.mark.parametrize("block", [64, 256, 1024])
def test_what_is_written_does_not_depend_on_the_horizon(block: int) -> None:
    cues = [(5_000, {"cmd": "param", "name": "x", "value": 1.0}),
            (7_000, {"cmd": "param", "name": "x", "value": 0.0}),
            (9_000, {"cmd": "section", "name": "b"}),
            (60_000, {"cmd": "rest"}), (90_000, {"cmd": "resume"})]
    near = [a for _, a in _drive(2, cues, 200_000, block).written]
    far = [a for _, a in _drive(16, cues, 200_000, block).written]
    assert sorted(near, key=repr) == sorted(far, key=repr)


def test_ramp_rule() -> None:
    ramp = Ramp(100, 4, 0.0, 1.0)
    assert [ramp.value_at(t) for t in (99, 100, 101, 102, 103, 104)] == \
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    step = Ramp(100, 1, 0.0, 1.0)
    assert step.value_at(99) == 0.0 and step.value_at(100) == 1.0
    replaced = ramp.retarget(102, 0.0, 2)
    assert replaced.start_value == 0.5 and replaced.value_at(103) == 0.0
