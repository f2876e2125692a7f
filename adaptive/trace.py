"""What the score intends over time, computed from the conductor's actions (pure numpy).

The plot draws it and the tests compare rendered audio against it: parameter values as the
graph smooths them, the section playing, rests, stingers, and each layer's gain (its curve
over the smoothed parameters × its voice's fades × the rest gate × ducking × the
performer's override). Ducking and overrides follow the engine's own envelopes (a stinger's
attack, hold and release as `engine.voice.StingerSlot` opens and closes them; a 20 ms ramp
per override, as the conductor planned it), so the plot shows what the audio does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from adaptive.actions import (
    Action,
    EndRest,
    RampLayers,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.curves import control_value, db_to_amplitude, fade_shape, layer_gain
from adaptive.ramps import Ramp
from adaptive.score.load import LoadedScore
from adaptive.score.model import Score

Array = npt.NDArray[np.float64]


@dataclass
class Span:
    name: str
    start: float  # seconds
    end: float
    bridge: bool = False


@dataclass
class Trace:
    times: Array  # seconds
    params: dict[str, Array]
    layer_gains: dict[str, Array]  # "section.layer" → linear gain as heard
    sections: list[Span]
    rests: list[Span]
    stingers: list[tuple[float, str]]
    controls: dict[str, Array] = field(default_factory=dict)
    bed_gain: Array | None = None  # the stingers' ducking of the bed (linear), None: 1


def smoothed(times: Array, initial: float, changes: list[tuple[float, float]],
             smoothing: float) -> Array:
    """A parameter as pyo's SigTo smooths it: a linear ramp of fixed duration per change."""
    out = np.empty_like(times)
    value, ramp_from, ramp_to, ramp_start = initial, initial, initial, -np.inf
    changes = sorted(changes)
    index = 0
    for i, t in enumerate(times):
        while index < len(changes) and changes[index][0] <= t:
            at, target = changes[index]
            current = _ramp(at, ramp_from, ramp_to, ramp_start, smoothing)
            ramp_from, ramp_to, ramp_start = current, target, at
            index += 1
        value = _ramp(t, ramp_from, ramp_to, ramp_start, smoothing)
        out[i] = value
    return out


def ramped(times: Array, sample_rate: float, initial: float,
           ramps: list[tuple[int, Ramp]]) -> Array:
    """A value as the graph computes it from the conductor's ramps (`ramps.Ramp`): each
    (action sample, ramp) takes over from its start, so the trace agrees to the sample."""
    samples = np.round(times * sample_rate)
    out = np.full_like(times, initial)
    for at, ramp in ramps:
        after = samples >= max(at, ramp.start)
        progress = np.clip((samples[after] - ramp.start + 1) / ramp.length, 0.0, 1.0)
        out[after] = ramp.start_value + (ramp.target - ramp.start_value) * progress
    return out


def _ramp(t: float, start_value: float, end_value: float, start: float,
          duration: float) -> float:
    if duration <= 0 or t >= start + duration:
        return end_value
    if t <= start:
        return start_value
    return start_value + (end_value - start_value) * (t - start) / duration


def _fade(times: Array, start: float, length: float, curve: str, rising: bool) -> Array:
    progress = np.clip((times - start) / max(length, 1e-9), 0.0, 1.0)
    if length <= 0:
        progress = (times >= start).astype(np.float64)
    values = progress if rising else 1.0 - progress
    return np.array([fade_shape(curve, float(v)) for v in values])


def stinger_frames(loaded: LoadedScore) -> dict[str, int]:
    """Each stinger's length in samples, as the engine plays it (a stem's own length)."""
    rate = loaded.sample_rate
    out: dict[str, int] = {}
    for name, spec in loaded.score.stingers.items():
        if spec.stem is not None and spec.stem in loaded.stems:
            out[name] = loaded.stems[spec.stem].frames
        elif spec.length is not None:
            out[name] = round(spec.length * rate)
    return out


def _bed_gain(score: Score, times: Array, rate: float,
              starts: Mapping[tuple[str, int], list[float]],
              frames: Mapping[str, int]) -> Array | None:
    """The product of every stinger slot's ducking, as `StingerSlot.start` shapes it: the
    duck opens over `duck_attack` at the stinger's start and closes over `duck_release`
    from its end; a slot started again starts its envelope afresh."""
    gain: Array | None = None
    for (name, _slot), ats in starts.items():
        spec = score.stingers[name]
        if spec.duck >= 0:
            continue
        length = frames.get(name)
        if length is None:
            if spec.length is None:
                raise ValueError(f"stinger {name!r} is a stem: pass its length in "
                                 "stinger_frames (see trace.stinger_frames)")
            length = round(spec.length * rate)
        depth = 1.0 - db_to_amplitude(spec.duck)
        duck = np.zeros_like(times)
        for at in sorted(ats):
            end = at + length / rate
            envelope = _fade(times, at, spec.duck_attack, "linear", True) * \
                _fade(times, end, spec.duck_release, "linear", False)
            duck = np.where(times >= at, envelope, duck)
        slot_gain = 1.0 - duck * depth
        gain = slot_gain if gain is None else gain * slot_gain
    return gain


def build_trace(score: Score, actions: list[Action], sample_rate: int, duration: float,
                step: float = 0.02, *, stinger_frames: Mapping[str, int] | None = None
                ) -> Trace:
    """`stinger_frames`: the length of stem stingers in samples (`stinger_frames(loaded)`);
    patch stingers last their score `length`."""
    times = np.arange(0.0, duration, step)
    rate = float(sample_rate)
    initial = score.initial_parameters()
    param_ramps: dict[str, list[tuple[int, Ramp]]] = {name: [] for name in initial}
    voices: dict[tuple[str, int], list[tuple[StartVoice, StopVoice | None]]] = {}
    rests: list[Span] = []
    stingers: list[tuple[float, str]] = []
    rest_gain = np.ones_like(times)
    rest_start: StartRest | None = None
    override_ramps: dict[tuple[str, str], list[tuple[int, Ramp]]] = {}
    duck_starts: dict[tuple[str, int], list[float]] = {}
    for action in actions:
        if isinstance(action, RampParams):
            for name, ramp in action.ramps.items():
                param_ramps[name].append((action.at, ramp))
        elif isinstance(action, RampLayers):
            for layer_key, ramp in action.ramps.items():
                override_ramps.setdefault(layer_key, []).append((action.at, ramp))
        elif isinstance(action, StartVoice):
            voices.setdefault((action.section, action.slot), []).append((action, None))
        elif isinstance(action, StopVoice):
            runs = voices.get((action.section, action.slot), [])
            if runs and runs[-1][1] is None:
                runs[-1] = (runs[-1][0], action)
        elif isinstance(action, StartStinger):
            stingers.append((action.at / rate, action.name))
            duck_starts.setdefault((action.name, action.slot), []).append(action.at / rate)
        elif isinstance(action, StartRest):
            rest_start = action
            release = _fade(times, action.at / rate, action.release / rate, "s_curve", False)
            rest_gain = np.minimum(rest_gain, np.where(times >= action.at / rate, release, 1.0))
            rests.append(Span("rest", action.at / rate, duration))
        elif isinstance(action, EndRest) and rest_start is not None:
            reentry = _fade(times, action.at / rate, action.fade_in / rate, "s_curve", True)
            after = times >= action.at / rate
            rest_gain = np.where(after, np.maximum(rest_gain, reentry), rest_gain)
            rests[-1].end = action.at / rate
            rest_start = None
    params = {name: ramped(times, rate, initial[name], ramps)
              for name, ramps in param_ramps.items()}
    sections: list[Span] = []
    layer_gains: dict[str, Array] = {}
    controls: dict[str, Array] = {}
    for (section_name, _slot), runs in voices.items():
        section = score.sections[section_name]
        for start, stop in runs:
            envelope = _fade(times, start.at / rate, start.fade_in / rate, start.curve, True)
            end = duration
            if stop is not None:
                envelope *= _fade(times, stop.at / rate, stop.fade_out / rate, stop.curve, False)
                end = stop.at / rate  # the span ends where the fade begins
            sections.append(Span(section_name, start.at / rate, end, start.bridge))
            for layer_name, layer in section.layers.items():
                key = f"{section_name}.{layer_name}"
                gains = np.array([layer_gain(layer.gain, {n: float(v[i]) for n, v in
                                                          params.items()})
                                  for i in range(len(times))])
                heard = gains * envelope * rest_gain
                layer_gains[key] = np.maximum(layer_gains.get(key, 0.0), heard)
                for control, spec in layer.controls.items():
                    values = np.array([control_value(spec, {n: float(v[i]) for n, v in
                                                            params.items()})
                                       for i in range(len(times))])
                    controls[f"{key}.{control}"] = values
    bed_gain = _bed_gain(score, times, rate, duck_starts, stinger_frames or {})
    for (section_name, layer_name), ramps in override_ramps.items():
        name = f"{section_name}.{layer_name}"
        if name in layer_gains:
            layer_gains[name] = layer_gains[name] * ramped(times, rate, 1.0, ramps)
    if bed_gain is not None:
        layer_gains = {key: gains * bed_gain for key, gains in layer_gains.items()}
    sections.sort(key=lambda span: span.start)
    return Trace(times, params, layer_gains, sections, rests, stingers, controls, bed_gain)
