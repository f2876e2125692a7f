"""Section choice: parameters pick a section (or a rest) without flapping at a boundary.

Two guards work together. Hysteresis makes the current pick sticky in parameter space (its
ranges widen, or its mood point looks closer, by `hysteresis`). Dwell is a debounce in
time: a new pick acts only after it has held continuously for `dwell` seconds, so a
parameter oscillating around a boundary faster than that never moves the music.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from adaptive.score.model import Choice, Parameter, Section

REST = "@rest"
"""The pick of a rule that asks for silence instead of a section."""


def pick(choice: Choice, sections: Mapping[str, Section], parameters: Mapping[str, Parameter],
         values: Mapping[str, float], current: str | None) -> str | None:
    """The section (or REST) the parameters ask for; None when the score has no rule for it."""
    if choice.mode == "rules":
        for rule in choice.rules:
            target = REST if rule.rest else rule.section
            margin = choice.hysteresis if target == current else 0.0
            if all(low - margin <= values[name] <= high + margin
                   for name, (low, high) in rule.when.items()):
                return target
        return None
    if choice.mode == "nearest":
        best, best_distance = None, math.inf
        for name, section in sections.items():
            if not section.mood:
                continue
            distance = math.sqrt(sum(
                ((values[p] - v) / (parameters[p].max - parameters[p].min)) ** 2
                for p, v in section.mood.items()))
            if name == current:
                distance -= choice.hysteresis
            if distance < best_distance:
                best, best_distance = name, distance
        return best
    return None


def explain(choice: Choice, sections: Mapping[str, Section],
            parameters: Mapping[str, Parameter], values: Mapping[str, float],
            current: str | None, target: str) -> str:
    """Why the parameters picked `target`, for the log: the rule and the values it saw."""
    picked = "a rest" if target == REST else target
    if choice.mode == "rules":
        for index, rule in enumerate(choice.rules):
            if (REST if rule.rest else rule.section) != target:
                continue
            ranges = ", ".join(f"{name} {values[name]:.2f} in [{low:g}, {high:g}]"
                               for name, (low, high) in rule.when.items())
            return f"choice rule {index} picked {picked}" + (f" ({ranges})" if ranges else
                                                            " (the fallback)")
    if choice.mode == "nearest":
        point = ", ".join(f"{name} {values[name]:.2f}" for name in sorted(values))
        return f"nearest mood to ({point}) is {picked}"
    return f"choice picked {picked}"


@dataclass
class Debounce:
    """Tracks a pick that must hold for `dwell_samples` before it is acted upon."""

    dwell_samples: int
    acted: str | None = None
    candidate: str | None = None
    since: int = 0

    def observe(self, picked: str | None, now: int) -> None:
        if picked is None or picked == self.acted:
            self.candidate = None
        elif picked != self.candidate:
            self.candidate, self.since = picked, now

    def due(self) -> int | None:
        """Sample at which the candidate becomes actionable, if there is one."""
        return None if self.candidate is None else self.since + self.dwell_samples

    def take(self, now: int) -> str | None:
        """The candidate if it has held long enough; it then becomes the acted pick."""
        due = self.due()
        if due is None or now < due:
            return None
        self.acted, self.candidate = self.candidate, None
        return self.acted
