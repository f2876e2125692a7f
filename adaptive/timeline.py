"""Timeline files: time-stamped commands for offline renders (and, later, show files).

    duration = 90.0          # seconds to render (default: last cue + 8 s)

    [[cue]]
    at = 12.5                # seconds from the start
    cmd = "params"
    values = { tension = 0.8 }
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from adaptive.commands import Command, parse_command
from adaptive.errors import TimelineError, TimelineProblem
from adaptive.names import ScoreNames
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


def check_timeline(timeline: Timeline, score: Score) -> list[TimelineProblem]:
    """Every cue naming a section, stinger, state, layer or parameter the score lacks.

    Why before rendering: the conductor can only reject such a cue when it comes due, and
    a misspelt layer in a mute would then render with exit 0 while doing nothing. The rule
    is the live server's (`names.ScoreNames`).
    """
    names = ScoreNames(score)
    return [TimelineProblem(cue.index, cue.at, problem.field, problem.message, problem.fix)
            for cue in sorted(timeline.cues, key=lambda cue: cue.index)
            for problem in names.problems(cue.command)]


def require_valid(timeline: Timeline, score: Score, source: str) -> None:
    """Raise a TimelineError listing every problem of the timeline against the score."""
    problems = check_timeline(timeline, score)
    if problems:
        raise TimelineError(f"{source}: {len(problems)} problem(s) against the score",
                            problems)
