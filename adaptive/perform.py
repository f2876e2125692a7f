"""Performer controls as pure state: what is armed, the GO lockout, and a vamp's steps.

Theory of operation
-------------------
`/arm` stores one move (a command) without doing it; `/disarm` forgets it; `/go` hands it
to the conductor, which plans it like any other command, on its sync point. A GO within
`lockout` samples of the last GO that fired is ignored and counted: a double press on a
pad or a bouncing key never fires twice. Time is the sample at which the GO takes effect
(the performance's clock, never the wall's), so an offline render counts exactly what a
live show would.

A vamp holds the music by moving a voice's read position back by the vamped bars at every
repeat: a step of the voice's position offset (the one tempo bends use, `BendVoices`) on the
first sample of each repeat. Every stem and patch of the voice follows that one position,
so the repeats stay on the grid; a stem repeats sample for sample when the bars are a whole
number of samples long (else on the nearest sample of the ideal grid). `VampSteps` computes
the steps; the conductor plans them one at a time as the music reaches them. Pure: no
audio, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from adaptive.commands import Arm
from adaptive.errors import CommandError
from adaptive.musical_time import first_sample
from adaptive.ramps import Ramp

GO_LOCKOUT_SECONDS = 0.5
"""A second GO sooner than this after the last one that fired is ignored (QLab's habit)."""


@dataclass
class Arming:
    """The move armed, and the GO lockout (in samples of the performance)."""

    lockout: int
    armed: Arm | None = None
    last_go: int | None = None
    """The sample of the last GO that fired."""
    ignored: int = 0
    """GOs ignored by the lockout."""

    @classmethod
    def seconds(cls, lockout: float, sample_rate: int) -> Arming:
        return cls(max(0, round(lockout * sample_rate)))

    def arm(self, command: Arm) -> None:
        """A newer arm replaces the one before: one move is prepared at a time."""
        self.armed = command

    def disarm(self) -> Arm | None:
        """Forget what is armed (and return it)."""
        armed, self.armed = self.armed, None
        return armed

    def go(self, at: int) -> Arm | None:
        """The move a GO at sample `at` fires (and disarms); None when the lockout ignores
        the GO (counted). Raises CommandError when nothing is armed."""
        if self.last_go is not None and 0 <= at - self.last_go < self.lockout:
            self.ignored += 1
            return None
        if self.armed is None:
            raise CommandError("GO with nothing armed; fix: /arm a move first")
        self.last_go = at
        return self.disarm()


@dataclass
class VampSteps:
    """The repeats of one vamp: from the ideal instant `first` (a bar line), every
    `length` samples the voice's position offset drops by `length`, from `base`."""

    key: tuple[str, int]
    first: float
    length: float
    bars: int
    base: float = 0.0
    next_index: int = 0
    """The step planned next (0: the first repeat)."""
    shifted: float = 0.0
    """How far the bed's grid has been moved for the repeats so far (a looping bed's grid
    follows each repeat, so phrases and `same_position` count the bars heard)."""

    def at(self, index: int) -> int:
        """The first sample of repeat `index`."""
        return first_sample(self.first + index * self.length)

    def step(self, index: int) -> Ramp:
        """The offset's hard step (one sample long) on the first sample of repeat `index`."""
        before = self.base - index * self.length
        return Ramp(self.at(index), 1, before, before - self.length)

    def rebase(self, offset: float) -> None:
        """The voice restarted with `offset` folded into its origin (a seek): from now on
        its offset counts from zero."""
        self.base -= offset
