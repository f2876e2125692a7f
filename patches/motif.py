"""motif — the score's theme: a melody in scale degrees that recurs and grows.

The theme is given as scale degrees and durations (in sixteenths); it repeats every whole
number of bars. `variation` makes it return changed: a voice a third above joins on the
long notes, passing notes fill the leaps, and an octave doubling thickens it.

Controls: brightness (FM index), variation (0 plain .. 1 ornamented), register (0 as
written .. 1 an octave up). Args: notes (scale degrees, default a rising and falling
line), rhythm (sixteenths per note, default all 4), octave (default 1).
"""

from __future__ import annotations

import math

from adaptive.patches._common import PyoObject, gate_env, table

from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS = {
    "brightness": ControlSpec(0.4, "0 soft .. 1 bright"),
    "variation": ControlSpec(0.0, "0 the plain theme .. 1 ornamented and doubled"),
    "register": ControlSpec(0.0, "0 as written .. 1 an octave up"),
}


def _steps(notes: list[int], rhythm: list[int], bars: int) -> tuple[list[float], ...]:
    """Per-sixteenth tables: onset, degree, length in steps; plus the ornament's."""
    total = bars * 16
    onset, degree, length = [0.0] * total, [0.0] * total, [1.0] * total
    ornament_onset, ornament_degree = [0.0] * total, [0.0] * total
    position = 0
    for index, (note, steps) in enumerate(zip(notes, rhythm, strict=False)):
        nxt = notes[(index + 1) % len(notes)]
        for k in range(steps):
            degree[position + k] = float(note)
            ornament_degree[position + k] = float(note + 2)
        onset[position] = 1.0
        length[position] = float(steps)
        ornament_onset[position] = 1.0 if steps >= 4 else 0.0
        if steps >= 4 and abs(nxt - note) >= 2:  # a passing note into the next
            half = position + steps // 2
            onset[half] = 1.0
            length[position] = float(steps // 2)
            length[half] = float(steps - steps // 2)
            for k in range(half, position + steps):
                degree[k] = float(note + (1 if nxt > note else -1))
            # the passing note belongs to the variation only: mark it for the gate
            onset[half] = 0.5
        position += steps
    return onset, degree, length, ornament_onset, ornament_degree


def build(ctx: PatchContext) -> PyoObject:
    pyo = ctx.pyo
    notes = [int(n) for n in ctx.arg("notes", [0, 2, 4, 5, 4, 2, 1, 0])]
    rhythm = [int(r) for r in ctx.arg("rhythm", [4] * len(notes))][: len(notes)]
    rhythm += [4] * (len(notes) - len(rhythm))
    octave = int(ctx.arg("octave", 1))
    brightness, variation = ctx.controls["brightness"], ctx.controls["variation"]
    register = ctx.controls["register"]
    per_bar = 4 * ctx.clock.beats_per_bar
    bars = max(1, math.ceil(sum(rhythm) / per_bar))
    onset, degree, length, ornament_onset, ornament_degree = _steps(notes, rhythm, bars)
    step = pyo.Wrap(ctx.clock.step_index(4.0), 0.0, float(bars * per_bar))
    trigger = ctx.clock.trigger(4.0)
    step_seconds = ctx.clock.samples_per_beat / ctx.sample_rate / 4.0

    # plain notes always; passing notes (onset 0.5) only with variation
    kind = pyo.TableIndex(table(ctx, onset), step)
    plays = pyo.Compare(kind, 0.99, ">=") + pyo.Compare(kind, 0.4, ">=") * \
        pyo.Compare(kind, 0.6, "<") * pyo.Compare(variation, 0.3, ">=")
    note_trigger = trigger * plays
    shift = pyo.Round(register) * 12.0 + 12.0 * octave
    pitch = ctx.harmony.scale_pitch(pyo.TableIndex(table(ctx, degree), step)) + shift
    duration = pyo.TableIndex(table(ctx, length), step) * step_seconds * 0.92
    envelope = gate_env(ctx, note_trigger, duration, attack=0.08, release=0.35)
    vibrato = pyo.Sine(5.2, mul=0.0025)
    freq = pyo.Port(pyo.MToF(pitch), risetime=0.025, falltime=0.025) * (1.0 + vibrato)
    lead = pyo.FM(freq, ratio=1.0, index=0.6 + brightness * 3.0, mul=envelope * 0.16)

    ornament_trigger = trigger * pyo.TableIndex(table(ctx, ornament_onset), step)
    ornament_pitch = ctx.harmony.scale_pitch(
        pyo.TableIndex(table(ctx, ornament_degree), step)) + shift
    ornament_env = gate_env(ctx, ornament_trigger, duration, attack=0.2, release=0.4)
    harmony_voice = pyo.FM(pyo.MToF(ornament_pitch), ratio=2.0, index=0.4 + brightness,
                           mul=ornament_env * 0.08 * variation)
    doubling = pyo.Sine(freq * 0.5, mul=envelope * 0.1 * variation)

    dry = lead + harmony_voice + doubling
    space = pyo.Freeverb(pyo.Mix([dry, dry], voices=2), size=0.82, damp=0.55, bal=0.28)
    echo = pyo.Delay(dry, delay=[step_seconds * 6.0, step_seconds * 5.0], feedback=0.3,
                     maxdelay=3.0, mul=0.18)
    return space + echo
