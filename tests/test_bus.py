"""The output bus and the controller without sockets, audio or a wall clock.

A `ManualClock` and a recording engine stand in for the graph; everything else (the
conductor, the driver, the checks, the bus and its threads) is the real thing.
"""

from __future__ import annotations

import threading
import time
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest

from adaptive.actions import Action, StartStinger, StartVoice
from adaptive.commands import GoToSection, PlayStinger, SetParams
from adaptive.live.bus import OutputBus
from adaptive.live.clock import ManualClock
from adaptive.live.controller import Controller, Event
from adaptive.score.model import Score
from tests.live.conftest import STEM_SCORE

RATE, BLOCK = 48000, 256


@dataclass
class _Rest:
    calls: list[tuple[int, int]] = field(default_factory=list)

    def rest(self, at: int, length: int) -> None:
        self.calls.append((at, length))


@dataclass
class _Master:
    rest: _Rest = field(default_factory=_Rest)


class _NoStreams:
    """A score without streamed stems, as the engine's `Streamer` reports it."""

    def status(self) -> dict[str, int | float]:
        return {"stems": 0, "playing": 0, "underruns": 0, "resident_mb": 0.0}


@dataclass
class RecordingEngine:
    """Stands in for `Engine`: records what the controller writes to the graph."""

    applied: list[Action] = field(default_factory=list)
    master: _Master = field(default_factory=_Master)
    counter: Any = None
    streamer: _NoStreams = field(default_factory=lambda: _NoStreams())

    def apply(self, action: Action) -> None:
        self.applied.append(action)

    def housekeeping(self, now: int) -> None:
        pass

    def silence_all(self) -> None:
        pass


def controller(clock: ManualClock) -> tuple[Controller, RecordingEngine]:
    score = Score.model_validate(tomllib.loads(STEM_SCORE))
    engine = RecordingEngine()
    control = Controller(score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    control.tick()
    return control, engine


def run(control: Controller, clock: ManualClock, seconds: float) -> None:
    """The audio thread and the ticker, by hand: a tick every block."""
    for _ in range(round(seconds * RATE / BLOCK)):
        clock.advance(BLOCK)
        control.tick()


def test_a_slow_subscriber_only_loses_its_own_events() -> None:
    bus: OutputBus[int] = OutputBus()
    slow_started = threading.Event()
    fast: list[int] = []

    def slow(item: int) -> None:
        slow_started.set()
        time.sleep(2.0)

    bus.subscribe("slow", slow, capacity=2)
    done = threading.Event()
    bus.subscribe("fast", lambda item: (fast.append(item), item == 19 and done.set()))
    try:
        bus.publish(-1)
        assert slow_started.wait(5)
        began = time.monotonic()
        for item in range(20):
            bus.publish(item)
        publishing = time.monotonic() - began
        assert done.wait(5)
        assert fast[-20:] == list(range(20))
        assert bus.drops()["slow"] >= 17  # two queued, one in its hands at most
        assert bus.drops()["bus"] == 0
        assert publishing < 2.0 / 10  # a tenth of one slow delivery, for twenty publishes
    finally:
        bus.close()


def test_commands_reach_the_engine_while_a_subscriber_sleeps() -> None:
    clock = ManualClock(RATE, BLOCK)
    control, engine = controller(clock)
    asleep = threading.Event()

    def sleepy(event: Event) -> None:
        asleep.set()
        time.sleep(3.0)

    control.bus.subscribe("sleepy", sleepy, capacity=4)
    received: list[Event] = []
    control.bus.subscribe("tests", received.append)
    try:
        run(control, clock, 1.0)  # beats: the sleepy subscriber is now stuck in one
        assert asleep.wait(5)
        began = time.monotonic()
        assert control.submit(GoToSection(name="b"), source="test ")
        run(control, clock, 0.5)
        assert control.submit(PlayStinger(name="hit"), source="test ")
        run(control, clock, 2.0)
        elapsed = time.monotonic() - began
        assert elapsed < 3.0 / 2, elapsed  # nothing waited for the sleeping subscriber
        started = [a for a in engine.applied if isinstance(a, StartVoice)]
        assert [a.section for a in started] == ["a", "b"]
        # a transition "immediate" lands within the safety margin of its submission
        assert started[1].at - round(1.0 * RATE) <= 4 * BLOCK
        assert any(isinstance(a, StartStinger) for a in engine.applied)
        deadline = time.monotonic() + 5
        while not any(e.kind == "stinger" for e in received):  # delivered meanwhile
            assert time.monotonic() < deadline
            time.sleep(0.01)
        status = control.status()
        assert status["dropped"]["sleepy"] > 0, (status, received)
        assert status["counters"]["sleepy_dropped"] > 0
        section = next(e for e in received if e.kind == "section" and e.args == ("b",))
        assert section.sample == started[1].at
        assert "section b at bar 1 beat 3 of a (t=1.013 s)" in section.text, section.text
    finally:
        control.bus.close()


def test_params_with_an_unknown_name_apply_the_known_ones() -> None:
    clock = ManualClock(RATE, BLOCK)
    control, _ = controller(clock)
    try:
        admitted = control.admit(SetParams(values={"tension": 0.7, "nope": 1.0}), "OSC ")
        assert admitted == SetParams(values={"tension": 0.7})
        assert control.stats.snapshot()["unknown_name"] == 1
        control.submit_batch([(admitted, None)], "OSC ", "osc_coalesced")
        run(control, clock, 0.1)
        assert control.status()["params"]["tension"] == pytest.approx(0.7)
        # all unknown: refused whole, each counted once
        assert control.admit(SetParams(values={"nope": 1.0}), "OSC ") is None
        assert control.stats.snapshot()["unknown_name"] == 2
    finally:
        control.bus.close()


def test_timetags_map_through_the_injected_clock() -> None:
    clock = ManualClock(RATE, BLOCK, origin=5000.0)
    control, _ = controller(clock)
    try:
        assert control.sample_at(5001.0) == RATE
        assert control.wall_at(RATE // 2) == pytest.approx(5000.5)
        run(control, clock, 0.25)
        assert control.now() == clock.sample == control.status()["sample"]
    finally:
        control.bus.close()


def test_a_live_seek_restarts_the_history_at_its_position() -> None:
    """`Controller.seek`: what a film transport will call. From a safety margin ahead, the
    voices of the history's target sample start at their exact position (origin shifted by
    the jump), with a cross-fade from what was playing."""
    from adaptive.actions import StopVoice
    from adaptive.commands import parse_command

    clock = ManualClock(RATE, BLOCK)
    control, engine = controller(clock)
    run(control, clock, 1.0)
    history = [(2 * RATE, parse_command({"cmd": "section", "name": "b"}))]
    target = 10 * RATE  # b (one 2 s bar at 120 BPM) from its bar after 2 s: b started at 2 s
    engine.applied.clear()
    at = control.seek(history, target)
    assert at >= clock.now()
    stops = [a for a in engine.applied if isinstance(a, StopVoice)]
    starts = [a for a in engine.applied if isinstance(a, StartVoice)]
    assert [(s.section, s.at) for s in stops] == [("a", at)]
    (start,) = starts
    assert start.section == "b" and start.at == at and start.fade_in == round(0.02 * RATE)
    # the history's b began at 2 s (this score's transitions are immediate), so at `at`
    # it is `target - 2 s` samples into its loop
    assert at - start.origin == target - 2 * RATE
    run(control, clock, 0.1)
    assert control.status()["section"] == "b"
