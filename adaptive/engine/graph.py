"""Building blocks of the audio graph shared by voices, stingers and the master bus.

Everything that must land on a sample is computed per sample from `SampleCounter`, a
double-precision count of samples since the engine started (exact for 2^53 samples).
Python only ever changes *when* things happen (a `Sig` holding a start sample, set ahead of
time); the comparison against the counter happens inside the graph, so an event sounds on
its exact sample whatever the block size, offline or live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from adaptive import ramps
from adaptive.curves import curve_values, fade_shape, gain_curve_amplitudes
from adaptive.engine.capture import shared_objects
from adaptive.score.model import Parameter

PyoObject = Any

NEVER = 1e15
"""A sample the counter never reaches (about 650 years at 48 kHz)."""

SHAPE_POINTS = 4097
CURVE_POINTS = 1025


def table_from_array(pyo: ModuleType, data: npt.NDArray[np.float64]) -> PyoObject:
    """A pyo table filled straight from a (frames,) or (frames, channels) array.

    Writing through the table's buffer is a memory copy; pyo's own loaders and list
    initialisers cost seconds per minute of stereo audio.
    """
    frames = data.shape[0]
    channels = 1 if data.ndim == 1 else data.shape[1]
    table = pyo.DataTable(size=frames, chnls=channels)
    for channel in range(channels):
        column = data if data.ndim == 1 else data[:, channel]
        np.frombuffer(table.getBuffer(channel), dtype=np.float64)[:] = column
    return table


def pointer_index(pyo: ModuleType, progress: PyoObject, points: int) -> PyoObject:
    """Scale progress in [0, 1] so pyo's periodic `Pointer` reads the last point at 1."""
    return progress * ((points - 1) / points)


class SampleCounter:
    """The one clock of the graph: the sample index since `start()`."""

    def __init__(self, pyo: ModuleType) -> None:
        self._trigger = pyo.Trig().stop()
        self.signal: PyoObject = pyo.Count(self._trigger)
        # read on every message and tick: the C stream directly, not pyo's checked get()
        self._stream = self.signal._base_objs[0]._getStream()

    def start(self) -> None:
        """Sample 0 is the first sample of the next processed block."""
        self._trigger.play()

    def now(self) -> float:
        return float(self._stream.getValue())


class FadeShapes:
    """Lookup tables of the fade curves, read at audio rate by envelopes."""

    def __init__(self, pyo: ModuleType) -> None:
        self.tables: dict[str, PyoObject] = {}
        for curve in ("linear", "equal_power", "s_curve"):
            values = [fade_shape(curve, i / (SHAPE_POINTS - 1)) for i in range(SHAPE_POINTS)]
            self.tables[curve] = table_from_array(pyo, np.array(values))


class Ramp:
    """Progress 0 → 1 from a start sample over a length, per sample: the core of every fade.

    Python sets `start` and `length` ahead of time; the graph computes
    ``clip((counter - start + 1) / length, 0, 1)`` on every sample, so a fade of length 1
    (a hard cut) is complete on the `start` sample itself.
    """

    def __init__(self, pyo: ModuleType, counter: SampleCounter) -> None:
        self.start_sig: PyoObject = pyo.Sig(NEVER)
        self.rate_sig: PyoObject = pyo.Sig(1.0)
        self.signal: PyoObject = pyo.Clip((counter.signal - self.start_sig) * self.rate_sig,
                                          0.0, 1.0)

    def set(self, start: float, length: float) -> None:
        self.start_sig.value = float(start) - 1.0
        self.rate_sig.value = 1.0 / max(float(length), 1.0)

    def reset(self) -> None:
        self.start_sig.value = NEVER


class Envelope:
    """Fade in from one sample, fade out from another, each with its own curve."""

    def __init__(self, pyo: ModuleType, counter: SampleCounter, shapes: FadeShapes) -> None:
        self._shapes = shapes
        self.fade_in = Ramp(pyo, counter)
        self.fade_out = Ramp(pyo, counter)
        self._in = pyo.Pointer(shapes.tables["linear"],
                               pointer_index(pyo, self.fade_in.signal, SHAPE_POINTS))
        self._out = pyo.Pointer(shapes.tables["linear"],
                                pointer_index(pyo, 1.0 - self.fade_out.signal, SHAPE_POINTS))
        self.signal: PyoObject = self._in * self._out

    def open(self, at: int, fade: int, curve: str) -> None:
        self._in.table = self._shapes.tables[curve]
        self.fade_in.set(at, fade)
        self.fade_out.reset()

    def close(self, at: int, fade: int, curve: str) -> None:
        self._out.table = self._shapes.tables[curve]
        self.fade_out.set(at, fade)

    def silence(self) -> None:
        self.fade_in.reset()
        self.fade_out.reset()


class ScheduledValue:
    """A control value that moves on its exact sample: a `ramps.Ramp` computed in the graph.

    Python writes a ramp's four numbers ahead of time; the graph computes
    ``start_value + (target - start_value) * progress`` per sample from the counter, so a
    parameter change scheduled for sample S first sounds on S whatever the block size,
    offline and live. The registers are written in an order that keeps every intermediate
    state on the old value while the old ramp is complete (see `schedule`).
    """

    def __init__(self, pyo: ModuleType, counter: SampleCounter, initial: float) -> None:
        self._from = pyo.Sig(initial)
        self._to = pyo.Sig(initial)
        self._progress = Ramp(pyo, counter)
        self.signal: PyoObject = self._from + (self._to - self._from) * self._progress.signal
        self.ramp = ramps.Ramp.constant(initial)
        # written on every parameter message: the C objects' setters, not pyo's checked
        # Python wrappers (a tenth of the cost; the values are floats already)
        self._set_from = self._from._base_objs[0].setValue
        self._set_to = self._to._base_objs[0].setValue
        self._set_start = self._progress.start_sig._base_objs[0].setValue
        self._set_rate = self._progress.rate_sig._base_objs[0].setValue

    def schedule(self, ramp: ramps.Ramp) -> None:
        """Replace the current ramp. With the old ramp complete, the output stays on its
        target until `ramp.start` however the audio thread interleaves with these writes:
        `from` is irrelevant at progress 1, then the start moves ahead (progress 0: `from`),
        and `to` and the rate only matter once the new start is reached."""
        self._set_from(float(ramp.start_value))
        self._set_start(float(ramp.start) - 1.0)
        self._set_rate(1.0 / ramp.length)
        self._set_to(float(ramp.target))
        self.ramp = ramp


class ParameterBus:
    """One signal per score parameter, normalised to [0, 1], moving by scheduled ramps.

    The conductor plans each change as a `ramps.Ramp` over the parameter's smoothing time
    (never shorter than MIN_SMOOTHING, so a jump of a gain is never a click); the bus writes
    it into the graph, where it starts on its exact sample. Curves over a parameter are
    lookup tables read at audio rate, shared by every voice that uses the same curve.
    """

    def __init__(self, pyo: ModuleType, counter: SampleCounter,
                 parameters: Mapping[str, Parameter], initial: Mapping[str, float]) -> None:
        self._pyo = pyo
        self.specs = dict(parameters)
        self.values: dict[str, ScheduledValue] = {}
        self.signals: dict[str, PyoObject] = {}
        self._indexes: dict[str, PyoObject] = {}
        self._lookups: dict[tuple[str, tuple[tuple[float, float], ...], bool], PyoObject] = {}
        self.objects: list[PyoObject] = []
        """The shared lookups, to stop with the engine (see `Engine.silence_all`)."""
        for name in parameters:
            value = ScheduledValue(pyo, counter, self.normalise(name, initial[name]))
            self.values[name] = value
            self.signals[name] = value.signal
            self._indexes[name] = pointer_index(pyo, value.signal, CURVE_POINTS)

    def normalise(self, name: str, value: float) -> float:
        spec = self.specs[name]
        return (spec.clamp(value) - spec.min) / (spec.max - spec.min)

    def schedule(self, ramps_by_name: Mapping[str, ramps.Ramp]) -> None:
        """Write planned ramps (in the parameters' own units) into the graph."""
        for name, ramp in ramps_by_name.items():
            spec = self.specs[name]
            low, span = spec.min, spec.max - spec.min
            self.values[name].schedule(ramps.Ramp(ramp.start, ramp.length,
                                                  (ramp.start_value - low) / span,
                                                  (ramp.target - low) / span))

    def lookup(self, name: str, points: Sequence[tuple[float, float]], gain: bool
               ) -> PyoObject:
        """A curve over one parameter as a signal (linear gain, or the control's value)."""
        key = (name, tuple((float(x), float(y)) for x, y in points), gain)
        if key not in self._lookups:
            spec = self.specs[name]
            xs = np.linspace(spec.min, spec.max, CURVE_POINTS)
            values = gain_curve_amplitudes(points, xs) if gain else curve_values(points, xs)
            # shared by every voice slot that uses the curve: owned by the bus, not by the
            # voice that asked first (stopping that voice would silence the others)
            with shared_objects(self._pyo) as created:
                table = table_from_array(self._pyo, values)
                self._lookups[key] = self._pyo.Pointer(table, self._indexes[name])
            self.objects.extend(created)
        return self._lookups[key]


def curve_signal(pyo: ModuleType, bus: ParameterBus,
                 curves: Mapping[str, Sequence[tuple[float, float]]], *, gain: bool
                 ) -> PyoObject:
    """A signal following curves over parameters: gains multiply (dB add), controls multiply."""
    signal: PyoObject = None
    for name, points in curves.items():
        lookup = bus.lookup(name, points, gain)
        signal = lookup if signal is None else signal * lookup
    return signal

