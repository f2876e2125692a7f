"""The master bus: bed → rests → ducking → stingers → hold → limiter → DC filter → panic →
ceiling.

The limiter has no lookahead on purpose: lookahead delays every control change by its
length, and the live path is budgeted at one audio period. A fast peak follower lowers the
gain above the threshold and a final clip guarantees the output never reaches 0 dBFS.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from adaptive.curves import db_to_amplitude
from adaptive.engine.graph import SHAPE_POINTS, FadeShapes, Ramp, SampleCounter, pointer_index

PyoObject = Any

LIMIT_THRESHOLD = db_to_amplitude(-1.0)
CEILING = db_to_amplitude(-0.1)
DC_CUTOFF_HZ = 8.0


class RestGate:
    """Silence as punctuation: the bed fades out over the release and re-enters on cue.

    gain = shape((1 - out) + out * in), where `out` ramps over the release from the rest's
    start and `in` ramps over the re-entry fade: 1 before the rest, the release curve
    during it, 0 until re-entry, and continuous if a re-entry interrupts the release.
    """

    def __init__(self, pyo: ModuleType, counter: SampleCounter, shapes: FadeShapes) -> None:
        self.release = Ramp(pyo, counter)
        self.reentry = Ramp(pyo, counter)
        self._reentry_at: int | None = None  # the planned re-entry after the last rest
        progress = (1.0 - self.release.signal) + self.release.signal * self.reentry.signal
        self.signal: PyoObject = pyo.Pointer(shapes.tables["s_curve"],
                                             pointer_index(pyo, progress, SHAPE_POINTS))

    def rest(self, at: int, release: int) -> None:
        self.reentry.reset()
        self._reentry_at = None
        self.release.set(at, release)

    def resume(self, at: int, fade_in: int) -> None:
        """Re-enter from `at`, unless a re-entry after the last rest already comes sooner.

        There is one re-entry ramp: a later resume must not move a sooner one (a film
        relocation resumes at once and, in the same breath, a re-chase on the next bar
        resumes there; moving the ramp kept the music silent until that bar, measured
        with a real mpv)."""
        if self._reentry_at is not None and self._reentry_at <= at:
            return
        self.reentry.set(at, fade_in)
        self._reentry_at = at


class MasterBus:
    def __init__(self, pyo: ModuleType, counter: SampleCounter, shapes: FadeShapes,
                 bed: list[PyoObject], ducks: list[PyoObject], stingers: list[PyoObject],
                 gain_db: float) -> None:
        self.rest = RestGate(pyo, counter, shapes)
        self.hold = RestGate(pyo, counter, shapes)
        """A transport stop or pause: everything, stingers and tails too, to silence."""
        self.panic = RestGate(pyo, counter, shapes)
        """A performer's panic: like `hold`, but last in the chain, and only a resume
        opens it (a film's relocation, which opens `hold`, does not)."""
        bed_mix = pyo.Mix(bed, voices=2) if bed else pyo.Sig([0.0, 0.0])
        ducked = bed_mix * self.rest.signal
        for duck in ducks:
            ducked = ducked * duck
        mixed = (ducked + pyo.Mix(stingers, voices=2)) if stingers else ducked
        gained = mixed * self.hold.signal * db_to_amplitude(gain_db)
        peak = pyo.Max(pyo.Follower2(pyo.Abs(gained[0]), risetime=0.0002, falltime=0.08),
                       pyo.Follower2(pyo.Abs(gained[1]), risetime=0.0002, falltime=0.08))
        reduction = pyo.Div(LIMIT_THRESHOLD, pyo.Max(peak, LIMIT_THRESHOLD))
        # the DC filter follows the limiter: gain riding on an asymmetric waveform makes DC
        filtered = pyo.ButHP(gained * reduction, freq=DC_CUTOFF_HZ)
        # the panic gate is last: after it nothing rings (the DC filter's own tail after
        # a 3 ms fade measured -80 dBFS), so a panic is digital silence
        self.output: PyoObject = pyo.Clip(filtered * self.panic.signal, -CEILING, CEILING)
