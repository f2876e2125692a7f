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
    """The one clock of the graph: the sample index since `start()`, and its varispeed.

    A film's player runs on its own clock; so that the music follows it without a jump,
    the counter can be *nudged*: ``signal = raw + floor(nudge)``, where `raw` counts
    samples and `nudge` is a `ScheduledValue` over `raw` that ramps by a whole number of
    samples at a time (see `nudge`). Outside a ramp the counter is whole, every reader
    exact; during one it runs a little faster or slower, and stems read between
    ``signal`` and ``signal + 1`` by `fraction` (see `engine.voice.stem_reader`), so the
    music speeds up or slows down by a fraction of a percent instead of skipping or
    repeating a sample. Without `varispeed` the counter is `raw` itself and nothing else
    is built.
    """

    def __init__(self, pyo: ModuleType, varispeed: bool = False) -> None:
        self._trigger = pyo.Trig().stop()
        self.raw: PyoObject = pyo.Count(self._trigger)
        self.fraction: PyoObject = None
        """0 ≤ the counter's sub-sample part < 1 during a nudge (None without varispeed)."""
        self._nudge: ScheduledValue | None = None
        self.signal: PyoObject = self.raw
        if varispeed:
            self._nudge = ScheduledValue(pyo, self.raw, 0.0)
            whole = pyo.Floor(self._nudge.signal)
            self.signal = self.raw + whole
            self.fraction = self._nudge.signal - whole
        # read on every message and tick: the C stream directly, not pyo's checked get()
        self._stream = self.signal._base_objs[0]._getStream()
        self._raw_stream = self.raw._base_objs[0]._getStream()

    @property
    def varispeed(self) -> bool:
        return self._nudge is not None

    def start(self) -> None:
        """Sample 0 is the first sample of the next processed block."""
        self._trigger.play()

    def now(self) -> float:
        return float(self._stream.getValue())

    def raw_now(self) -> float:
        """The raw count (never nudged): what the audio device's clock maps to wall time."""
        return float(self._raw_stream.getValue())

    def to_music(self, raw: float) -> float:
        """The counter (music) at a raw sample: ``raw + D(raw)`` of the latest nudge (the
        clock asks about the present and the near future, after any earlier nudge)."""
        if self._nudge is None:
            return raw
        return raw + self._nudge.ramp.value_at(raw)

    def to_raw(self, music: float) -> float:
        """The raw sample at which the counter reaches `music` (`to_music` inverted)."""
        if self._nudge is None:
            return music
        ramp = self._nudge.ramp
        if music - ramp.start_value < ramp.start:
            return music - ramp.start_value
        if music - ramp.target >= ramp.end:
            return music - ramp.target
        slope = (ramp.target - ramp.start_value) / ramp.length
        return (music - ramp.start_value + (ramp.start - 1) * slope) / (1.0 + slope)

    def nudge(self, at: int, samples: int, length: int) -> int:
        """From counter sample `at` (or the end of a nudge in progress), move the music by
        `samples` (positive: ahead) over `length` samples; returns the counter sample at
        which the nudge is complete. Before `at` the nudge is whole, so the raw sample of
        `at` is known exactly."""
        assert self._nudge is not None, "a nudge needs an engine built with varispeed"
        current = self._nudge.ramp
        offset = round(current.target)
        start = max(at - offset, current.end + 1)  # in raw samples
        length = max(1, length, abs(samples))  # never faster than twice the speed
        self._nudge.schedule(ramps.Ramp(start, length, float(offset), float(offset + samples)))
        return start + length - 1 + offset + samples


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

    A linear ramp is a line in the counter clipped to its two end values:
    ``clip(counter * slope + offset, low, high)`` is the start value before the ramp, the
    line during it and the target after it. Python writes the four numbers ahead of time
    (through the C objects' setters: two pyo objects per value, no `Sig` per number), so a
    change scheduled for sample S first sounds on S whatever the block size, offline and
    live. The writes keep the old value while the old ramp is complete, however the audio
    thread interleaves with them (see `schedule`).
    """

    def __init__(self, pyo: ModuleType, counter: SampleCounter | PyoObject,
                 initial: float) -> None:
        source = counter.signal if isinstance(counter, SampleCounter) else counter
        self._line = pyo.Sig(source, mul=0.0, add=initial)
        self.signal: PyoObject = pyo.Clip(self._line, min=initial, max=initial)
        self.ramp = ramps.Ramp.constant(initial)
        line, clip = self._line._base_objs[0], self.signal._base_objs[0]
        self._set_slope, self._set_offset = line.setMul, line.setAdd
        self._set_low, self._set_high = clip.setMin, clip.setMax

    def schedule(self, ramp: ramps.Ramp, low: float = 0.0, span: float = 1.0) -> None:
        """Replace the current ramp (its values mapped by ``(v - low) / span``). First both
        bounds go to the value the new ramp starts from (with the old ramp complete, that
        is the value playing), then the line, then the bounds open one at a time: each
        state in between gives the same output until `ramp.start`."""
        begin, end = (ramp.start_value - low) / span, (ramp.target - low) / span
        slope = (end - begin) / ramp.length
        self._set_low(begin)
        self._set_high(begin)
        self._set_slope(slope)
        self._set_offset(begin - (ramp.start - 1) * slope)
        self._set_low(min(begin, end))
        self._set_high(max(begin, end))
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
            self.values[name].schedule(ramp, spec.min, spec.max - spec.min)

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

