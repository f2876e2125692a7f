"""percussion — a synthesised kit: kick, snare (or toms) and hats.

Density adds hits from the strongest steps of the bar down; intensity makes them harder
and brighter. Noise comes from a seeded table, so renders stay bit-identical.

Controls: density, intensity. Args: style ("straight": kick, snare, hats; "toms": low and
high toms instead of the snare, sparse hats; "half": half-time snare on beat 3).
"""

from __future__ import annotations

from adaptive.patches._common import PyoObject, decay_env, noise, noise_table, step_gate

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {
    "density": ControlSpec(0.5, "0 a kick on the one .. 1 busy"),
    "intensity": ControlSpec(0.6, "0 soft .. 1 hard"),
}

KICK = [1.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.5, 0.2, 0.85, 0.0, 0.35, 0.0, 0.0, 0.15, 0.4, 0.0]
SNARE = [0.0, 0.0, 0.0, 0.0, 0.95, 0.0, 0.0, 0.2, 0.0, 0.1, 0.0, 0.0, 0.95, 0.0, 0.3, 0.25]
HALF = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.95, 0.0, 0.0, 0.1, 0.0, 0.0, 0.3, 0.0]
HATS = [0.7, 0.3, 0.8, 0.35, 0.7, 0.3, 0.8, 0.4, 0.7, 0.3, 0.8, 0.35, 0.7, 0.3, 0.85, 0.45]
TOM_LOW = [0.0, 0.0, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.5, 0.0, 0.0]
TOM_HIGH = [0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8, 0.0, 0.0, 0.4]


def _bar(pattern: list[float], per_bar: int) -> list[float]:
    return [pattern[(i * 16 // per_bar) % 16] for i in range(per_bar)]


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    style = str(ctx.arg("style", "straight"))
    density, intensity = ctx.controls["density"], ctx.controls["intensity"]
    per_bar = 4 * ctx.clock.beats_per_bar
    white = noise_table(ctx)
    hits = []

    kick_trigger, _ = step_gate(ctx, 4.0, density, _bar(KICK, per_bar))
    kick_env = decay_env(ctx, kick_trigger, 0.45, attack=0.003, curve=2.2)
    kick_pitch = decay_env(ctx, kick_trigger, 0.12, attack=0.001, curve=3.0)
    kick = pyo.Sine(48.0 + 110.0 * kick_pitch, mul=kick_env * (0.5 + 0.25 * intensity))
    hits.append(pyo.Tanh(kick * 1.5, mul=0.6))

    if style == "toms":
        for pattern, base, phase in ((TOM_LOW, 92.0, 0.1), (TOM_HIGH, 146.0, 0.5)):
            trigger, _ = step_gate(ctx, 4.0, density, _bar(pattern, per_bar))
            env = decay_env(ctx, trigger, 0.5, attack=0.003, curve=2.5)
            bend = decay_env(ctx, trigger, 0.2, attack=0.001, curve=2.0)
            tom = pyo.Sine(base + base * 0.6 * bend, mul=env * (0.3 + 0.2 * intensity))
            skin = pyo.Biquad(noise(ctx, white, phase=phase), freq=base * 6, q=2,
                              mul=env * 0.05)
            hits.append(tom + skin)
    else:
        pattern = HALF if style == "half" else SNARE
        trigger, _ = step_gate(ctx, 4.0, density, _bar(pattern, per_bar))
        env = decay_env(ctx, trigger, 0.22, attack=0.002, curve=2.8)
        body = pyo.Sine(185.0, mul=env * 0.18)
        rattle = pyo.Biquad(noise(ctx, white, phase=0.3), freq=1800.0 + 1500.0 * intensity,
                            q=0.8, type=2, mul=env * (0.1 + 0.1 * intensity))
        hits.append(body + rattle)

    hat_density = density * density if style == "toms" else density
    hat_trigger, _ = step_gate(ctx, 4.0, hat_density, _bar(HATS, per_bar))
    hat_env = decay_env(ctx, hat_trigger, 0.06, attack=0.001, curve=4.0)
    hat = pyo.Biquad(noise(ctx, white, phase=0.7), freq=7500.0, q=0.7, type=1,
                     mul=hat_env * (0.02 + 0.03 * intensity))
    mix = pyo.Mix(hits, voices=1)
    return pyo.Mix([(mix + hat * 0.8) * 0.8, (mix + hat * 1.2) * 0.8], voices=2)
