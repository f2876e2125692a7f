"""Timeline files: time-stamped commands for offline renders (and, later, show files).

    duration = 90.0          # seconds to render (default: last cue + 8 s)

    [[cue]]
    at = 12.5                # seconds from the start
    cmd = "params"
    values = { tension = 0.8 }
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from adaptive.commands import (
    Command,
    GoToSection,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    PlayStinger,
    Resume,
    SetParam,
    SetParams,
    SetState,
    parse_command,
)
from adaptive.errors import TimelineError, TimelineProblem
from adaptive.score.model import Score

DEFAULT_TAIL_SECONDS = 8.0


@dataclass(frozen=True)
class Cue:
    at: float  # seconds
    command: Command
    index: int = 0  # position in the file's [[cue]] list (cues are sorted by time)


@dataclass(frozen=True)
class Timeline:
    cues: tuple[Cue, ...]
    duration: float

    def at_samples(self, sample_rate: int) -> list[tuple[int, Command]]:
        return [(round(cue.at * sample_rate), cue.command) for cue in self.cues]


def parse_timeline(data: dict[str, object], source: str) -> Timeline:
    unknown = set(data) - {"duration", "cue"}
    if unknown:
        raise TimelineError(f"{source}: unknown top-level field(s) {sorted(unknown)}; "
                            "fix: use 'duration' and [[cue]] tables")
    raw_cues = data.get("cue", [])
    if not isinstance(raw_cues, list):
        raise TimelineError(f"{source}: 'cue' must be an array of tables ([[cue]])")
    cues = []
    for index, raw in enumerate(raw_cues):
        where = f"{source}: cue[{index}]"
        if not isinstance(raw, dict):
            raise TimelineError(f"{where}: must be a table")
        body = dict(raw)
        at = body.pop("at", None)
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at) \
                or at < 0:
            raise TimelineError(f"{where}.at: {at!r} is not a time in seconds >= 0; "
                                "fix: add at = SECONDS")
        try:
            command = parse_command(body)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'cmd'}: "
                f"{item['msg'].removeprefix('Value error, ')}" for item in error.errors())
            raise TimelineError(f"{where}: {details}") from None
        cues.append(Cue(float(at), command, index))
    cues.sort(key=lambda cue: cue.at)
    last = cues[-1].at if cues else 0.0
    duration = data.get("duration", last + DEFAULT_TAIL_SECONDS)
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration <= 0 \
            or not math.isfinite(duration):
        raise TimelineError(f"{source}: duration {duration!r} must be seconds > 0")
    return Timeline(tuple(cues), float(duration))


def load_timeline(path: str | Path) -> Timeline:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise TimelineError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TimelineError(f"{path}: not valid TOML: {error}") from None
    return parse_timeline(data, str(path))


def _unknown(kind: str, name: str, known: list[str], declare: str) -> tuple[str, str]:
    """The message and fix for a name the score does not declare, with close matches."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    listed = ", ".join(known) if known else "none"
    if close:
        guesses = " or ".join(repr(guess) for guess in close)
        fix = f"did you mean {guesses}? (known {kind}s: {listed})"
    elif known:
        fix = f"use one of the score's {kind}s: {listed}"
    else:
        fix = f"the score declares no {kind}; {declare}"
    return f"unknown {kind} {name!r}", fix


def check_timeline(timeline: Timeline, score: Score) -> list[TimelineProblem]:
    """Every cue naming a section, stinger, state, layer or parameter the score lacks.

    Why before rendering: the conductor can only reject such a cue when it comes due, and
    a misspelt layer in a mute would then render with exit 0 while doing nothing. A layer
    is named alone (any section with that layer) or as 'section.layer'.
    """
    sections = sorted(score.sections)
    params = sorted(score.parameters)
    states = sorted(score.states)
    stingers = sorted(score.stingers)
    layer_names = sorted({layer for spec in score.sections.values() for layer in spec.layers})
    qualified = sorted(f"{section}.{layer}" for section, spec in score.sections.items()
                       for layer in spec.layers)
    problems: list[TimelineProblem] = []

    def problem(cue: Cue, field: str, kind: str, name: str, known: list[str],
                declare: str) -> None:
        message, fix = _unknown(kind, name, known, declare)
        problems.append(TimelineProblem(cue.index, cue.at, field, message, fix))

    for cue in sorted(timeline.cues, key=lambda cue: cue.index):
        command = cue.command
        if isinstance(command, SetParam) and command.name not in score.parameters:
            problem(cue, "name", "parameter", command.name, params,
                    "declare it under [parameters]")
        elif isinstance(command, SetParams):
            for name in command.values:
                if name not in score.parameters:
                    problem(cue, f"values.{name}", "parameter", name, params,
                            "declare it under [parameters]")
        elif isinstance(command, SetState) and command.name not in score.states:
            problem(cue, "name", "state", command.name, states, "declare it under [states]")
        elif isinstance(command, GoToSection) and command.name not in score.sections:
            problem(cue, "name", "section", command.name, sections, "declare it")
        elif isinstance(command, Resume) and command.section is not None \
                and command.section not in score.sections:
            problem(cue, "section", "section", command.section, sections, "declare it")
        elif isinstance(command, PlayStinger) and command.name not in score.stingers:
            problem(cue, "name", "stinger", command.name, stingers,
                    "declare it under [stingers]")
        elif isinstance(command, LayerMute | LayerSolo | LayerGain | LayerAuto):
            name = command.layer
            if name in layer_names or name in qualified:
                continue
            section, dot, layer = name.partition(".")
            if dot and section in score.sections:  # the section is right: suggest its layers
                elsewhere = [f"{other}.{layer}" for other in sections
                             if layer in score.sections[other].layers]
                own = sorted(score.sections[section].layers)
                close = difflib.get_close_matches(layer, own, n=3, cutoff=0.6)
                guesses = [f"{section}.{guess}" for guess in close] + elsewhere
                listed = ", ".join(own) or "none"
                fix = (f"did you mean {' or '.join(map(repr, guesses))}? " if guesses
                       else "") + f"(layers of {section}: {listed})"
                problems.append(TimelineProblem(cue.index, cue.at, "layer",
                                                f"section {section!r} has no layer {layer!r}",
                                                fix))
            else:
                problem(cue, "layer", "layer", name, layer_names + qualified,
                        "add layers to a section")
    return problems


def require_valid(timeline: Timeline, score: Score, source: str) -> None:
    """Raise a TimelineError listing every problem of the timeline against the score."""
    problems = check_timeline(timeline, score)
    if problems:
        raise TimelineError(f"{source}: {len(problems)} problem(s) against the score",
                            problems)
