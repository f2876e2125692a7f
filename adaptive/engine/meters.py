"""Level meters per layer, measured in the graph (what the control surface shows).

Theory of operation
-------------------
Each layer of each voice slot already exists as one pyo object (its stem reader or patch
output, gain and performer override in its `mul`). A meter multiplies it by the slot's
envelope (so a fade-in or a fade-out is seen as it is heard), sums the slots of the same
`section.layer` and follows two envelopes of that sum, per channel:

- peak: `Follower2` (1 ms rise, 300 ms fall) on the signal: what a peak meter with a
  falling needle shows;
- RMS: `Follower` (a 5 Hz low-pass, about 32 ms) on the squared signal: the mean power.

Python reads the last value of each follower (`read`) whenever it asks (the web page's
status rate, about 25 times a second), never per block: nothing here runs in Python on
the audio thread. The per-slot products join their slot's activity group, so a silent
voice costs its meters nothing either; a stopped object outputs zeros, so the followers
decay to silence. Levels are before the master bus (rest, panic and master gain are not
in them): a layer's own level, as the performer's gain sets it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adaptive.engine.voice import VoiceSlot

PyoObject = Any

PEAK_RISE, PEAK_FALL = 0.001, 0.3  # seconds
RMS_FREQ = 5.0  # Hz
FLOOR_DB = -120.0


@dataclass(frozen=True)
class Level:
    """A layer's level now, in dBFS (FLOOR_DB for silence)."""

    peak_db: float
    rms_db: float


def to_db(amplitude: float) -> float:
    if not math.isfinite(amplitude) or amplitude <= 10 ** (FLOOR_DB / 20):
        return FLOOR_DB
    return round(20 * math.log10(amplitude), 2)


def level_of(peaks: list[float], powers: list[float]) -> Level:
    """Channels' follower values → one level: the highest peak, the mean power."""
    peak = max((abs(p) for p in peaks), default=0.0)
    power = sum(max(p, 0.0) for p in powers) / max(len(powers), 1)
    return Level(to_db(peak), to_db(math.sqrt(power)))


class LayerMeters:
    """A peak and an RMS follower per `section.layer` of an engine's voices."""

    def __init__(self, pyo: ModuleType, slots: dict[tuple[str, int], VoiceSlot]) -> None:
        self._kept: list[PyoObject] = []
        by_layer: dict[str, list[PyoObject]] = {}
        for (section, _), slot in slots.items():
            for layer, signal in slot.layers.items():
                product = signal * slot.envelope.signal
                slot.activity.objects.append(product)
                if not slot.activity.active:
                    product.stop()
                by_layer.setdefault(f"{section}.{layer}", []).append(product)
        self._followers: dict[str, tuple[PyoObject, PyoObject]] = {}
        for key, products in by_layer.items():
            mix = pyo.Mix(products, voices=2)
            power = mix * mix
            peak = pyo.Follower2(mix, risetime=PEAK_RISE, falltime=PEAK_FALL)
            rms = pyo.Follower(power, freq=RMS_FREQ)
            self._kept += [*products, mix, power]
            self._followers[key] = (peak, rms)

    def read(self) -> dict[str, Level]:
        """Every layer's level as the graph last computed it (any thread)."""
        return {key: level_of(list(peak.get(all=True)), list(rms.get(all=True)))
                for key, (peak, rms) in self._followers.items()}
