"""The engine: one score's audio graph, and the only code that turns actions into sound.

It builds every voice, stinger and the master bus when the score loads, then carries out
the conductor's actions by setting start samples ahead of time. It never decides anything
musical; it never runs per sample in Python.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from adaptive import ramps
from adaptive.actions import (
    Action,
    BendVoices,
    EndRest,
    LayerKey,
    NudgeClock,
    RampLayers,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.engine.capture import captured_objects
from adaptive.engine.graph import FadeShapes, ParameterBus, SampleCounter, ScheduledValue
from adaptive.engine.master import MasterBus
from adaptive.engine.meters import LayerMeters
from adaptive.engine.stream import Streamer
from adaptive.engine.voice import StemTables, StingerSlot, VoiceSlot
from adaptive.score.load import LoadedScore
from adaptive.slots import SLOTS_PER_SECTION, STINGER_SLOTS

log = logging.getLogger("adaptive.engine")

PyoObject = Any


def import_pyo() -> ModuleType:
    """pyo's double-precision build: sample counters and positions stay exact for hours.

    With single precision a sample counter loses whole samples after 2^24 samples (about
    six minutes at 48 kHz), which would break long cues and hour-long loops.
    """
    import os

    os.environ.setdefault("PYO_GUI_WX", "0")  # no GUI toolkit probe (and its banner) on import
    import pyo64

    module: ModuleType = pyo64
    return module


class Engine:
    def __init__(self, pyo: ModuleType, loaded: LoadedScore, seed: int = 1,
                 counter: SampleCounter | None = None, meters: bool = False,
                 varispeed: bool = False) -> None:
        """`counter`: share the clock of a playing engine (a hot reload replaces the graph
        while the music's time goes on). `meters`: measure each layer's level (see
        `engine.meters`; the control surface shows them). `varispeed`: a counter that can
        be nudged (a film's chase; see `SampleCounter`), its stems read between samples."""
        self.counter = counter if counter is not None else SampleCounter(pyo, varispeed)
        self.meters: LayerMeters | None = None
        with captured_objects(pyo) as self._objects:
            self._build(pyo, loaded, seed, meters)
            if meters:
                self.meters = LayerMeters(pyo, self.voices)

    def _build(self, pyo: ModuleType, loaded: LoadedScore, seed: int, meters: bool) -> None:
        score = loaded.score
        self.loaded = loaded
        self.shapes = FadeShapes(pyo)
        self.bus = ParameterBus(pyo, self.counter, score.parameters,
                                score.initial_parameters())
        self.stems = StemTables(pyo)
        self.streamer = Streamer(pyo, self.counter, loaded.sample_rate)
        self.voices: dict[tuple[str, int], VoiceSlot] = {}
        # performer overrides: one smoothed multiplier per (section, layer), shared by its
        # voice slots, built when a performer first touches the layer
        self._pyo = pyo
        self.overrides: dict[LayerKey, ScheduledValue] = {}
        for name, section in score.sections.items():
            for slot in range(SLOTS_PER_SECTION):
                self.voices[(name, slot)] = VoiceSlot(pyo, loaded, name, section, self.counter,
                                                      self.shapes, self.bus, self.stems, seed,
                                                      self.streamer, slot, chained=not meters)
        self.streamer.prepare()
        first_tempo = score.sections[score.initial_section_name()].tempo
        self.stingers: dict[tuple[str, int], StingerSlot] = {}
        for name, spec in score.stingers.items():
            for slot in range(STINGER_SLOTS):
                self.stingers[(name, slot)] = StingerSlot(pyo, loaded, name, spec, self.counter,
                                                          self.shapes, self.stems, seed,
                                                          first_tempo)
        self.master = MasterBus(
            pyo, self.counter, self.shapes,
            [voice.output for voice in self.voices.values()],
            [stinger.bed_gain for stinger in self.stingers.values() if stinger.spec.duck < 0],
            [stinger.output for stinger in self.stingers.values()],
            score.score.master_gain)
        self.output: PyoObject = self.master.output

    def start(self) -> None:
        """Sample 0 of the score is the first sample of the next processed block."""
        self.counter.start()

    def apply(self, action: Action) -> None:
        _APPLY[type(action)](self, action)

    def _start_voice(self, action: StartVoice) -> None:
        self.voices[(action.section, action.slot)].start(action.at, action.origin,
                                                         action.fade_in, action.curve)

    def _stop_voice(self, action: StopVoice) -> None:
        self.voices[(action.section, action.slot)].stop(action.at, action.fade_out,
                                                        action.curve)

    def _ramp_params(self, action: RampParams) -> None:
        self.bus.schedule(action.ramps)

    def _start_stinger(self, action: StartStinger) -> None:
        self.stingers[(action.name, action.slot)].start(action.at)

    def _start_rest(self, action: StartRest) -> None:
        # a musical rest lets stingers ring; a stop (or a film's pause) silences them too
        master = self.master
        gate = master.panic if action.panic else master.hold if action.stop else master.rest
        gate.rest(action.at, action.release)

    def _end_rest(self, action: EndRest) -> None:
        self.master.rest.resume(action.at, action.fade_in)
        self.master.hold.resume(action.at, action.fade_in)
        if action.unpanic:
            self.master.panic.resume(action.at, action.fade_in)

    def _bend_voices(self, action: BendVoices) -> None:
        for key, ramp in action.ramps.items():
            voice = self.voices[key]
            if voice.bend is not None:
                voice.bend.schedule(ramp)
            if voice.streamed is not None and ramp.length == 1:
                # a vamp's step (only patches bend): streamed stems follow as a new run
                # whose origin folds in the offset, with the graph's float operations
                voice.streamed.start(ramp.start, float(voice.origin.value) - ramp.target)

    def _nudge_clock(self, action: NudgeClock) -> None:
        if not self.counter.varispeed:
            log.warning("a nudge of %d samples ignored: this engine was built without "
                        "varispeed", action.samples)
            return
        self.counter.nudge(action.at, action.samples, action.length)

    def _ramp_layers(self, action: RampLayers) -> None:
        for key, ramp in action.ramps.items():
            self._override(key, ramp)

    def _override(self, key: LayerKey, ramp: ramps.Ramp) -> None:
        override = self.overrides.get(key)
        if override is None:
            if ramp.target == 1.0 and ramp.start_value == 1.0:
                return
            with captured_objects(self._pyo) as created:
                override = ScheduledValue(self._pyo, self.counter, 1.0)
            self.overrides[key] = override
            self._objects.extend(created)
            section, layer = key
            for slot in range(SLOTS_PER_SECTION):
                self.voices[(section, slot)].attach_override(layer, override.signal)
        override.schedule(ramp)

    def silence_all(self) -> None:
        """Stop every object of this graph (the shared counter excepted): it costs nothing
        from now on and can be dropped."""
        self.streamer.stop()
        for obj in [*self._objects, *self.bus.objects]:
            obj.stop()

    def housekeeping(self, now: int) -> None:
        """Stop the DSP of voices and stingers whose sound has ended."""
        slots: list[VoiceSlot | StingerSlot] = [*self.voices.values(), *self.stingers.values()]
        for slot in slots:
            activity = slot.activity
            if activity.active and now >= activity.deactivate_at:
                activity.deactivate()
                if isinstance(slot, VoiceSlot) and slot.streamed is not None:
                    slot.streamed.release()


_APPLY: dict[type, Callable[[Engine, Any], None]] = {
    StartVoice: Engine._start_voice,
    StopVoice: Engine._stop_voice,
    RampParams: Engine._ramp_params,
    StartStinger: Engine._start_stinger,
    StartRest: Engine._start_rest,
    EndRest: Engine._end_rest,
    RampLayers: Engine._ramp_layers,
    BendVoices: Engine._bend_voices,
    NudgeClock: Engine._nudge_clock,
}
"""Each action → the method that carries it out: one table, checked complete by a test."""
