"""Voices: a section's layers (stems and patches) built once, started on an exact sample.

A `VoiceSlot` is one playable instance of a section. Its read position is
``counter - origin`` (wrapped at the section length when it loops), so every stem and every
patch of the voice follows one position derived from the shared counter: loops stay on the
bar grid for hours, and tempo changes between sections cost nothing. Stems are read from
RAM tables (see `StemTables` for why).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from adaptive.curves import db_to_amplitude
from adaptive.engine.capture import captured_objects
from adaptive.engine.graph import (
    NEVER,
    Envelope,
    FadeShapes,
    ParameterBus,
    SampleCounter,
    ScheduledValue,
    curve_signal,
    table_from_array,
)
from adaptive.engine.patch_api import (
    HarmonySignals,
    PatchContext,
    PatchModule,
    VoiceClock,
    load_patch,
)
from adaptive.engine.stream import StreamedVoice, Streamer
from adaptive.errors import ScoreError, ScoreProblem
from adaptive.harmony import Harmony
from adaptive.musical_time import Grid, Meter
from adaptive.ramps import Ramp
from adaptive.score.load import LoadedScore, StemInfo
from adaptive.score.model import Layer, Section, Stinger

PyoObject = Any


def streams(loaded: LoadedScore, layer: Layer, info: StemInfo) -> bool:
    """Whether a section's stem layer streams from disk (`engine.stream`) or sits in RAM:
    the layer's `stream`, else its length against `score.stream_longer_than`."""
    if layer.stream is not None:
        return layer.stream
    return info.frames > loaded.score.score.stream_longer_than * info.sample_rate


class StemTables:
    """Stems held in RAM, loaded once per file and shared by every voice that plays them.

    Why RAM and not streaming: pyo's `SfPlayer` reads the disk inside the audio callback
    (no disk thread), which caused xruns at 128 stems even with a warm page cache. A table
    costs memory instead (8 bytes per sample per channel in pyo's double-precision build:
    46 MB per stereo minute at 48 kHz) and load time, both paid before playback starts.
    """

    def __init__(self, pyo: ModuleType) -> None:
        self._pyo = pyo
        self._tables: dict[Path, PyoObject] = {}

    def get(self, path: Path) -> PyoObject:
        if path not in self._tables:
            import soundfile

            data, _ = soundfile.read(str(path), dtype="float64", always_2d=True)
            self._tables[path] = table_from_array(self._pyo, data)
        return self._tables[path]


def stereo(pyo: ModuleType, signal: PyoObject) -> PyoObject:
    """Two streams from one or two: mono sources sound in the centre."""
    if len(signal) == 2:
        return signal
    return pyo.Mix(signal, voices=2) if len(signal) > 2 else pyo.Mix([signal, signal], voices=2)


class _Activity:
    """Stops a group of pyo objects while they are silent, so idle voices cost no DSP."""

    def __init__(self, objects: list[PyoObject]) -> None:
        self.objects = objects
        self.active = True
        self.deactivate_at = NEVER

    def activate(self) -> None:
        if not self.active:
            for obj in self.objects:
                obj.play()
            self.active = True
        self.deactivate_at = NEVER

    def deactivate(self) -> None:
        if self.active:
            for obj in self.objects:
                obj.stop()
            self.active = False


class VoiceSlot:
    """One instance of a section: its layers, its clock and its envelope."""

    def __init__(self, pyo: ModuleType, loaded: LoadedScore, name: str, section: Section,
                 counter: SampleCounter, shapes: FadeShapes, bus: ParameterBus,
                 stems: StemTables, seed: int, streamer: Streamer | None = None,
                 slot: int = 0, chained: bool = True) -> None:
        """`chained`: sum the layers by chaining their `add` (see `_chain`); False keeps
        each layer's object its own signal, as the level meters need."""
        self.name = name
        self.section = section
        rate = loaded.sample_rate
        grid = Grid(rate, section.tempo, section.parsed_meter)
        harmony = Harmony.of(section.key, section.chords)
        with captured_objects(pyo) as objects:
            self.origin = pyo.Sig(NEVER)
            self.bend: ScheduledValue | None = ScheduledValue(pyo, counter, 0.0)
            """Position offset of tempo bends and vamps (`perform`): the voice reads
            ``counter - origin + offset``."""
            origin: PyoObject = self.origin - self.bend.signal
            self.clock = VoiceClock(pyo, counter.signal, origin, grid.samples_per_beat,
                                    grid.meter.beats_per_bar, section.bars, section.loop)
            self.harmony = HarmonySignals(pyo, harmony, self.clock)
            self.envelope = Envelope(pyo, counter, shapes)
            self.layers: dict[str, PyoObject] = {}
            self.gains: dict[str, PyoObject | float] = {}
            kept: list[PyoObject] = []
            self.streamed: StreamedVoice | None = None
            valid: PyoObject = None
            streamed_layers: list[str] = []
            sums: dict[bool, PyoObject] = {}  # the chain so far: streamed, in RAM

            def add(streamed: bool) -> PyoObject | float:
                return sums.get(streamed, 0.0) if chained else 0.0

            for layer_name, layer in section.layers.items():
                gain = _gain(pyo, bus, layer)
                self.gains[layer_name] = gain
                info = loaded.stems[layer.stem] if layer.stem is not None else None
                if info is not None and streamer is not None and streams(loaded, layer, info):
                    if self.streamed is None:
                        self.streamed = streamer.voice(f"{name}[{slot}]", self.clock.length,
                                                       section.loop)
                        valid = streamer.validity(self.streamed)
                    head = streamer.heads.get(info.path)
                    silent = streamer.pool.silent_table(head.channels)
                    reader, tables = stem_reader(pyo, counter, silent, streamer.index,
                                                 streamer.next_index, gain,
                                                 channels=head.channels, add=add(True))
                    self.streamed.add(tables, head)
                    self.layers[layer_name] = sums[True] = reader
                    streamed_layers.append(layer_name)
                elif layer.stem is not None:
                    table = stems.get(loaded.stems[layer.stem].path)
                    self.layers[layer_name], _ = stem_reader(
                        pyo, counter, table, self.clock.frame, self.clock.next_frame, gain,
                        add=add(False))
                    sums[False] = self.layers[layer_name]
                else:
                    assert layer.patch is not None
                    context = PatchContext(pyo, rate, self.clock, self.harmony,
                                           _controls(pyo, bus, layer, loaded), dict(layer.args),
                                           seed)
                    module = load_patch(loaded.patches[layer.patch])
                    output = stereo(pyo, _build_patch(module, context, loaded,
                                                      f"sections.{name}.layers.{layer_name}"))
                    kept.extend(context.kept)
                    self.layers[layer_name] = sums[False] = pyo.Sig(output, mul=gain,
                                                                    add=add(False))
            # a late stream mutes the voice's streamed layers (see engine.stream), on time
            # x 1.0: once for their sum, not once per layer (a product per layer was 128
            # more objects at 128 streamed stems)
            in_ram = [self.layers[n] for n in self.layers if n not in streamed_layers]
            streamed = [self.layers[n] for n in streamed_layers]
            parts = [_chain(pyo, in_ram, chained)] if in_ram else []
            if streamed_layers:
                parts.append(_chain(pyo, streamed, chained) * valid)
            mix = parts[0] if len(parts) == 1 else (parts[0] + parts[1]) if parts \
                else pyo.Sig([0.0, 0.0])
            self.output: PyoObject = mix * self.envelope.signal
        self._kept = kept
        self.activity = _Activity(objects)
        self.activity.deactivate()

    def attach_override(self, layer_name: str, override: PyoObject) -> None:
        """From now on, multiply a layer's gain by a performer override.

        Overrides are attached on first use, not built for every layer: a layer nobody
        touches costs its reader alone (per stem, an always-running smoothed multiplier and
        a product were two more pyo objects than the stem itself).
        """
        product = self.gains[layer_name] * override
        self.layers[layer_name].mul = product
        self.activity.objects.append(product)
        if not self.activity.active:
            product.stop()

    def start(self, at: int, origin: float, fade_in: int, curve: str) -> None:
        self.activity.activate()
        if self.streamed is not None:
            self.streamed.start(at, float(origin))
        self.origin.value = float(origin)
        if self.bend is not None:  # a new run starts unbent
            self.bend.schedule(Ramp(at, 1, self.bend.ramp.value_at(at - 1), 0.0))
        self.envelope.open(at, fade_in, curve)

    def stop(self, at: int, fade_out: int, curve: str) -> None:
        self.envelope.close(at, fade_out, curve)
        self.activity.deactivate_at = at + fade_out + 1


class StingerSlot:
    """A one-shot stem or patch over the bed, with its own gate and its ducking envelope."""

    def __init__(self, pyo: ModuleType, loaded: LoadedScore, name: str, spec: Stinger,
                 counter: SampleCounter, shapes: FadeShapes, stems: StemTables, seed: int,
                 tempo: float) -> None:
        rate = loaded.sample_rate
        self.spec = spec
        edge = round(0.002 * rate)
        with captured_objects(pyo) as objects:
            self.origin = pyo.Sig(NEVER)
            if spec.stem is not None:
                table = stems.get(loaded.stems[spec.stem].path)
                self.length = loaded.stems[spec.stem].frames
                raw = counter.signal - self.origin
                content, _ = stem_reader(pyo, counter, table, raw,
                                         lambda: (counter.signal + 1.0) - self.origin, 1.0)
                bars = 1
            else:
                assert spec.patch is not None and spec.length is not None
                self.length = round(spec.length * rate)
                grid = Grid(rate, tempo, Meter(4, 4))
                bars = max(1, math.ceil(self.length / grid.samples_per_bar))
                clock = VoiceClock(pyo, counter.signal, self.origin, grid.samples_per_beat, 4,
                                   bars, loop=False)
                harmony = Harmony.of(spec.key, [spec.chord] if spec.chord else [])
                module = load_patch(loaded.patches[spec.patch])
                controls = {name: pyo.Sig(control.default)
                            for name, control in module.CONTROLS.items()}
                context = PatchContext(pyo, rate, clock, HarmonySignals(pyo, harmony, clock),
                                       controls, dict(spec.args), seed)
                content = _build_patch(module, context, loaded, f"stingers.{name}")
                self._kept = context.kept
            self.envelope = Envelope(pyo, counter, shapes)
            self.output: PyoObject = stereo(pyo, content) * self.envelope.signal * \
                db_to_amplitude(spec.gain)
        # the ducking envelope multiplies the bed: it must keep running while the stinger's
        # own objects are stopped, so it stays outside the captured group
        self.duck = Envelope(pyo, counter, shapes)
        depth = 1.0 - db_to_amplitude(spec.duck)
        self.bed_gain: PyoObject = 1.0 - self.duck.signal * depth
        self._edge = edge
        self._rate = rate
        self.activity = _Activity(objects)
        self.activity.deactivate()

    def start(self, at: int) -> None:
        self.activity.activate()
        self.origin.value = float(at)
        end = at + self.length
        self.envelope.open(at, 1, "linear")  # the first sample sounds; the stem's own attack
        self.envelope.close(end - self._edge, self._edge, "linear")
        attack = round(self.spec.duck_attack * self._rate)
        release = round(self.spec.duck_release * self._rate)
        if self.spec.duck < 0:
            self.duck.open(at, attack, "linear")
            self.duck.close(end, release, "linear")
        self.activity.deactivate_at = end + release + 1


def _chain(pyo: ModuleType, layers: list[PyoObject], chained: bool) -> PyoObject:
    """The sum of a voice's layers. Chained, each layer was built with the layers before
    it as its `add`, so the last one is the sum: pyo's postprocessing adds it, with no
    object of its own (a `Mix` asks each of its inputs for its stream through a Python
    method call in the audio callback: measured live, 128 stereo readers cost 7.7 % of a
    core with a `Mix`, 5.7 % chained). The additions come in the same order as `Mix`'s,
    so the sum is the same to the bit."""
    return layers[-1] if chained else pyo.Mix(layers, voices=2)


def stem_reader(pyo: ModuleType, counter: SampleCounter, table: PyoObject, frame: PyoObject,
                next_frame: Callable[[], PyoObject], mul: PyoObject | float,
                channels: int | None = None, add: PyoObject | float = 0.0
                ) -> tuple[PyoObject, list[PyoObject]]:
    """A stem's reader at `frame` (truncated, as `TableIndex` reads), and the table readers
    in it (a streamed layer swaps their table). With a varispeed counter it reads between
    `frame` and `next_frame()` by the counter's fraction: a linear interpolation that is the
    plain reader itself whenever the counter is whole, and a smooth speed change, never a
    skipped or repeated sample, while it is nudged."""
    stereo = (len(table) if channels is None else channels) > 1

    def at(index: PyoObject) -> PyoObject:
        return index if stereo else [index, index]

    if counter.fraction is None:
        reader = pyo.TableIndex(table, at(frame), mul=mul, add=add)
        return reader, [reader]
    here = pyo.TableIndex(table, at(frame))
    ahead = pyo.TableIndex(table, at(next_frame()))
    return pyo.Interp(here, ahead, interp=counter.fraction, mul=mul, add=add), [here, ahead]


def _build_patch(module: PatchModule, context: PatchContext, loaded: LoadedScore,
                 field: str) -> PyoObject:
    """A patch is code: its failure is reported like any other score problem."""
    try:
        output = module.build(context)
        if len(output) < 1:
            raise ValueError("build() returned no audio stream")
        return output
    except Exception as error:
        raise ScoreError(str(loaded.path), [ScoreProblem(
            f"{field}.patch", f"the patch failed to build: {error!r}",
            fix="fix the patch file, or its args in the score")]) from error


def _gain(pyo: ModuleType, bus: ParameterBus, layer: Layer) -> PyoObject | float:
    if isinstance(layer.gain, dict):
        return curve_signal(pyo, bus, layer.gain, gain=True)
    return db_to_amplitude(layer.gain)


def _controls(pyo: ModuleType, bus: ParameterBus, layer: Layer,
              loaded: LoadedScore) -> dict[str, PyoObject]:
    assert layer.patch is not None
    module = load_patch(loaded.patches[layer.patch])
    controls: dict[str, PyoObject] = {}
    for name, spec in module.CONTROLS.items():
        given = layer.controls.get(name, spec.default)
        if isinstance(given, dict):
            signal = curve_signal(pyo, bus, given, gain=False)
            controls[name] = pyo.Clip(signal, spec.low, spec.high)
        else:
            controls[name] = pyo.Sig(min(spec.high, max(spec.low, float(given))))
    return controls
