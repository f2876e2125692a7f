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
  music was placed with.
- `Nudge` — small drift (the player's clock and the sound card's are never quite the
  same: tens of ppm, half a frame in minutes): with `varispeed` set, once the lock is
  `NUDGE_SECONDS` or more from the music (and less than half a frame), the music is moved
  onto it by a short change of speed, at most `varispeed` (0.1 %: 1.7 cents, below what
  an ear hears), as a DAW's chase resamples to follow timecode. The controller nudges the
  graph's counter (`SampleCounter.nudge`); reports arriving while the nudge runs are read
  as if it were done. Without `varispeed`, small drift moves only the lock (and with it
  the cues still to come) until it re-chases.
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

NUDGE_SECONDS = 0.002
"""Drift from which the music is nudged onto the lock: a twentieth of a frame at 24 fps."""

NUDGE_WINDOW_SECONDS = 4.0
"""Nudges follow the earliest offset of a longer window than the lock's: the earliest of
2 s of reports jitters by milliseconds (a report leaves 0 to 1 frame late, so one in ten
2-s windows has none within 2 ms of the truth), and the music's speed must not follow
that. Over 4 s, a drift of 500 ppm biases it by at most 2 ms."""


@dataclass(frozen=True)
class ChaseSettings:
    fps: float = 24.0
    lock_window_frames: float = 2.0
    freewheel_frames: float = 8.0
    on_loss: Literal["keep", "pause"] = "pause"
    fade: float = 0.02  # seconds: the entry fade of a relocation, and the pause fade
    film_offset: float = 0.0  # seconds added to every reported time (picture and sound delays)
    varispeed: float = 0.0  # the largest change of speed a nudge may make (0: never nudge)

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


@dataclass(frozen=True)
class Nudge:
    """Move the music by `samples` (positive: ahead) over `length` samples of a slightly
    changed speed; the controller then calls `Chase.nudged` with where it placed it."""

    samples: int
    length: int
    why: str


Decision = Relocate | Halt | Nudge


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
        self._nudge: tuple[float, int, int] | None = None  # (start, length, samples) running
        self._nudge_pending = False  # decided, not yet placed by the controller
        self._slow: deque[tuple[int, float]] = deque()  # the nudges' window of offsets
        self._trend: tuple[float, int] | None = None  # (since, samples nudged since then)
        self.nudges = 0

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
        implied = arrival - film * self.rate + self._nudge_left(arrival)
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
        elif (nudge := self._nudge_due(arrival)) is not None:
            decisions.append(nudge)
        return decisions

    def _nudge_due(self, arrival: int) -> Nudge | None:
        """A nudge onto the slow lock, when varispeed is on, the lock has held for the
        nudges' window, nothing else moves the music, and it is `NUDGE_SECONDS` off."""
        if self.settings.varispeed <= 0 or self.state != "locked" or not self._slow \
                or self._recentred or self._nudge_pending or self._nudge_left(arrival) != 0.0 \
                or arrival - self._slow[0][0] < 0.9 * NUDGE_WINDOW_SECONDS * self.rate:
            return None
        assert self.placed is not None
        when, earliest = min(self._slow, key=lambda report: report[1])
        # a steady drift goes on while the nudge runs, and the earliest report may be
        # seconds old: aim where the lock will be when the nudge is done
        trend = self._trend_rate(arrival)
        off = self.placed - earliest + trend * (arrival - when)
        length = math.ceil(abs(off) / self.settings.varispeed)
        samples = round(off + trend * length)
        if abs(samples) < NUDGE_SECONDS * self.rate:
            return None
        length = math.ceil(abs(samples) / self.settings.varispeed)
        self._nudge_pending = True
        return Nudge(samples, length, f"the music is {1000 * abs(samples) / self.rate:.1f} ms "
                     f"{'ahead of' if samples < 0 else 'behind'} the picture: "
                     f"{'slowing' if samples < 0 else 'speeding'} it by "
                     f"{100 * abs(samples) / length:.2f} % for {length / self.rate:.1f} s")

    def nudged(self, start: float, samples: int, length: int) -> None:
        """The controller nudged the music by `samples` from perf sample `start` (see
        `Nudge`): the lock, measured in the nudged counter, moves with it at once."""
        self._nudge_pending = False
        self._nudge = (start, length, samples)
        self.nudges += 1
        if self._trend is None:  # the first nudge also settles the first lock: not drift
            self._trend = (start + length + samples, 0)
        else:
            self._trend = (self._trend[0], self._trend[1] + samples)
        self._offsets = deque((arrival, offset + samples) for arrival, offset in self._offsets)
        self._slow = deque((arrival, offset + samples) for arrival, offset in self._slow)
        if self.offset is not None:
            self.offset += samples

    def _trend_rate(self, arrival: int) -> float:
        """The drift the nudges have been following, in samples per sample: what they
        moved since the first one ended, over the time since (0 until that is two
        windows long)."""
        if self._trend is None or arrival - self._trend[0] < 2 * NUDGE_WINDOW_SECONDS * self.rate:
            return 0.0
        return self._trend[1] / (arrival - self._trend[0])

    def _nudge_left(self, arrival: float) -> float:
        """What the running nudge has still to move the counter at `arrival`: a report
        measured then reads that much short of the finished nudge."""
        if self._nudge is None:
            return 0.0
        start, length, samples = self._nudge
        progress = (arrival - start) / (length + samples)  # the counter runs at the nudge's speed
        if progress >= 1.0:
            self._nudge = None
            return 0.0
        return samples * (1.0 - max(0.0, progress))

    def placed_at(self, offset: float) -> None:
        """The controller placed the music with this offset (after a `Relocate`)."""
        self.placed = offset
        self._recentred = False
        self._nudge_pending = False

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
        self._slow.clear()
        self._trend = None
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
        if self.settings.varispeed > 0:
            slow = self._slow
            slow.append((arrival, implied))
            horizon = arrival - NUDGE_WINDOW_SECONDS * self.rate
            while slow and slow[0][0] < horizon:
                slow.popleft()

    def _forget_lock(self) -> None:
        self._offsets.clear()
        self._slow.clear()
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
                "jumps": self.jumps, "losses": self.losses, "relocks": self.relocks,
                "nudges": self.nudges}


def _advancing(previous: tuple[int, float], current: tuple[int, float], rate: int) -> bool:
    elapsed = (current[0] - previous[0]) / rate
    moved = current[1] - previous[1]
    return elapsed > 0 and moved > 0 and math.isclose(moved, elapsed, rel_tol=0.5, abs_tol=0.1)
