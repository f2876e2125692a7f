"""`/status` says what is sounding, what is pending and when, without sockets or audio."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from adaptive.commands import GoToSection, LayerGain, Rest, Resume, SetParam, Stop
from adaptive.live.clock import ManualClock
from adaptive.live.controller import Controller
from adaptive.live.status import STATUS_FIELDS, fields_table
from adaptive.score.model import Score
from tests.test_bus import BLOCK, RATE, RecordingEngine, run

SCORE = """
[parameters.tension]
smoothing = 0.5
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.low]
stem = "low.wav"
gain = { tension = [[0.0, -20.0], [1.0, 0.0]] }
[sections.b]
tempo = 120
bars = 4
[sections.b.layers.beats]
stem = "beats.wav"
gain = -3.0
[[transitions]]
when = "phrase"
fade_out = 0.5
"""


@pytest.fixture
def control() -> tuple[Controller, ManualClock]:
    clock = ManualClock(RATE, BLOCK)
    score = Score.model_validate(tomllib.loads(SCORE))
    controller = Controller(score, RecordingEngine(), RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    controller.tick()
    yield controller, clock
    controller.bus.close()


def test_a_pending_transition_shows_the_source_sounding_and_when_it_changes(
        control: tuple[Controller, ManualClock]) -> None:
    controller, clock = control
    run(controller, clock, 1.25)  # bar 1, beat 3 of a
    assert controller.submit(GoToSection(name="b"), source="OSC ")
    status = controller.status()
    assert (status["section"], status["bar"], status["beat"]) == ("a", 1, 3)
    assert status["next_section"] == "b"
    assert status["state"] == "playing"
    section = next(p for p in status["pending"] if p["kind"] == "section")
    assert section["name"] == "b" and section["sample"] == 8 * RATE  # the next 4-bar phrase
    assert section["time"] == pytest.approx(8.0) and 6.5 < section["in"] < 6.8
    assert "OSC" in section["why"]
    run(controller, clock, 7.0)  # past the phrase: b sounds, a has faded out
    status = controller.status()
    assert (status["section"], status["bar"], status["beat"]) == ("b", 1, 1)
    assert status["next_section"] is None
    assert status["gains_db"]["b.beats"] == -3.0


def test_values_are_plain_rounded_doubles_and_gains_follow_the_smoothing(
        control: tuple[Controller, ManualClock]) -> None:
    controller, clock = control
    controller.submit(SetParam(name="tension", value=0.9))
    controller.submit(LayerGain(layer="low", db=-6.0))
    run(controller, clock, 0.1)
    moving = controller.status()
    assert moving["targets"] == {"tension": 0.9}
    assert 0.0 < moving["params"]["tension"] < 0.9  # smoothing over 0.5 s
    run(controller, clock, 1.0)
    status = controller.status()
    assert status["params"] == {"tension": 0.9}
    assert status["gains_db"]["a.low"] == pytest.approx(-2.0 - 6.0, abs=0.01)
    assert status["overrides"] == {"a.low": pytest.approx(10 ** (-6 / 20), abs=1e-6)}
    text = json.dumps(status)
    # no float32 noise: every number has at most 6 decimals
    assert not re.search(r"\d\.\d{7,}", text), text


def test_rest_and_stop_are_distinct_states(control: tuple[Controller, ManualClock]) -> None:
    controller, clock = control
    run(controller, clock, 0.5)
    controller.submit(Rest())
    run(controller, clock, 2.5)
    assert controller.status()["state"] == "resting"
    controller.submit(Resume())
    run(controller, clock, 2.5)
    assert controller.status()["state"] == "playing"
    controller.submit(Stop())
    run(controller, clock, 2.5)
    status = controller.status()
    assert status["state"] == "stopped" and status["stopped"]


def test_every_status_field_is_documented_and_the_readme_shows_them(
        control: tuple[Controller, ManualClock]) -> None:
    controller, _ = control
    assert set(controller.status()) == set(STATUS_FIELDS)
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert fields_table() in readme
