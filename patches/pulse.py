"""pulse — an ostinato arpeggio over the chord tones, on sixteenths.

Density decides which sixteenths play (strong steps first: at 0 only the beats, at 1 every
sixteenth); the accent lifts the strong steps; brightness opens each note's filter.

Controls: brightness, density, accent. Args: octave (default 1), pattern (list of chord-tone
indices walked one per sixteenth, default [0, 1, 2, 3, 2, 1, 3, 4]).
"""

from __future__ import annotations

from adaptive.patches._common import STEP_STRENGTH, PyoObject, decay_env, step_gate, table

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {
    "brightness": ControlSpec(0.4, "0 muted .. 1 bright"),
    "density": ControlSpec(0.5, "0 beats only .. 1 every sixteenth"),
    "accent": ControlSpec(0.5, "how much strong steps stand out"),
}


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    octave = int(ctx.arg("octave", 1))
    pattern = [int(i) for i in ctx.arg("pattern", [0, 1, 2, 3, 2, 1, 3, 4])]
    brightness, density = ctx.controls["brightness"], ctx.controls["density"]
    accent = ctx.controls["accent"]
    trigger, step = step_gate(ctx, 4.0, density)
    walk = pyo.Wrap(ctx.clock.step_index(4.0), 0.0, float(len(pattern)))
    tone_index = pyo.TableIndex(table(ctx, [float(i % 4) for i in pattern]), walk)
    octave_up = pyo.TableIndex(table(ctx, [12.0 * (i // 4) for i in pattern]), walk)
    tones = [ctx.harmony.chord_tone(i) for i in range(4)]
    pitch = pyo.Selector(tones, voice=tone_index) + octave_up + 12.0 * octave
    freq = pyo.MToF(pitch)
    seconds = 60.0 / 96.0  # decay scaled to a moderate tempo; short notes stay short
    step_seconds = ctx.clock.samples_per_beat / ctx.sample_rate / 4.0
    envelope = decay_env(ctx, trigger, min(seconds, step_seconds * 3.0), attack=0.004,
                         curve=2.5)
    strength = pyo.TableIndex(table(ctx, STEP_STRENGTH), pyo.Wrap(step, 0.0, 16.0))
    level = pyo.SampHold(1.0 - accent * 0.6 * (1.0 - strength), trigger, 1.0)
    square = pyo.Osc(pyo.SquareTable(order=15, size=8192), freq, mul=0.5)
    saw = pyo.Osc(pyo.SawTable(order=20, size=8192), freq * 1.003, mul=0.4)
    cutoff = 300.0 + (600.0 + brightness * 5000.0) * envelope
    voice = pyo.Biquad(square + saw, freq=cutoff, q=1.8, type=0, mul=envelope * level * 0.22)
    echo = pyo.Delay(voice, delay=[step_seconds * 3.0, step_seconds * 2.0], feedback=0.25,
                     maxdelay=2.0, mul=0.35)
    return pyo.Mix([voice + echo[0], voice + echo[1]], voices=2)
