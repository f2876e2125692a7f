"""riser — a bridge: a filtered-noise and chord swell that lands on the next downbeat.

Written for a section played once (loop = false): it grows over the whole section and is
cut by the destination's downbeat. Controls: brightness. Args: none.
"""

from __future__ import annotations

from adaptive.patches._common import PyoObject, noise, noise_table

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {"brightness": ControlSpec(0.6, "0 dark .. 1 searing")}


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    brightness = ctx.controls["brightness"]
    progress = pyo.Clip(ctx.clock.position * (1.0 / ctx.clock.length), 0.0, 1.0) * \
        ctx.clock.running
    swell = progress * progress
    hiss = pyo.Biquad(noise(ctx, noise_table(ctx)), freq=300.0 + swell * (2000.0 + 6000.0 *
                      brightness), q=2.5, type=2, mul=swell * 0.3)
    saw = pyo.SawTable(order=20, size=8192)
    tones = [pyo.Osc(saw, pyo.MToF(ctx.harmony.chord_tone(i) + 12.0) * (1.0 + 0.01 * swell),
                     mul=0.05) for i in range(4)]
    chord = pyo.MoogLP(pyo.Mix(tones, voices=1), freq=200.0 + swell * 4000.0, res=0.3,
                       mul=swell)
    return pyo.Mix([hiss + chord * 0.9, hiss * 0.9 + chord], voices=2)
