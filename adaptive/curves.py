"""Parameter curves and fade shapes, evaluated in pure Python.

The engine bakes the same functions into lookup tables read inside the audio graph; the
planner, the plot and the tests evaluate them here, so all three agree on what the score
means.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

MIN_SMOOTHING = 0.005
"""Seconds: the shortest parameter smoothing the graph applies, so a gain jump never clicks."""

SILENCE_DB = -80.0
"""-inf breakpoints interpolate from this level; anything at or below it is silent."""


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear through sorted breakpoints, flat beyond both ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            if x1 == x0:
                return y1
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def gain_db(points: Sequence[tuple[float, float]], x: float) -> float:
    """A gain curve's dB at x; -inf breakpoints are treated as SILENCE_DB when interpolating."""
    floored = [(px, max(py, SILENCE_DB)) for px, py in points]
    value = interpolate(floored, x)
    return -math.inf if value <= SILENCE_DB else value


def gain_curve_amplitudes(points: Sequence[tuple[float, float]],
                          xs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`db_to_amplitude(gain_db(points, x))` for many x at once (for lookup tables)."""
    px = np.array([p[0] for p in points], dtype=np.float64)
    py = np.maximum(np.array([p[1] for p in points], dtype=np.float64), SILENCE_DB)
    db = np.interp(xs, px, py)
    return np.where(db <= SILENCE_DB, 0.0, 10.0 ** (db / 20.0))


def curve_values(points: Sequence[tuple[float, float]],
                 xs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """`interpolate(points, x)` for many x at once."""
    return np.interp(xs, [p[0] for p in points], [p[1] for p in points])


def db_to_amplitude(db: float) -> float:
    return 0.0 if db == -math.inf or db <= SILENCE_DB else 10.0 ** (db / 20.0)


def amplitude_to_db(amplitude: float) -> float:
    return -math.inf if amplitude <= 0 else 20.0 * math.log10(amplitude)


def layer_gain(gain: float | Mapping[str, Sequence[tuple[float, float]]],
               params: Mapping[str, float]) -> float:
    """Linear gain of a layer: a constant dB, or the sum of its curves' dB."""
    if not isinstance(gain, Mapping):
        return db_to_amplitude(gain)
    total = 0.0
    for name, points in gain.items():
        total += gain_db(points, params[name])
    return db_to_amplitude(total)


def control_value(spec: float | Mapping[str, Sequence[tuple[float, float]]],
                  params: Mapping[str, float]) -> float:
    """A patch control: a constant, or the product of its curves (one curve: its value)."""
    if not isinstance(spec, Mapping):
        return float(spec)
    value = 1.0
    for name, points in spec.items():
        value *= interpolate(points, params[name])
    return value


def fade_shape(curve: str, x: float) -> float:
    """Gain of a fade-in at progress x in [0, 1]; a fade-out uses 1 - x.

    equal_power keeps the summed power of a crossfade constant (sin/cos); s_curve eases in
    and out (raised cosine); linear keeps the summed amplitude constant.
    """
    x = min(1.0, max(0.0, x))
    if curve == "linear":
        return x
    if curve == "equal_power":
        return math.sin(x * math.pi / 2)
    return 0.5 - 0.5 * math.cos(x * math.pi)
