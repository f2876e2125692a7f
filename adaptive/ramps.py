"""Scheduled linear ramps: the one model of how a control value moves, in samples.

A parameter's smoothing, a performer's override and a seek's crossfade of parameters all
move a value linearly from where it is to a target over a fixed number of samples, starting
on an exact sample. The conductor plans these ramps, the graph computes them per sample
from the shared counter (`engine.graph.ScheduledValue`), and `state_at`, the trace and the
tests evaluate them here, so all of them agree to the sample.

The rule: a ramp starting at sample `start` over `length` samples has moved 1/length of
the way *on* `start` (so a ramp of length 1 is a hard step that sounds on `start`), and
holds its target from sample ``start + length - 1`` on. A new ramp replaces the previous
one from the value the previous one had just before it (`retarget`), as pyo's `SigTo`
does, so a value never jumps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

NEVER = 10**15
"""A sample no performance reaches (about 650 years at 48 kHz)."""


@dataclass(frozen=True)
class Ramp:
    """`start_value` → `target`, first changed sample `start`, complete after `length`."""

    start: int
    length: int
    start_value: float
    target: float

    @classmethod
    def constant(cls, value: float) -> Ramp:
        return cls(-NEVER, 1, value, value)

    def value_at(self, sample: float) -> float:
        progress = (sample - self.start + 1) / self.length
        if progress <= 0.0:
            return self.start_value
        if progress >= 1.0:
            return self.target
        return self.start_value + (self.target - self.start_value) * progress

    @property
    def end(self) -> int:
        """The first sample at which the target holds."""
        return self.start + self.length - 1

    def retarget(self, at: int, target: float, length: int) -> Ramp:
        """The ramp that takes over at `at`, from the value this one had just before."""
        return Ramp(at, max(1, length), self.value_at(at - 1), target)

    def mapped(self, transform: Callable[[float], float]) -> Ramp:
        """The same ramp on another (linear) scale, e.g. normalised to [0, 1]."""
        return Ramp(self.start, self.length, transform(self.start_value),
                    transform(self.target))
