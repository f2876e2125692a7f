"""The chase: where the film is, from a video player's reports, and what the music must do.

Theory of operation
-------------------
A player reports film time several times a second, late (each report leaves after its
frame was shown, and waits in a socket) and quantised to frames. The chase keeps a *lock*:
the performance sample at which film time 0 would sound (``offset``), so that film time
``t`` sounds at ``offset + t * rate``. Each report while playing implies an offset
(arrival sample - reported time x rate); lateness only ever makes that later, so the
lock takes the earliest offset implied over the last `WINDOW_SECONDS` (an estimate, not a
follower of each report). Ardour's chase has the same shape: a lock window of 2 frames.

Decisions, for the controller to carry out:
- `Relocate` — play what the sheet implies at the film time under the lock: on play (from
  stop or pause), after a jump (a report off the lock by more than the lock window), and
  at the next bar when the lock has drifted by more than half a frame from the offset the
  music was placed with. Small drift moves only the lock (and with it the cues still to
  come), never the sound.
- `Halt` — fade to silence and hold: pause, stop, a seek in progress (the player says
  `seek`, until it plays again), or the loss of reports (after the freewheel time, with
  `on_loss = "pause"`).

Pure: samples in, decisions out; the controller owns time and sound.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

LockState = Literal["stopped", "waiting", "locked", "freewheel", "free"]

WINDOW_SECONDS = 2.0
"""Reports over which the earliest implied offset is the lock (lateness is never negative)."""

LOCKED_AFTER = 3
"""Consistent reports after which the lock is called locked (one is enough to play)."""


@dataclass(frozen=True)
class ChaseSettings:
    fps: float = 24.0
    lock_window_frames: float = 2.0
    freewheel_frames: float = 8.0
    on_loss: Literal["keep", "pause"] = "pause"
    fade: float = 0.02  # seconds: the entry fade of a relocation, and the pause fade
    film_offset: float = 0.0  # seconds added to every reported time (picture and sound delays)

    @property
    def frame(self) -> float:
        return 1.0 / self.fps


@dataclass(frozen=True)
class Relocate:
    """Play the sheet at the film time under the lock; `on_bar`: at the next bar."""

    why: str
    on_bar: bool = False


@dataclass(frozen=True)
class Halt:
    why: str


Decision = Relocate | Halt


class Chase:
    def __init__(self, settings: ChaseSettings, sample_rate: int) -> None:
        self.settings = settings
        self.rate = sample_rate
        self.state: LockState = "stopped"
        self.playing = False  # the music is sounding from the lock
        self.player_state: str | None = None  # play | pause | stop | seek, as last reported
        self.offset: float | None = None  # the lock: perf sample of film time 0
        self.placed: float | None = None  # the offset the sounding music was placed with
        self.film_time: float | None = None  # the last reported film time (after trim)
        self.last_report: int | None = None  # arrival sample of the last time report
        self.last_delta: float | None = None  # report - lock, seconds
        self.jumps = 0
        self.relocks = 0
        self.losses = 0
        self._offsets: deque[tuple[int, float]] = deque()
        self._consistent = 0
        self._previous_time: tuple[int, float] | None = None
        self._recentred = False
        self._free_start: tuple[int, float] | None = None  # (perf sample, film s) of a free run

    # --------------------------------------------------------------- the lock

    def film_at(self, sample: float) -> float | None:
        """Film seconds sounding at a performance sample, under the lock."""
        if self.offset is None:
            return None
        return (sample - self.offset) / self.rate

    def sample_of(self, film_seconds: float) -> float | None:
        """The performance sample at which film time sounds, under the lock."""
        return None if self.offset is None else self.offset + film_seconds * self.rate

    def run_free(self, film_seconds: float, at: int) -> Decision:
        """No player: run the sheet from a film time as if a perfect one played it."""
        self.offset = self.placed = at - film_seconds * self.rate
        self.state, self.playing, self.player_state = "free", True, None
        self._free_start = (at, film_seconds)
        return Relocate(f"running the sheet freely from {film_seconds:.3f} s")

    # ----------------------------------------------------------------- reports

    def report(self, time: float | None, state: str | None, arrival: int) -> list[Decision]:
        """A player's report (film seconds and/or state) arriving at a performance sample."""
        decisions: list[Decision] = []
        if state is not None and state != self.player_state:
            self.player_state = state
            if state in ("pause", "stop", "seek"):
                self._forget_lock()
                self.state = "waiting" if state == "seek" else "stopped"
                if self.playing:
                    self.playing = False
                    decisions.append(Halt(f"the player says {state}"))
            elif state == "play" and time is None and self.film_time is not None \
                    and self.last_report is not None and not self.playing:
                # play without a time: from where it paused, when that time comes
                self.state = "waiting"
        if time is None:
            return decisions
        film = time + self.settings.film_offset
        self.film_time = film
        implied = arrival - film * self.rate
        previous = self._previous_time
        self._previous_time = (arrival, film)
        self.last_report = arrival
        if self.player_state in ("pause", "stop", "seek"):
            return decisions
        if self.player_state is None and not self.playing and (
                previous is None or not _advancing(previous, (arrival, film), self.rate)):
            # a sender of times only: playing once the time moves on with the clock
            self.state = "waiting"
            return decisions
        if not self.playing:
            return [*decisions, *self._start(implied, arrival, "the player plays")]
        assert self.offset is not None
        delta = (implied - self.offset) / self.rate
        self.last_delta = -delta
        window = self.settings.lock_window_frames * self.settings.frame
        if self.player_state is None and previous is not None and \
                abs(film - previous[1]) < 1e-9 and delta > window:
            # a sender of times only whose time stands still: a pause
            self.playing = False
            self._forget_lock()
            self.state = "stopped"
            return [*decisions, Halt("the film time stands still")]
        if delta < -window / 2 or delta > window + self.settings.frame:
            # off the lock: the film jumped (forwards it reads early, backwards late)
            self.jumps += 1
            self._forget_lock()
            return [*decisions, *self._start(implied, arrival, f"the film jumped by "
                                             f"{-delta * 1000:+.0f} ms")]
        self._add(arrival, implied)
        if self.state == "freewheel":
            self.relocks += 1
        self._consistent += 1
        self.state = "locked" if self._consistent >= LOCKED_AFTER else "waiting"
        assert self.placed is not None and self.offset is not None
        drift = abs(self.offset - self.placed) / self.rate
        if drift > self.settings.frame / 2 and not self._recentred:
            self._recentred = True
            decisions.append(Relocate(f"the lock moved {drift * 1000:.1f} ms from the "
                                      "music: re-chasing on the bar", on_bar=True))
        return decisions

    def placed_at(self, offset: float) -> None:
        """The controller placed the music with this offset (after a `Relocate`)."""
        self.placed = offset
        self._recentred = False

    def tick(self, now: int) -> list[Decision]:
        """Loss of reports while playing: freewheel, then act as configured."""
        if not self.playing or self.state == "free" or self.last_report is None:
            return []
        silent = (now - self.last_report) / self.rate
        limit = self.settings.freewheel_frames * self.settings.frame
        if silent > limit and self.state != "freewheel":
            self.state = "freewheel"
            self.losses += 1
        if silent > 2 * limit and self.settings.on_loss == "pause":
            self.playing = False
            self._forget_lock()
            self.state = "waiting"
            return [Halt(f"no report from the player for {silent * 1000:.0f} ms")]
        return []

    # ---------------------------------------------------------------- helpers

    def _start(self, implied: float, arrival: int, why: str) -> list[Decision]:
        self._offsets.clear()
        self._add(arrival, implied)
        self._consistent = 1
        self.state = "waiting"
        self.playing = True
        self.placed = self.offset
        self._recentred = False
        return [Relocate(why)]

    def _add(self, arrival: int, implied: float) -> None:
        offsets = self._offsets
        offsets.append((arrival, implied))
        horizon = arrival - WINDOW_SECONDS * self.rate
        while offsets and offsets[0][0] < horizon:
            offsets.popleft()
        self.offset = min(offset for _, offset in offsets)

    def _forget_lock(self) -> None:
        self._offsets.clear()
        self._consistent = 0

    def status(self, now: int) -> dict[str, object]:
        age = None if self.last_report is None else (now - self.last_report) / self.rate
        film = self.film_at(now) if self.playing else self.film_time
        if self.state == "free" and self._free_start is not None and now < self._free_start[0]:
            film = self._free_start[1]  # not sounding yet: the run is at its start, not before
        return {"state": self.state, "film_time": film,
                "delta_ms": None if self.last_delta is None else round(
                    1000 * self.last_delta, 2),
                "report_age": None if age is None else round(age, 3),
                "jumps": self.jumps, "losses": self.losses, "relocks": self.relocks}


def _advancing(previous: tuple[int, float], current: tuple[int, float], rate: int) -> bool:
    elapsed = (current[0] - previous[0]) / rate
    moved = current[1] - previous[1]
    return elapsed > 0 and moved > 0 and math.isclose(moved, elapsed, rel_tol=0.5, abs_tol=0.1)
