"""The pure core without pyo: musical time, harmony, curves, choice and the planner.

Expected samples are computed here from tempo and meter, independently of the code.
"""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from adaptive.actions import (
    EndRest,
    RampLayers,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.choice import REST, Debounce, pick
from adaptive.commands import parse_command
from adaptive.conductor import Conductor
from adaptive.curves import fade_shape, gain_db, layer_gain
from adaptive.harmony import Harmony, Key, chord_tones
from adaptive.musical_time import Grid, Meter, first_sample
from adaptive.score.model import Score

SR = 48000


def score(**extra: object) -> Score:
    data: dict[str, object] = {
        "parameters": {"tension": {"smoothing": 1.0}, "arousal": {}},
        "states": {"chase": {"tension": 0.9, "arousal": 0.8}},
        "sections": {
            "a": {"tempo": 97, "bars": 4, "layers": {"x": {"patch": "pad"}}},
            "b": {"tempo": 133.3, "meter": "6/8", "bars": 2},
            "fill": {"tempo": 120, "meter": "7/8", "bars": 1, "loop": False},
            "intro": {"tempo": 90, "bars": 2, "loop": False, "next": "a"},
        },
        "stingers": {"hit": {"patch": "hit", "length": 1.0, "when": "bar"}},
    }
    data.update(extra)
    return Score.model_validate(data)


def run(conductor: Conductor, cues: list[tuple[float, dict[str, object]]],
        until: float) -> list[object]:
    for at, body in cues:
        conductor.submit(parse_command(body), round(at * SR))
    return list(conductor.advance(round(until * SR)))


# ------------------------------------------------------------------ musical time

def test_grid_sync_points_on_fractional_tempi() -> None:
    grid = Grid(SR, 97.0, Meter(4, 4), origin=1000.25)
    beat = SR * 60 / 97
    assert grid.samples_per_bar == pytest.approx(4 * beat)
    after = 123456.0
    expected = 1000.25 + math.ceil((after - 1000.25) / beat) * beat
    assert grid.next_instant(after, "beat") == pytest.approx(expected)
    assert grid.next_instant(expected, "beat") == pytest.approx(expected)  # inclusive
    six_eight = Grid(SR, 120.0, Meter.parse("6/8"))
    assert six_eight.samples_per_beat == pytest.approx(SR * 60 / 120 / 2)
    assert six_eight.next_instant(1.0, "phrase", phrase_bars=2) == pytest.approx(
        2 * 6 * SR * 60 / 120 / 2)
    assert first_sample(1000.0000000001) == 1000 and first_sample(1000.3) == 1001


@pytest.mark.parametrize("text", ["4", "0/4", "4/3", "x/4"])
def test_bad_meters_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Meter.parse(text)


def test_harmony() -> None:
    assert chord_tones("Dm") == (50, 53, 57, 62)
    assert chord_tones("F#m7") == (54, 57, 61, 64)
    assert Key.parse("A dorian").scale()[:3] == (57, 59, 60)
    with pytest.raises(ValueError):
        chord_tones("H7")
    assert Harmony.of("C major", ["C", "G"]).tone_per_bar(0, 3) == [48.0, 55.0, 48.0]


def test_curves() -> None:
    points = [(0.0, -math.inf), (0.5, -20.0), (1.0, 0.0)]
    assert gain_db(points, 0.0) == -math.inf
    assert gain_db(points, 0.75) == pytest.approx(-10.0)
    assert gain_db(points, 2.0) == 0.0
    both = layer_gain({"tension": [(0.0, -6.0), (1.0, 0.0)], "arousal": [(0.0, -6.0)]},
                      {"tension": 0.0, "arousal": 0.3})
    assert 20 * math.log10(both) == pytest.approx(-12.0)
    for x in (0.1, 0.4, 0.8):  # an equal-power crossfade keeps the power
        assert fade_shape("equal_power", x) ** 2 + fade_shape("equal_power", 1 - x) ** 2 == \
            pytest.approx(1.0)


# ------------------------------------------------------------------------ choice

def test_rules_with_hysteresis_and_debounce() -> None:
    s = score(choice={"mode": "rules", "dwell": 1.0, "hysteresis": 0.1, "rules": [
        {"section": "b", "when": {"tension": [0.5, 1.0]}},
        {"rest": True, "when": {"arousal": [0.9, 1.0]}},
        {"section": "a"}]})
    values = {"tension": 0.45, "arousal": 0.0}
    assert pick(s.choice, s.sections, s.parameters, values, "a") == "a"
    assert pick(s.choice, s.sections, s.parameters, values, "b") == "b"  # sticky
    assert pick(s.choice, s.sections, s.parameters, {"tension": 0.0, "arousal": 0.95},
                "a") == REST
    debounce = Debounce(100, acted="a")
    debounce.observe("b", 1000)
    assert debounce.take(1099) is None
    debounce.observe("a", 1050)  # went back before the dwell ran out
    assert debounce.due() is None
    debounce.observe("b", 2000)
    assert debounce.take(2100) == "b"


def test_nearest_mood() -> None:
    s = Score.model_validate({"parameters": {"v": {}, "a": {}},
                              "sections": {"calm": {"tempo": 60, "bars": 1,
                                                    "mood": {"v": 0.8, "a": 0.1}},
                                           "chase": {"tempo": 60, "bars": 1,
                                                     "mood": {"v": 0.2, "a": 0.9}}},
                              "choice": {"mode": "nearest", "hysteresis": 0.2}})
    assert pick(s.choice, s.sections, s.parameters, {"v": 0.3, "a": 0.8}, None) == "chase"
    middle = {"v": 0.45, "a": 0.55}  # slightly nearer chase, but calm is sticky
    assert pick(s.choice, s.sections, s.parameters, middle, "calm") == "calm"


# ----------------------------------------------------------------------- planner

def test_transition_on_bar_with_tempo_change() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(1.0, {"cmd": "section", "name": "b"}),
                              (3.0, {"cmd": "section", "name": "a", "when": "beat"})], 6.0)
    starts = [a for a in actions if isinstance(a, StartVoice)]
    bar_a = 4 * SR * 60 / 97
    sync = math.ceil(SR / bar_a) * bar_a
    assert starts[1].section == "b" and starts[1].at == math.ceil(sync)
    beat_b = SR * 60 / 133.3 / 2
    back = sync + math.ceil((3.0 * SR - sync) / beat_b) * beat_b
    assert starts[2].section == "a" and starts[2].at == math.ceil(back)
    stops = [a for a in actions if isinstance(a, StopVoice)]
    assert [s.at for s in stops] == [starts[1].at, starts[2].at]


def test_bridge_and_latest_command_wins() -> None:
    s = score(transitions=[{"from": "a", "to": "b", "when": "bar", "bridge": "fill"}])
    conductor = Conductor(s, SR)
    # asked for b, then (before the bar) for a stinger and b again: one plan
    actions = run(conductor, [(0.5, {"cmd": "section", "name": "a"}),
                              (0.6, {"cmd": "section", "name": "b"})], 8.0)
    starts = [(a.section, a.at) for a in actions if isinstance(a, StartVoice)]
    bar = 4 * SR * 60 / 97
    fill = 7 * SR * 60 / 120 / 2
    assert starts == [("a", 0), ("fill", math.ceil(bar)), ("b", math.ceil(bar + fill))]


def test_play_once_moves_on_and_stingers_quantize() -> None:
    s = score(score={"initial_section": "intro"})
    conductor = Conductor(s, SR)
    actions = run(conductor, [(0.7, {"cmd": "stinger", "name": "hit"})], 8.0)
    starts = [(a.section, a.at) for a in actions if isinstance(a, StartVoice)]
    intro = 2 * 4 * SR * 60 / 90
    assert starts == [("intro", 0), ("a", math.ceil(intro))]
    stinger = next(a for a in actions if isinstance(a, StartStinger))
    assert stinger.at == math.ceil(4 * SR * 60 / 90)  # the next bar of the intro


def test_rests_resume_params_states_and_overrides() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(0.5, {"cmd": "rest", "bars": 1}),
                              (4.0, {"cmd": "params", "values": {"tension": 7.0}}),
                              (4.5, {"cmd": "state", "name": "chase"}),
                              (5.0, {"cmd": "mute", "layer": "x"}),
                              (5.5, {"cmd": "section", "name": "nowhere"})], 8.0)
    bar = 4 * SR * 60 / 97
    rest = next(a for a in actions if isinstance(a, StartRest))
    end = next(a for a in actions if isinstance(a, EndRest))
    assert rest.at == math.ceil(bar) and end.at == math.ceil(2 * bar)
    params = [a.values for a in actions if isinstance(a, RampParams)]
    assert {"tension": 1.0} in params  # clamped
    assert params[-1] == {"tension": 0.9, "arousal": 0.8}
    gains = next(a for a in actions if isinstance(a, RampLayers))
    assert gains.values == {("a", "x"): 0.0}
    assert [message for _, _, message in conductor.rejected] == ["unknown section 'nowhere'"]


def test_resume_before_the_rest_cancels_it() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(0.5, {"cmd": "rest"}), (0.6, {"cmd": "resume"})], 4.0)
    assert not [a for a in actions if isinstance(a, StartRest | EndRest)]


# ------------------------------------------------------------------- validation

def test_score_validation_names_fields() -> None:
    with pytest.raises(ValidationError) as error:
        Score.model_validate({"sections": {"a": {"tempo": 90, "bars": 1, "lenght": 3}}})
    assert "lenght" in str(error.value)
    with pytest.raises(ValidationError) as error:
        score(transitions=[{"from": "a", "to": "zz", "bridge": "b"}])
    text = str(error.value)
    assert "transitions[0].to: unknown section 'zz'" in text
    assert "transitions[0].bridge: section 'b' loops" in text


@pytest.mark.parametrize("body", [
    {"cmd": "param", "name": "t", "value": float("nan")},
    {"cmd": "params", "values": {}},
    {"cmd": "param", "name": "t", "value": 1, "extra": 2},
    {"cmd": "dance"},
])
def test_bad_commands_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_command(body)


# ------------------------------------------------------------------ dispatch tables

def test_every_command_and_action_has_its_one_handler() -> None:
    """One dispatch per union (no isinstance chains): a new command or action that is
    missing from a table fails here, not at a show."""
    import typing

    from adaptive import conductor as conductor_module
    from adaptive import names
    from adaptive.actions import Action
    from adaptive.commands import Command
    from adaptive.engine import engine as engine_module

    commands = set(typing.get_args(typing.get_args(Command)[0]))
    actions = set(typing.get_args(Action))
    assert len(commands) == 21 and len(actions) == 9
    assert set(conductor_module._HANDLERS) == commands
    assert set(names.REFERENCES) == commands
    assert set(engine_module._APPLY) == actions
