"""Hit points: a cue sheet compiled to the command history the conductor plays.

(first version: cues only; hits follow)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptive.commands import Command
from adaptive.score.model import Score
from adaptive.timeline import Timeline


@dataclass(frozen=True)
class HitOutcome:
    """How one hit is met: the method used and the error of its event, in samples."""

    label: str
    at: int  # the hit's sample in film time
    event: int  # the sample its event sounds on
    method: str  # pickup | bend | stinger | rest
    tempo: float | None  # the bed's tempo (BPM) arriving at the hit
    note: str = ""

    @property
    def error(self) -> int:
        return self.event - self.at


@dataclass(frozen=True)
class CompiledSheet:
    history: list[tuple[int, Command]]  # (film sample, command), in time order
    hits: list[HitOutcome] = field(default_factory=list)


def compile_sheet(score: Score, timeline: Timeline, sample_rate: int) -> CompiledSheet:
    """The sheet's cues and hits as (film sample, command), film sample 0 = film time 0."""
    return CompiledSheet(sorted(timeline.at_samples(sample_rate), key=lambda item: item[0]))
