"""bass — a bass line on the chord roots, with fifths on the offbeats when it gets busy.

Controls: brightness (filter), density (0 whole notes on the downbeat .. 1 driving eighths),
drive (grit). Args: octave (default -1: roots around C2).
"""

from __future__ import annotations

from adaptive.patches._common import PyoObject, decay_env, step_gate, table

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {
    "brightness": ControlSpec(0.3, "0 round .. 1 biting"),
    "density": ControlSpec(0.4, "0 one note a bar .. 1 eighths"),
    "drive": ControlSpec(0.2, "0 clean .. 1 gritty"),
}

# eighth-note strengths over a 4/4 bar; fifths sound on the weak ones
EIGHTH_STRENGTH = [1.0, 0.2, 0.6, 0.3, 0.8, 0.25, 0.55, 0.35]
FIFTH = [0.0, 7.0, 0.0, 12.0, 0.0, 7.0, 0.0, 7.0]


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    octave = int(ctx.arg("octave", -1))
    brightness, density = ctx.controls["brightness"], ctx.controls["density"]
    drive = ctx.controls["drive"]
    per_bar = 2 * ctx.clock.beats_per_bar
    strengths = [EIGHTH_STRENGTH[i % 8] for i in range(per_bar)]
    trigger, step = step_gate(ctx, 2.0, density, strengths)
    interval = pyo.TableIndex(table(ctx, [FIFTH[i % 8] for i in range(per_bar)]), step)
    busy = pyo.Compare(density, 0.6, ">=")
    pitch = ctx.harmony.chord_tone(0) + 12.0 * octave + interval * busy
    freq = pyo.Port(pyo.MToF(pitch), risetime=0.004, falltime=0.004)
    step_seconds = ctx.clock.samples_per_beat / ctx.sample_rate / 2.0
    length = step_seconds * (1.0 + 6.0 * (1.0 - density))
    envelope = decay_env(ctx, trigger, length, attack=0.006, curve=1.6)
    saw = pyo.Osc(pyo.SawTable(order=30, size=8192), freq, mul=0.5)
    sub = pyo.Sine(freq, mul=0.6)
    cutoff = 90.0 + (150.0 + brightness * 1400.0) * envelope
    body = pyo.MoogLP(saw + sub, freq=cutoff, res=0.3)
    gritty = pyo.Tanh(body * (1.0 + drive * 6.0), mul=1.0 / (1.0 + drive * 2.0))
    out = pyo.DCBlock(gritty * envelope * 0.32)
    return pyo.Mix([out, out], voices=2)
