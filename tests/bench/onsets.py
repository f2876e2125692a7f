"""Onset accuracy of transitions and stingers, offline: the worst error in samples.

For a spread of tempi (fractional ones included), meters and quantization units, render a
transition into a marker stem and a stinger, read the impulse's sample, and compare it
with the ideal instant computed from tempo and meter. Prints a table and the worst error.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from adaptive.commands import parse_command
from adaptive.render import render
from adaptive.score.load import load_score
from tests.audio import impulses, write_marker, write_sine

SR = 48000
CASES = [(97.0, "4/4", "bar"), (97.0, "4/4", "beat"), (133.3, "3/4", "bar"),
         (121.5, "6/8", "beat"), (61.7, "7/8", "bar"), (173.0, "5/4", "beat"),
         (89.99, "4/4", "phrase")]


def beat_samples(tempo: float, meter: str) -> tuple[float, int]:
    top, bottom = (int(x) for x in meter.split("/"))
    return SR * 60.0 / tempo * 4.0 / bottom, top


def collect() -> list[dict[str, object]]:
    """One row per case: tempo, meter, unit, kind, ideal instant, heard sample, error."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_sine(directory / "bed.wav", 441.0, 70.0, amplitude=0.05)
        write_marker(directory / "mark.wav", 40.0)
        for tempo, meter, unit in CASES:
            beat, beats_per_bar = beat_samples(tempo, meter)
            step = {"beat": beat, "bar": beat * beats_per_bar,
                    "phrase": beat * beats_per_bar * 2}[unit]
            for kind in ("transition", "stinger"):
                (directory / "score.toml").write_text(f"""
[sections.a]
tempo = {tempo}
meter = "{meter}"
bars = 16
phrase_bars = 2
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = {tempo}
meter = "{meter}"
bars = 4
[sections.b.layers.mark]
stem = "mark.wav"
[[transitions]]
when = "{unit}"
[stingers.s]
stem = "mark.wav"
when = "{'bar' if unit == 'phrase' else unit}"
""")
                loaded = load_score(directory / "score.toml")
                command_at = 5.123
                command = ({"cmd": "section", "name": "b"} if kind == "transition"
                           else {"cmd": "stinger", "name": "s"})
                result = render(loaded, [(round(command_at * SR), parse_command(command))],
                                round((command_at + 10.0) * SR))
                assert result.audio is not None
                unit_step = step if kind == "transition" or unit != "phrase" else \
                    beat * beats_per_bar
                ideal = math.ceil(command_at * SR / unit_step) * unit_step
                heard = int(impulses(result.audio)[0])
                rows.append({"tempo": tempo, "meter": meter, "unit": unit, "kind": kind,
                             "ideal": ideal, "heard": heard, "error": heard - ideal})
    return rows


def main() -> None:
    print(f"{'tempo':>7} {'meter':>5} {'unit':>7} {'kind':>10} {'ideal':>14} {'heard':>9} "
          f"{'error':>7}")
    rows = collect()
    for r in rows:
        print(f"{r['tempo']:>7} {r['meter']:>5} {r['unit']:>7} {r['kind']:>10} "
              f"{r['ideal']:>14.3f} {r['heard']:>9} {r['error']:>+7.3f}")
    worst = max(abs(float(r["error"])) for r in rows)  # type: ignore[arg-type]
    print(f"worst onset error: {worst:.3f} samples (the graph rounds up: heard = "
          "ceil(ideal), so the error lies in [0, 1))")


if __name__ == "__main__":
    main()
