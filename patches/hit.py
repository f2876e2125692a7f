"""hit — a stinger: a low boom, a bright crack and a chord stab that rings out.

It sounds once, from the first sample of its voice. Controls: weight (0 light .. 1 heavy).
Args: octave (of the stab, default 0).
"""

from __future__ import annotations

from adaptive.patches._common import PyoObject, decay_env, noise, noise_table

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {"weight": ControlSpec(0.7, "0 light .. 1 heavy")}


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    weight = ctx.controls["weight"]
    octave = int(ctx.arg("octave", 0))
    # the step index changes from -1 to 0 on the voice's first sample: one trigger
    start = ctx.clock.trigger(1.0 / 64.0)
    boom_env = decay_env(ctx, start, 1.8, attack=0.002, curve=2.5)
    boom_bend = decay_env(ctx, start, 0.35, attack=0.001, curve=2.0)
    boom = pyo.Sine(38.0 + 70.0 * boom_bend, mul=boom_env * (0.35 + 0.3 * weight))
    crack_env = decay_env(ctx, start, 0.35, attack=0.001, curve=4.0)
    crack = pyo.Biquad(noise(ctx, noise_table(ctx)), freq=2400.0, q=0.6, type=2,
                       mul=crack_env * 0.25)
    stab_env = decay_env(ctx, start, 2.6, attack=0.004, curve=1.8)
    saw = pyo.SawTable(order=20, size=8192)
    tones = [pyo.Osc(saw, pyo.MToF(ctx.harmony.chord_tone(i) + 12.0 * octave) *
                     (1.0 + 0.002 * (i - 1.5)), mul=0.07) for i in range(4)]
    stab = pyo.MoogLP(pyo.Mix(tones, voices=1), freq=400.0 + 3000.0 * stab_env, res=0.2,
                      mul=stab_env)
    dry = pyo.Tanh((boom + crack + stab) * 1.2, mul=0.8)
    return pyo.Freeverb(pyo.Mix([dry, dry], voices=2), size=0.9, damp=0.4, bal=0.3)
