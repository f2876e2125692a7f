"""What the score intends over time, computed from the conductor's actions (pure numpy).

The plot draws it and the tests compare rendered audio against it: parameter values as the
graph smooths them, the section playing, rests, stingers, and each layer's gain (its curve
over the smoothed parameters × its voice's fades × the rest gate × ducking).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from adaptive.actions import (
    Action,
    EndRest,
    SetParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.curves import MIN_SMOOTHING, control_value, fade_shape, layer_gain
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


def build_trace(score: Score, actions: list[Action], sample_rate: int, duration: float,
                step: float = 0.02) -> Trace:
    times = np.arange(0.0, duration, step)
    rate = float(sample_rate)
    initial = score.initial_parameters()
    param_changes: dict[str, list[tuple[float, float]]] = {name: [] for name in initial}
    voices: dict[tuple[str, int], list[tuple[StartVoice, StopVoice | None]]] = {}
    rests: list[Span] = []
    stingers: list[tuple[float, str]] = []
    rest_gain = np.ones_like(times)
    rest_start: StartRest | None = None
    for action in actions:
        if isinstance(action, SetParams):
            for name, value in action.values.items():
                param_changes[name].append((action.at / rate, value))
        elif isinstance(action, StartVoice):
            voices.setdefault((action.section, action.slot), []).append((action, None))
        elif isinstance(action, StopVoice):
            runs = voices.get((action.section, action.slot), [])
            if runs and runs[-1][1] is None:
                runs[-1] = (runs[-1][0], action)
        elif isinstance(action, StartStinger):
            stingers.append((action.at / rate, action.name))
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
    params = {name: smoothed(times, initial[name], changes,
                             max(score.parameters[name].smoothing, MIN_SMOOTHING))
              for name, changes in param_changes.items()}
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
    sections.sort(key=lambda span: span.start)
    return Trace(times, params, layer_gains, sections, rests, stingers, controls)
