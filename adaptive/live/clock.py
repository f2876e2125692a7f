"""The live controller's clock, injected: the graph's sample counter and its wall mapping.

`Controller` asks a `Clock` for the sample the graph computes next and for the mapping
between samples and wall-clock time (timetags in, event times out). Live it is an
`AudioClock` over the graph's counter; a test (or a replay) passes a `ManualClock` and
moves it by hand, so the whole control path runs without audio, sockets or a wall clock.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class Counter(Protocol):
    """The graph's sample counter (`engine.graph.SampleCounter`)."""

    def now(self) -> float: ...


@runtime_checkable
class NudgedCounter(Counter, Protocol):
    """A counter that varispeed may nudge (`SampleCounter`): the device's clock maps wall
    time to its raw count, and the count to the music's time."""

    def raw_now(self) -> float: ...

    def to_music(self, raw: float) -> float: ...

    def to_raw(self, music: float) -> float: ...


class Clock(Protocol):
    stamps: int

    def now(self) -> int:
        """The first sample of the block the graph will compute next."""

    def stamp(self) -> None:
        """Called by the audio thread at the start of a block."""

    def update(self) -> None:
        """Refresh the wall mapping from the stamps (called by the ticker)."""

    def sample_at(self, wall: float) -> int:
        """The sample that sounds at a wall-clock time."""

    def wall_at(self, sample: int) -> float:
        """The wall-clock time at which a sample sounds."""


class AudioClock:
    """Maps audio samples to wall-clock time (for timetags in and event times out).

    The audio thread stamps the start of blocks (`stamp`, from pyo's per-block callback,
    switched on for a few blocks every few seconds: see `session.ClockSampling`). The offset
    between the two clocks is the median over the last stamps: robust to the odd late
    wake-up, and it follows slow drift.

    An xrun is not drift: the audio device played on through periods the graph never
    computed, so every later sample sounds a period (or more) later than the old mapping
    says. The median of 256 stamps taken 32 at a time would follow that step only after 8
    windows (16 s), with every timetag and event time a period off meanwhile (seen: a
    timetagged onset 250 samples early). So `update` looks at the stamps taken since the
    last one: when they agree among themselves (three in four within a quarter block of
    their median) on an offset more than half a block away, the mapping steps there at
    once and the older stamps are dropped (`steps` counts it).

    A nudge (varispeed, `SampleCounter.nudge`) is not a step either: the device plays on
    at its own rate while the music's count runs a little faster or slower. So the stamps
    map wall time to the counter's *raw* count, and the nudge maps that to the music's
    (seen before: a mapping of the nudged count lagged each nudge by seconds, and the
    chase, reading the player's reports through it, nudged again and overshot).
    """

    STEP_STAMPS = 16
    """Fresh stamps needed to judge a step (a sampling window brings 32)."""

    def __init__(self, sample_rate: int, counter: Counter | None = None, window: int = 256,
                 wall: Callable[[], float] = time.time, block: int = 256) -> None:
        self.sample_rate = sample_rate
        self.counter = counter
        self._wall = wall
        self._offsets: deque[float] = deque(maxlen=window)
        self._fresh = 0  # stamps since the last update that judged a step
        self._step = block / 2 / sample_rate
        self.offset: float | None = None  # wall time of sample 0
        self.stamps = 0
        self.steps = 0
        self._nudged = counter if isinstance(counter, NudgedCounter) else None

    def now(self) -> int:
        assert self.counter is not None, "an AudioClock without a counter only maps time"
        return int(self.counter.now()) + 1

    def _raw_now(self) -> int:
        return self.now() if self._nudged is None else int(self._nudged.raw_now()) + 1

    def _music(self, raw: float) -> float:
        return raw if self._nudged is None else self._nudged.to_music(raw)

    def _raw(self, music: float) -> float:
        return music if self._nudged is None else self._nudged.to_raw(music)

    def stamp(self) -> None:
        self.stamp_at(self._raw_now(), self._wall())

    def stamp_at(self, sample: int, wall: float) -> None:
        self._offsets.append(wall - sample / self.sample_rate)
        self.stamps += 1
        self._fresh += 1

    def update(self) -> None:
        if not self._offsets:
            return
        if self.offset is not None and self._fresh >= self.STEP_STAMPS:
            fresh = list(self._offsets)[-min(self._fresh, len(self._offsets)):]
            centre = statistics.median(fresh)
            agreeing = sum(abs(value - centre) <= self._step / 2 for value in fresh)
            if abs(centre - self.offset) > self._step and agreeing >= 0.75 * len(fresh):
                self._offsets.clear()
                self._offsets.extend(fresh)
                self.steps += 1
        if self._fresh >= self.STEP_STAMPS:
            self._fresh = 0
        self.offset = float(statistics.median(self._offsets))

    def sample_at(self, wall: float) -> int:
        return round(self._music((wall - self._offset()) * self.sample_rate))

    def wall_at(self, sample: int) -> float:
        return self._offset() + self._raw(sample) / self.sample_rate

    def _offset(self) -> float:
        """The mapping, before the first `update` too: from the stamps taken so far, or
        from the counter read now (a report arriving in the first second of a show is
        placed where it sounds, not at sample 0)."""
        if self.offset is not None:
            return self.offset
        if self._offsets:
            return float(statistics.median(self._offsets))
        if self.counter is not None:
            return self._wall() - self._raw_now() / self.sample_rate
        return self._wall()


class ManualClock:
    """A clock moved by hand: `advance(samples)`; wall time is `origin + sample / rate`."""

    def __init__(self, sample_rate: int, block: int, origin: float = 1_000_000.0) -> None:
        self.sample_rate = sample_rate
        self.block = block
        self.origin = origin
        self.sample = 0  # the first sample of the next block
        self.stamps = 0

    def now(self) -> int:
        return self.sample

    def advance(self, samples: int) -> None:
        self.sample += samples

    def stamp(self) -> None:
        self.stamps += 1

    def update(self) -> None:
        pass

    def sample_at(self, wall: float) -> int:
        return round((wall - self.origin) * self.sample_rate)

    def wall_at(self, sample: int) -> float:
        return self.origin + sample / self.sample_rate
