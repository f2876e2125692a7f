"""`state_at` on a feature-length cue sheet: how long "what is sounding at sample N" takes.

A two-hour timeline of 2,000 cues (parameters, states, sections, stingers, rests and
resumes, spread evenly) on the demo score; `state_at` at ten points from the start to the
end, each timed over a few repeats (the best of them: the replay is deterministic).
Figures are printed, never asserted.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from adaptive.cli import demo_paths
from adaptive.commands import Command, parse_command
from adaptive.runtime.state import state_at
from adaptive.score.load import load_score

HOURS = 2.0
CUES = 2000


def timeline(score: Any, rate: int, seed: int = 7) -> list[tuple[int, Command]]:
    rng = random.Random(seed)
    sections = sorted(score.sections)
    stingers = sorted(score.stingers)
    states = sorted(score.states)
    params = sorted(score.parameters)
    total = HOURS * 3600.0
    history: list[tuple[int, Command]] = []
    for index in range(CUES):
        at = round((index + rng.random()) * total / CUES * rate)
        kind = rng.choice(["param", "param", "params", "state", "section", "stinger", "rest",
                           "resume"])
        body: dict[str, object] = {"cmd": kind}
        if kind == "param":
            body |= {"name": rng.choice(params), "value": rng.random()}
        elif kind == "params":
            body |= {"values": {name: rng.random() for name in params}}
        elif kind == "state" and states:
            body |= {"name": rng.choice(states)}
        elif kind == "section":
            body |= {"name": rng.choice(sections)}
        elif kind == "stinger" and stingers:
            body |= {"name": rng.choice(stingers)}
        elif kind in ("state", "stinger"):
            body = {"cmd": "resume"}
        history.append((at, parse_command(body)))
    return history


def collect(repeats: int = 3) -> dict[str, Any]:
    loaded = load_score(demo_paths()[0])
    rate = loaded.sample_rate
    history = timeline(loaded.score, rate)
    end = round(HOURS * 3600 * rate)
    points = [round(end * k / 10) for k in range(1, 11)]
    times_ms = []
    for sample in points:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            state_at(loaded.score, history, sample, rate)
            best = min(best, time.perf_counter() - started)
        times_ms.append(best * 1000)
    final = state_at(loaded.score, history, end - 1, rate)
    return {"hours": HOURS, "cues": CUES, "points": len(points),
            "median_ms": statistics.median(times_ms), "max_ms": max(times_ms),
            "at_end_ms": times_ms[-1], "sounding_at_end": list(final.sounding)}


def main() -> None:
    figures = collect()
    print(f"state_at on a {figures['hours']:.0f} h timeline of {figures['cues']} cues "
          f"(demo score): median {figures['median_ms']:.1f} ms, worst "
          f"{figures['max_ms']:.1f} ms (at the end: {figures['at_end_ms']:.1f} ms; "
          f"sounding there: {', '.join(figures['sounding_at_end']) or 'nothing'})")


if __name__ == "__main__":
    main()
