"""Shared helpers for the bundled patches (not a patch itself: its name starts with _)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adaptive.engine.graph import table_from_array
from adaptive.engine.patch_api import PatchContext

PyoObject = Any

# how strongly each of the 16 sixteenths of a 4/4 bar belongs to the groove (1 = downbeat)
STEP_STRENGTH = [1.0, 0.1, 0.4, 0.15, 0.75, 0.1, 0.45, 0.2,
                 0.9, 0.1, 0.4, 0.15, 0.7, 0.15, 0.5, 0.25]


def table(ctx: PatchContext, values: list[float] | np.ndarray) -> PyoObject:
    return table_from_array(ctx.pyo, np.asarray(values, dtype=np.float64))


def step_gate(ctx: PatchContext, steps_per_beat: float, density: PyoObject,
              strengths: list[float] | None = None) -> tuple[PyoObject, PyoObject]:
    """(trigger, step index in bar) for the steps whose strength >= 1 - density."""
    pyo = ctx.pyo
    per_bar = round(steps_per_beat * ctx.clock.beats_per_bar)
    strengths = strengths or [STEP_STRENGTH[(i * 16 // per_bar) % 16] if per_bar else 1.0
                              for i in range(per_bar)]
    step = pyo.Wrap(ctx.clock.step_index(steps_per_beat), 0.0, float(per_bar))
    strength = pyo.TableIndex(table(ctx, strengths), step)
    gate = pyo.Compare(strength, 1.0 - density, ">=")
    return ctx.clock.trigger(steps_per_beat) * gate, step


def noise_table(ctx: PatchContext, seconds: float = 1.0) -> PyoObject:
    """Deterministic white noise (seeded), to be read by `noise`."""
    rng = np.random.default_rng(ctx.seed + 7919)
    return table(ctx, rng.uniform(-1.0, 1.0, int(ctx.sample_rate * seconds)))


def noise(ctx: PatchContext, table_: PyoObject, seconds: float = 1.0,
          phase: float = 0.0) -> PyoObject:
    """The noise table read at the voice's position (not from when it started): a seek
    and a straight play of the same bar hear the same noise, so renders stay repeatable
    wherever they start."""
    pyo = ctx.pyo
    size = float(int(ctx.sample_rate * seconds))
    return pyo.TableIndex(table_, pyo.Wrap(ctx.clock.position + phase * size, 0.0, size))


def decay_env(ctx: PatchContext, trigger: PyoObject, seconds: float | PyoObject,
              attack: float = 0.002, curve: float = 3.0) -> PyoObject:
    """A percussive envelope: a short linear attack, then an exponential-looking decay."""
    points = 512
    x = np.linspace(0.0, 1.0, points)
    attack_points = max(2, int(points * attack / 0.5))
    shape = np.concatenate([np.linspace(0.0, 1.0, attack_points),
                            (1.0 - x[attack_points:]) ** curve])
    return ctx.pyo.TrigEnv(trigger, table(ctx, shape), dur=seconds)


def gate_env(ctx: PatchContext, trigger: PyoObject, seconds: float | PyoObject,
             attack: float = 0.15, release: float = 0.3) -> PyoObject:
    """A sustained note: attack, hold, release (fractions of the note length)."""
    points = 1024
    a, r = int(points * attack), int(points * release)
    shape = np.concatenate([0.5 - 0.5 * np.cos(np.linspace(0, np.pi, a)),
                            np.ones(points - a - r),
                            0.5 + 0.5 * np.cos(np.linspace(0, np.pi, r))])
    return ctx.pyo.TrigEnv(trigger, table(ctx, shape), dur=seconds)
