"""Musical time in samples: meters, tempo grids and their sync points.

Theory of operation: every voice (a section playing) has a grid anchored at its *origin*,
the sample where its position 0 lies. Beats and bars are ideal instants
``origin + k * samples_per_beat`` with a fractional sample count (97 BPM at 48 kHz is
29690.72... samples per beat). The audio graph compares a double-precision sample counter
against these instants, so an event sounds on the first sample at or after its ideal
instant: `first_sample` is that rule, shared by the planner and the tests. Errors never
accumulate because every instant is computed from the origin, never from the previous one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Unit = Literal["immediate", "beat", "bar", "phrase", "end"]

_EPSILON = 1e-6  # absorbs float noise such as 1000.0000000001 → 1000, far below one sample


def first_sample(instant: float) -> int:
    """The first whole sample at or after an ideal (fractional) instant."""
    return math.ceil(instant - _EPSILON)


@dataclass(frozen=True)
class Meter:
    beats_per_bar: int
    beat_unit: int

    @classmethod
    def parse(cls, text: str) -> Meter:
        try:
            top, bottom = (int(part) for part in text.split("/"))
        except ValueError as error:
            raise ValueError(f"meter {text!r} is not 'beats/unit', e.g. '4/4' or '6/8'") from error
        if top < 1 or top > 32 or bottom not in (1, 2, 4, 8, 16, 32):
            raise ValueError(f"meter {text!r}: beats 1-32 over a unit of 1, 2, 4, 8, 16 or 32")
        return cls(top, bottom)

    @property
    def quarters_per_beat(self) -> float:
        return 4.0 / self.beat_unit


@dataclass(frozen=True)
class Grid:
    """The beat and bar grid of one voice; tempo counts quarter notes per minute."""

    sample_rate: int
    tempo: float
    meter: Meter
    origin: float = 0.0

    @property
    def samples_per_beat(self) -> float:
        return self.sample_rate * 60.0 / self.tempo * self.meter.quarters_per_beat

    @property
    def samples_per_bar(self) -> float:
        return self.samples_per_beat * self.meter.beats_per_bar

    def beats_at(self, sample: float) -> float:
        """Position in beats since the origin (negative before it)."""
        return (sample - self.origin) / self.samples_per_beat

    def instant_of_beat(self, beat: float) -> float:
        return self.origin + beat * self.samples_per_beat

    def next_instant(self, after: float, unit: Unit, phrase_bars: int = 4,
                     section_bars: int | None = None) -> float:
        """The first sync point at or after `after` (an ideal instant, in samples)."""
        if unit == "immediate":
            return after
        if unit == "beat":
            step = self.samples_per_beat
        elif unit == "bar":
            step = self.samples_per_bar
        elif unit == "phrase":
            step = self.samples_per_bar * phrase_bars
        else:
            step = self.samples_per_bar * (section_bars or 1)
        index = math.ceil((after - self.origin) / step - _EPSILON)
        return self.origin + max(index, 0) * step

    def bar_and_beat(self, sample: float, section_bars: int | None = None) -> tuple[int, int]:
        """1-based (bar, beat) at a sample, bars wrapped to the section length if given."""
        beats = math.floor(self.beats_at(sample) + _EPSILON)
        bar, beat = divmod(beats, self.meter.beats_per_bar)
        if section_bars:
            bar %= section_bars
        return bar + 1, beat + 1
