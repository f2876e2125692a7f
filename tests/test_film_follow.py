"""The controller following a film: transport reports in, seeks, halts and events out.

The real controller, driver, conductor and chase; a `ManualClock` and a recording engine
stand in for the graph (the audio of a chase is the live tests' job), so every decision
is checked to the sample.
"""

from __future__ import annotations

import tomllib

from adaptive.actions import StartRest, StartVoice, StopVoice
from adaptive.chase import ChaseSettings
from adaptive.commands import Transport
from adaptive.hits import compile_sheet
from adaptive.live.clock import ManualClock
from adaptive.live.controller import Controller, Event
from adaptive.live.film import FilmFollower
from adaptive.score.model import Score
from adaptive.timeline import parse_timeline
from tests.live.conftest import STEM_SCORE
from tests.test_bus import BLOCK, RATE, RecordingEngine

SHEET = """
fps = "24"
start = "01:00:00:00"
[[cue]]
at = "01:00:00:00"
label = "1M1"
cmd = "params"
values = { tension = 0.2 }
[[cue]]
at = "01:00:10:00"
label = "1M2"
cmd = "section"
name = "b"
[[hit]]
at = "01:00:20:00"
label = "door"
stinger = "hit"
"""


def follow() -> tuple[Controller, RecordingEngine, ManualClock, list[Event]]:
    score = Score.model_validate(tomllib.loads(STEM_SCORE))
    engine = RecordingEngine()
    clock = ManualClock(RATE, BLOCK)
    control = Controller(score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    control.wall = lambda: clock.wall_at(clock.now())
    timeline = parse_timeline(tomllib.loads(SHEET), "sheet.toml")
    sheet = compile_sheet(score, timeline, RATE)
    control.attach_film(FilmFollower(timeline, sheet, ChaseSettings(fps=24.0), RATE), None)
    events: list[Event] = []
    control.bus.publish = events.append  # type: ignore[method-assign]
    control.tick()
    return control, engine, clock, events


def run(control: Controller, clock: ManualClock, seconds: float, report: float | None = None,
        state: str = "play") -> None:
    """Blocks and ticks; with `report`, the player reports film time every frame."""
    frame = RATE / 24
    next_report = clock.now()
    for _ in range(round(seconds * RATE / BLOCK)):
        clock.advance(BLOCK)
        if report is not None and clock.now() >= next_report:
            film = report + (clock.now() - start_of_run[0]) / RATE
            control.submit(Transport(time=film, state=state))  # type: ignore[arg-type]
            next_report += frame
        control.tick()


start_of_run = [0]


def play_from(control: Controller, clock: ManualClock, film: float, seconds: float) -> None:
    start_of_run[0] = clock.now()
    control.submit(Transport(time=film, state="play"))
    run(control, clock, seconds, report=film)


def test_play_from_a_film_time_enters_where_the_sheet_is_there() -> None:
    control, engine, clock, _ = follow()
    run(control, clock, 0.5)
    assert control.status()["film"]["state"] == "stopped"
    engine.applied.clear()
    arrival = clock.now()
    play_from(control, clock, 12.0, 0.5)  # the film plays from 01:00:12:00: b since 10 s
    starts = [a for a in engine.applied if isinstance(a, StartVoice)]
    assert starts, engine.applied
    entry = starts[0]
    assert entry.section == "b"
    # within one video frame of the report (the safety margin is 2 blocks)
    assert entry.at - arrival <= RATE / 24
    # at the entry sample the film is at 12 s + the time since the report: b started at 10 s
    film_at_entry = 12.0 + (entry.at - arrival) / RATE
    assert abs((entry.at - entry.origin) / RATE - (film_at_entry - 10.0)) < 1 / RATE
    status = control.status()["film"]
    assert status["state"] == "locked"
    assert status["cue"] == "1M2" and status["timecode"].startswith("01:00:12:")
    assert status["next_hit"]["label"] == "door"


def test_pause_halts_within_a_frame_and_play_resumes_in_place() -> None:
    control, engine, clock, _ = follow()
    play_from(control, clock, 5.0, 1.0)
    engine.applied.clear()
    paused_at = clock.now()
    control.submit(Transport(time=6.0, state="pause"))
    halts = [a for a in engine.applied if isinstance(a, StartRest) and a.stop]
    stops = [a for a in engine.applied if isinstance(a, StopVoice)]
    assert halts and stops
    assert halts[0].at - paused_at <= RATE / 24 and halts[0].release == round(0.02 * RATE)
    run(control, clock, 1.0)
    assert control.status()["film"]["state"] == "stopped"
    engine.applied.clear()
    play_from(control, clock, 6.0, 0.2)
    (start,) = [a for a in engine.applied if isinstance(a, StartVoice)]
    assert start.section == "a" and start.fade_in == round(0.02 * RATE)


def test_cue_hit_and_warning_events_carry_their_film_samples() -> None:
    control, _, clock, events = follow()
    arrival = clock.now()
    play_from(control, clock, 9.0, 12.0)  # through 1M2 at 10 s, the warning at 17, the hit at 20
    film = {e.kind: e for e in events if e.kind in ("cue", "hit", "warning", "lock")}
    assert set(film) == {"cue", "hit", "warning", "lock"}
    offset = control.film.chase.offset  # type: ignore[union-attr]
    assert offset is not None
    assert abs(offset - (arrival - 9.0 * RATE)) < RATE / 24  # the lock: within a frame
    assert film["cue"].args == ("1M2",)
    assert abs(film["cue"].sample - (offset + 10.0 * RATE)) <= 1
    assert film["warning"].args == ("door", 3.0)
    assert abs(film["hit"].sample - (offset + 20.0 * RATE)) <= 1
    stinger = [e for e in events if e.kind == "stinger"]
    assert stinger and abs(stinger[0].sample - (offset + 20.0 * RATE)) <= 1


def test_loss_of_reports_freewheels_then_pauses() -> None:
    control, engine, clock, events = follow()
    play_from(control, clock, 3.0, 1.0)
    engine.applied.clear()
    run(control, clock, 8 / 24 + 0.05)  # no reports: past the freewheel time
    assert control.status()["film"]["state"] == "freewheel"
    assert not any(isinstance(a, StartRest) for a in engine.applied)  # still rolling
    run(control, clock, 8 / 24 + 0.05)
    assert any(isinstance(a, StartRest) and a.stop for a in engine.applied)
    assert [e.args for e in events if e.kind == "lock"][-2:] == [("freewheel",), ("waiting",)]


def test_a_transport_report_without_a_sheet_is_counted_not_fatal() -> None:
    score = Score.model_validate(tomllib.loads(STEM_SCORE))
    clock = ManualClock(RATE, BLOCK)
    control = Controller(score, RecordingEngine(), RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    control.submit(Transport(time=1.0, state="play"))
    assert control.stats.snapshot().get("no_sheet") == 1


def test_a_rehearsal_runs_the_sheet_from_a_film_time_until_a_player_reports() -> None:
    """`serve --timeline SHEET --from 01:00:12:00` without a player: b (cued at 10 s) at
    its position 2 s in, the cues after it on their film samples; a report takes over."""
    score = Score.model_validate(tomllib.loads(STEM_SCORE))
    engine = RecordingEngine()
    clock = ManualClock(RATE, BLOCK)
    control = Controller(score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    control.wall = lambda: clock.wall_at(clock.now())
    timeline = parse_timeline(tomllib.loads(SHEET), "sheet.toml")
    follower = FilmFollower(timeline, compile_sheet(score, timeline, RATE),
                            ChaseSettings(fps=24.0), RATE)
    events: list[Event] = []
    control.bus.publish = events.append  # type: ignore[method-assign]
    started = clock.now()
    control.attach_film(follower, timeline.clock.seconds("01:00:12:00"))  # type: ignore[union-attr]
    run(control, clock, 9.0)
    (entry,) = [a for a in engine.applied if isinstance(a, StartVoice)]
    assert entry.section == "b" and entry.at - started <= RATE / 24
    # the rehearsal's film time starts on the entry sample: b is 2 s in there, exactly
    assert entry.at - entry.origin == 2 * RATE
    status = control.status()["film"]
    assert status["state"] == "free"
    assert status["timecode"].startswith("01:00:20:") or status["timecode"].startswith("01:00:21")
    hit = [e for e in events if e.kind == "hit"]
    offset = entry.at - 12 * RATE
    assert hit and abs(hit[0].sample - (offset + 20.0 * RATE)) <= 1  # 8 s after the start
    play_from(control, clock, 3.0, 0.5)  # a player reports: it takes over
    assert control.status()["film"]["state"] in ("waiting", "locked")
    assert [a for a in engine.applied if isinstance(a, StartVoice)][-1].section == "a"
