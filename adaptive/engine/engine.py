"""The engine: one score's audio graph, and the only code that turns actions into sound.

It builds every voice, stinger and the master bus when the score loads, then carries out
the conductor's actions by setting start samples ahead of time. It never decides anything
musical; it never runs per sample in Python.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from adaptive.actions import (
    Action,
    EndRest,
    SetLayerGains,
    SetParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.conductor import SLOTS_PER_SECTION, STINGER_SLOTS
from adaptive.engine.capture import captured_objects
from adaptive.engine.graph import FadeShapes, ParameterBus, SampleCounter
from adaptive.engine.master import MasterBus
from adaptive.engine.voice import StemTables, StingerSlot, VoiceSlot
from adaptive.score.load import LoadedScore

PyoObject = Any

OVERRIDE_RAMP_SECONDS = 0.02
"""Mutes, solos and override gains ramp over 20 ms: fast, and never a click."""


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
                 counter: SampleCounter | None = None) -> None:
        """`counter`: share the clock of a playing engine (a hot reload replaces the graph
        while the music's time goes on)."""
        self.counter = counter if counter is not None else SampleCounter(pyo)
        with captured_objects(pyo) as self._objects:
            self._build(pyo, loaded, seed)

    def _build(self, pyo: ModuleType, loaded: LoadedScore, seed: int) -> None:
        score = loaded.score
        self.loaded = loaded
        self.shapes = FadeShapes(pyo)
        self.bus = ParameterBus(pyo, score.parameters, score.initial_parameters())
        self.stems = StemTables(pyo)
        self.voices: dict[tuple[str, int], VoiceSlot] = {}
        # performer overrides: one smoothed multiplier per (section, layer), shared by its
        # voice slots, built when a performer first touches the layer
        self._pyo = pyo
        self.overrides: dict[tuple[str, str], PyoObject] = {}
        for name, section in score.sections.items():
            for slot in range(SLOTS_PER_SECTION):
                self.voices[(name, slot)] = VoiceSlot(pyo, loaded, name, section, self.counter,
                                                      self.shapes, self.bus, self.stems, seed)
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
        if isinstance(action, StartVoice):
            self.voices[(action.section, action.slot)].start(action.at, action.origin,
                                                             action.fade_in, action.curve)
        elif isinstance(action, StopVoice):
            self.voices[(action.section, action.slot)].stop(action.at, action.fade_out,
                                                            action.curve)
        elif isinstance(action, SetParams):
            self.bus.set(action.values)
        elif isinstance(action, StartStinger):
            self.stingers[(action.name, action.slot)].start(action.at)
        elif isinstance(action, StartRest):
            self.master.rest.rest(action.at, action.release)
        elif isinstance(action, EndRest):
            self.master.rest.resume(action.at, action.fade_in)
        elif isinstance(action, SetLayerGains):
            for key, value in action.values.items():
                self._set_override(key, value)

    def _set_override(self, key: tuple[str, str], value: float) -> None:
        override = self.overrides.get(key)
        if override is None:
            if value == 1.0:
                return
            override = self._pyo.SigTo(1.0, time=OVERRIDE_RAMP_SECONDS, init=1.0)
            self.overrides[key] = override
            self._objects.append(override)
            section, layer = key
            for slot in range(SLOTS_PER_SECTION):
                self.voices[(section, slot)].attach_override(layer, override)
        override.value = value

    def silence_all(self) -> None:
        """Stop every object of this graph (the shared counter excepted): it costs nothing
        from now on and can be dropped."""
        for obj in self._objects:
            obj.stop()

    def housekeeping(self, now: int) -> None:
        """Stop the DSP of voices and stingers whose sound has ended."""
        slots: list[VoiceSlot | StingerSlot] = [*self.voices.values(), *self.stingers.values()]
        for slot in slots:
            activity = slot.activity
            if activity.active and now >= activity.deactivate_at:
                activity.deactivate()
