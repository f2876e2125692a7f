"""Following a film: a cue sheet, the chase of a player's reports, and film-time events.

Theory of operation
-------------------
The sheet is compiled once (`hits.compile_sheet`) into a history of commands in film
samples. The chase (`chase.Chase`) turns the player's reports into a lock (the performance
sample of film time 0) and decisions; this module carries them out through the
controller: a relocation seeks the driver so that the music at a performance sample is
what the sheet implies at the film time sounding there (`Driver.seek`, with the entry
fade), a halt fades everything and holds (`Driver.halt`). Cues, hits and the warnings
before hits go to subscribers ahead of time, with the sample they sound on under the lock.
Everything here runs under the controller's lock (`FilmFollower` is called by it).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adaptive.chase import Chase, ChaseSettings, Decision, Halt, Nudge, Relocate
from adaptive.commands import Transport
from adaptive.hits import CompiledSheet
from adaptive.musical_time import first_sample
from adaptive.runtime.state import replay
from adaptive.timeline import Timeline

if TYPE_CHECKING:
    from adaptive.live.controller import Controller

log = logging.getLogger("adaptive.film")

WARNING_SECONDS = 3.0
"""Subscribers hear of each hit this long before it (a conductor's streamer)."""


@dataclass(frozen=True)
class FilmMark:
    """A moment of the sheet subscribers hear about: a cue, a hit, a warning."""

    film: float  # seconds
    kind: str  # cue | hit | warning
    args: tuple[Any, ...]


class FilmFollower:
    def __init__(self, timeline: Timeline, sheet: CompiledSheet, settings: ChaseSettings,
                 sample_rate: int, warning: float = WARNING_SECONDS,
                 source: str = "sheet") -> None:
        self.timeline = timeline
        self.sheet = sheet
        self.chase = Chase(settings, sample_rate)
        self.rate = sample_rate
        self.source = source
        marks = [FilmMark(cue.at, "cue", (cue.label,)) for cue in timeline.cues if cue.label]
        for hit in timeline.hits:
            marks.append(FilmMark(hit.at, "hit", (hit.label,)))
            if hit.at - warning >= 0:
                marks.append(FilmMark(hit.at - warning, "warning", (hit.label, warning)))
        self.marks = sorted(marks, key=lambda mark: mark.film)
        self._announced = -math.inf  # film seconds announced up to
        self.last_lock: str = self.chase.state

    # ------------------------------------------------------------ decisions

    def report(self, controller: Controller, command: Transport, arrival: int) -> None:
        time = command.time
        if time is None and command.timecode is not None:
            clock = self.timeline.clock
            if clock is None:
                controller.stats.count("bad_transport", "a timecode from the player, but the "
                                       "sheet has no fps; fix: add fps to the sheet")
                return
            try:
                time = clock.seconds(command.timecode)
            except ValueError as error:
                controller.stats.count("bad_transport", f"timecode {command.timecode!r}: "
                                       f"{error}")
                return
        self._carry_out(controller, self.chase.report(time, command.state, arrival))

    def tick(self, controller: Controller, now: int, until: int) -> None:
        self._carry_out(controller, self.chase.tick(now))
        self._announce(controller, now, until)

    def warm_up(self, controller: Controller) -> None:
        """A dry replay of the whole sheet (no sound): the first relocation then runs warm,
        and its duration says how far ahead a relocation must be placed."""
        end = max((at for at, _ in self.sheet.history), default=0) + 1
        replay(controller.score, self.sheet.history, end, self.rate).state(end - 1)

    def run_free(self, controller: Controller, film_seconds: float) -> None:
        at = controller.now() + controller.safety_samples()
        self._carry_out(controller, [self.chase.run_free(film_seconds, at)])

    def _carry_out(self, controller: Controller, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Halt):
                at = controller.halt_music(self.chase.settings.fade, decision.why)
                log.info("film: halt at sample %d, why: %s", at, decision.why)
            elif isinstance(decision, Relocate):
                self._relocate(controller, decision)
            elif isinstance(decision, Nudge):
                at = controller.nudge_music(decision.samples, decision.length, decision.why)
                self.chase.nudged(at, decision.samples, decision.length)
                log.info("film: %s, from sample %d", decision.why, at)
        if self.chase.state != self.last_lock:
            self.last_lock = self.chase.state
            controller.emit_event("lock", (self.chase.state,), controller.now(),
                                  f"lock {self.chase.state}")

    def _relocate(self, controller: Controller, decision: Relocate) -> None:
        chase = self.chase
        at = controller.now() + controller.safety_samples()
        if decision.on_bar:
            at = controller.next_bar(at)
        offset = chase.offset
        assert offset is not None
        target = round(at - offset)
        if target < 0:
            # before film time 0: the score's initial state, placed as if the film had run
            target = 0
            at = max(at, math.ceil(offset))
        controller.seek_music(self.sheet.history, target, at, chase.settings.fade, self.source)
        chase.placed_at(at - target)
        self._announced = (at - offset) / self.rate
        log.info("film: %s — the music is at film %s from sample %d", decision.why,
                 self.timeline.timecode(target / self.rate), at)

    # --------------------------------------------------------------- events

    def _announce(self, controller: Controller, now: int, until: int) -> None:
        chase = self.chase
        if not chase.playing or chase.offset is None:
            return
        end = (until - chase.offset) / self.rate
        start = max(self._announced, (now - chase.offset) / self.rate)
        for mark in self.marks:
            if start <= mark.film < end:
                sample = first_sample(chase.offset + mark.film * self.rate)
                controller.emit_event(mark.kind, mark.args, sample,
                                      f"{mark.kind} {' '.join(str(a) for a in mark.args)} at "
                                      f"{self.timeline.timecode(mark.film)}")
        self._announced = max(self._announced, end)

    # --------------------------------------------------------------- status

    def status(self, now: int) -> dict[str, Any]:
        chase = self.chase
        status = chase.status(now)
        film = status["film_time"]
        next_hit = None
        if isinstance(film, float):
            for outcome in self.sheet.hits:
                if outcome.at / self.rate >= film:
                    next_hit = {"label": outcome.label,
                                "in": round(outcome.at / self.rate - film, 3),
                                "error_ms": outcome.error_ms(self.rate), "method": outcome.method}
                    break
        return {**status,
                "timecode": self.timeline.timecode(film) if isinstance(film, float) else None,
                "cue": self.timeline.label_at(film) if isinstance(film, float) else None,
                "next_hit": next_hit}
