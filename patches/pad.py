"""pad — a warm, slowly moving pad on the section's chords.

Each chord tone is two detuned band-limited saws (one per side, wavetables: a fifth of the
cost of pyo's LFO) and a triangle an octave below, through a resonant low-pass; chord
changes glide on the downbeat.

Controls: brightness (0 dark .. 1 open filter), motion (0 still .. 1 drifting filter and
width). Args: octave (int, default 0), tones (1-4 chord tones, default 4).
"""

from __future__ import annotations

from adaptive.patches._common import PyoObject

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {
    "brightness": ControlSpec(0.4, "0 dark .. 1 open"),
    "motion": ControlSpec(0.3, "0 still .. 1 drifting"),
}


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    octave = int(ctx.arg("octave", 0))
    tones = max(1, min(4, int(ctx.arg("tones", 4))))
    brightness, motion = ctx.controls["brightness"], ctx.controls["motion"]
    saw, triangle = pyo.SawTable(order=24, size=8192), pyo.TriangleTable(order=12, size=8192)
    left, right = [], []
    for tone in range(tones):
        first = float(ctx.harmony.harmony.chords[0][tone] + 12 * octave)
        pitch = pyo.Port(ctx.harmony.chord_tone(tone) + 12.0 * octave, risetime=0.12,
                         falltime=0.12, init=first)
        freq = pyo.MToF(pitch)
        left.append(pyo.Osc(saw, freq * 0.9965, phase=0.1 * tone, mul=0.05))
        right.append(pyo.Osc(saw, freq * 1.0035, phase=0.6 - 0.1 * tone, mul=0.05))
        sub = pyo.Osc(triangle, freq * 0.5, mul=0.05)
        left.append(sub)
        right.append(sub)
    drift = pyo.Sine(freq=[0.07, 0.09], phase=[0.0, 0.3])
    cutoff = pyo.Clip(220.0 + brightness * brightness * 3800.0 + drift * motion * 700.0,
                      80.0, 9000.0)
    filtered = pyo.MoogLP(pyo.Mix([pyo.Mix(left), pyo.Mix(right)], voices=2), freq=cutoff,
                          res=0.25)
    swell = pyo.Port(ctx.clock.running, risetime=1.2, falltime=2.0)
    return pyo.DCBlock(filtered, mul=swell * 0.9)
