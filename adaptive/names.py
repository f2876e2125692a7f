"""Which score names a command refers to, and whether the score has them. Pure.

One table (`REFERENCES`) says, per command, which fields name a parameter, state, section,
stinger or layer. A timeline is checked with it before rendering (every problem, with a
"did you mean"), and the live server with it on every message (the first problem, counted):
the same rule in both, so a cue refused offline is refused live.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adaptive.commands import (
    Arm,
    Command,
    Devamp,
    Disarm,
    Go,
    GoToSection,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    Panic,
    Play,
    PlayStinger,
    Rest,
    Resume,
    SetParam,
    SetParams,
    SetState,
    Stop,
    TempoBend,
    Transport,
    Vamp,
)
from adaptive.score.model import Score

Reference = tuple[str, str, str]
"""(field of the command, kind of name, the name)"""


def _one(field: str, kind: str) -> Callable[[Any], list[Reference]]:
    return lambda command: [(field, kind, getattr(command, field))]


def _params(command: SetParams) -> list[Reference]:
    return [(f"values.{name}", "parameter", name) for name in command.values]


def _resume(command: Resume) -> list[Reference]:
    return [] if command.section is None else [("section", "section", command.section)]


def _none(command: Command) -> list[Reference]:
    return []


def _arm(command: Arm) -> list[Reference]:
    if command.name is None or command.what == "rest":
        return []
    return [("name", "section" if command.what == "resume" else command.what, command.name)]


REFERENCES: dict[type, Callable[[Any], list[Reference]]] = {
    SetParam: _one("name", "parameter"), SetParams: _params, SetState: _one("name", "state"),
    GoToSection: _one("name", "section"), PlayStinger: _one("name", "stinger"),
    Resume: _resume, LayerMute: _one("layer", "layer"), LayerSolo: _one("layer", "layer"),
    LayerGain: _one("layer", "layer"), LayerAuto: _one("layer", "layer"),
    Rest: _none, Play: _none, Stop: _none, TempoBend: _none, Transport: _none,
    Arm: _arm, Go: _none, Disarm: _none, Vamp: _none, Devamp: _none, Panic: _none,
}
"""Per command, the score names it refers to: one table, checked complete by a test."""

_DECLARE = {"parameter": "declare it under [parameters]", "state": "declare it under [states]",
            "section": "declare it under [sections]", "stinger": "declare it under [stingers]",
            "layer": "add layers to a section"}


def parameter_values(command: Command) -> dict[str, float]:
    """The parameter values a command sets (to count those out of range)."""
    if isinstance(command, SetParam):
        return {command.name: command.value}
    if isinstance(command, SetParams):
        return dict(command.values)
    return {}


@dataclass(frozen=True)
class NameProblem:
    field: str
    message: str
    fix: str


class ScoreNames:
    """The names a score declares, per kind. A layer is named alone (every section that has
    it) or as 'section.layer'."""

    def __init__(self, score: Score) -> None:
        self.score = score
        layers = {layer for spec in score.sections.values() for layer in spec.layers}
        qualified = {f"{section}.{layer}" for section, spec in score.sections.items()
                     for layer in spec.layers}
        self._listed = {"layer": sorted(layers) + sorted(qualified)}  # plain names first
        self.known: Mapping[str, frozenset[str]] = {
            "parameter": frozenset(score.parameters), "state": frozenset(score.states),
            "section": frozenset(score.sections), "stinger": frozenset(score.stingers),
            "layer": frozenset(layers | qualified)}

    def unknown(self, command: Command) -> list[Reference]:
        """The references of a command the score does not declare (fast: every message)."""
        return [ref for ref in REFERENCES[type(command)](command)
                if ref[2] not in self.known[ref[1]]]

    def problems(self, command: Command) -> list[NameProblem]:
        """Each unknown name with a message and a fix ("did you mean ...")."""
        return [self._describe(field, kind, name)
                for field, kind, name in self.unknown(command)]

    def _describe(self, field: str, kind: str, name: str) -> NameProblem:
        if kind == "layer":
            section, dot, layer = name.partition(".")
            if dot and section in self.score.sections:  # the section is right: its layers
                own = sorted(self.score.sections[section].layers)
                close = difflib.get_close_matches(layer, own, n=3, cutoff=0.6)
                elsewhere = [f"{other}.{layer}" for other in sorted(self.score.sections)
                             if layer in self.score.sections[other].layers]
                guesses = [f"{section}.{guess}" for guess in close] + elsewhere
                fix = (f"did you mean {' or '.join(map(repr, guesses))}? " if guesses
                       else "") + f"(layers of {section}: {', '.join(own) or 'none'})"
                return NameProblem(field, f"section {section!r} has no layer {layer!r}", fix)
        known = self._listed.get(kind) or sorted(self.known[kind])
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        listed = ", ".join(known) if known else "none"
        if close:
            fix = f"did you mean {' or '.join(map(repr, close))}? (known {kind}s: {listed})"
        elif known:
            fix = f"use one of the score's {kind}s: {listed}"
        else:
            fix = f"the score declares no {kind}; {_DECLARE[kind]}"
        return NameProblem(field, f"unknown {kind} {name!r}", fix)
