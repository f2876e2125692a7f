"""Timelines and cue sheets: time-stamped commands, in seconds or in film timecode.

    fps = "24"               # optional: "23.976", "24", "25", "29.97", "29.97df", "30", ...
    start = "01:00:00:00"    # the timecode of film time 0 (default 00:00:00:00; needs fps)
    duration = 90.0          # seconds or a timecode (default: last cue or hit + 8 s)

    [[cue]]
    at = "01:00:12:12"       # a timecode, or film seconds as a number
    label = "1M2"            # optional: shown in status, logs and plots
    cmd = "params"
    values = { tension = 0.8 }

    [[hit]]                  # a moment of the picture the music must land on
    at = "01:01:02:07"
    label = "door slams"
    stinger = "hit"          # or section = NAME (bar = N, default 1), or rest = true
    method = "auto"          # auto | pickup | bend | stinger (see `hits`)

One format for offline renders, the live server's cues and a film's cue sheet: seconds
are film seconds, counted from `start`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from pydantic import ValidationError

from adaptive.commands import Command, parse_command
from adaptive.errors import TimelineError, TimelineProblem
from adaptive.filmtime import FilmClock, FrameRate, timecode_to_frames
from adaptive.names import ScoreNames
from adaptive.score.model import Score

DEFAULT_TAIL_SECONDS = 8.0


HitKind = Literal["stinger", "section", "rest"]
HitMethod = Literal["auto", "pickup", "bend", "stinger"]


@dataclass(frozen=True)
class Cue:
    at: float  # film seconds
    command: Command
    index: int = 0  # position in the file's [[cue]] list (cues are sorted by time)
    label: str | None = None


@dataclass(frozen=True)
class Hit:
    """A moment of the picture the music must land on (see `hits`)."""

    at: float  # film seconds
    label: str
    kind: HitKind
    name: str | None  # the stinger or section; None for a rest
    bar: int = 1  # a section's bar whose downbeat lands on the hit
    method: HitMethod = "auto"
    index: int = 0  # position in the file's [[hit]] list


@dataclass(frozen=True)
class Timeline:
    cues: tuple[Cue, ...]
    duration: float
    hits: tuple[Hit, ...] = ()
    clock: FilmClock | None = None  # with fps: timecodes

    def at_samples(self, sample_rate: int) -> list[tuple[int, Command]]:
        return [(round(cue.at * sample_rate), cue.command) for cue in self.cues]

    def timecode(self, seconds: float) -> str:
        """Film time as the sheet writes it: a timecode with fps, else seconds."""
        if self.clock is not None:
            return self.clock.timecode(seconds)
        return f"{seconds:.3f} s"

    def label_at(self, seconds: float) -> str | None:
        """The label of the last labelled cue at or before film time."""
        label = None
        for cue in self.cues:
            if cue.at > seconds + 1e-9:
                break
            label = cue.label or label
        return label


def _clock(data: dict[str, object], source: str) -> FilmClock | None:
    fps, start = data.get("fps"), data.get("start")
    if fps is None:
        if start is not None:
            raise TimelineError(f"{source}: start: a start timecode needs the film's frame "
                                "rate; fix: add fps = \"24\" (or the film's rate)")
        return None
    if not isinstance(fps, str | int | float) or isinstance(fps, bool):
        raise TimelineError(f"{source}: fps: {fps!r} is not a frame rate")
    try:
        rate = FrameRate.parse(fps)
    except ValueError as error:
        raise TimelineError(f"{source}: fps: {error}") from None
    frames = 0
    if start is not None:
        if not isinstance(start, str):
            raise TimelineError(f"{source}: start: {start!r} is not a timecode; fix: write "
                                "start = \"01:00:00:00\"")
        try:
            frames = timecode_to_frames(start, rate)
        except ValueError as error:
            raise TimelineError(f"{source}: start: {error}") from None
    return FilmClock(rate, frames)


def _film_seconds(value: object, clock: FilmClock | None, where: str) -> float:
    if isinstance(value, str):
        if clock is None:
            raise TimelineError(f"{where}: {value!r} is a timecode, but the sheet has no frame "
                                "rate; fix: add fps = \"24\" (or the film's rate) at the top")
        try:
            return clock.seconds(value)
        except ValueError as error:
            raise TimelineError(f"{where}: {error}") from None
    if not isinstance(value, int | float) or isinstance(value, bool) or \
            not math.isfinite(value) or value < 0:
        raise TimelineError(f"{where}: {value!r} is not a time in seconds >= 0 or a timecode; "
                            "fix: add at = SECONDS or at = \"HH:MM:SS:FF\"")
    return float(value)


def _label(body: dict[str, object], where: str) -> str | None:
    label = body.pop("label", None)
    if label is not None and not isinstance(label, str):
        raise TimelineError(f"{where}.label: {label!r} is not text")
    return label


def _hit(raw: object, index: int, clock: FilmClock | None, source: str) -> Hit:
    where = f"{source}: hit[{index}]"
    if not isinstance(raw, dict):
        raise TimelineError(f"{where}: must be a table")
    body = dict(raw)
    label = _label(body, where) or f"hit {index + 1}"
    where = f"{source}: hit[{index}] {label!r}"
    at = _film_seconds(body.pop("at", None), clock, f"{where}.at")
    kinds = [kind for kind in ("stinger", "section", "rest") if kind in body]
    if len(kinds) != 1:
        raise TimelineError(f"{where}: needs exactly one of stinger = NAME, section = NAME or "
                            f"rest = true (has {kinds or 'none'})")
    kind = kinds[0]
    value = body.pop(kind)
    name: str | None = None
    if kind == "rest":
        if value is not True:
            raise TimelineError(f"{where}.rest: must be true")
    elif not isinstance(value, str) or not value:
        raise TimelineError(f"{where}.{kind}: {value!r} is not a {kind} name")
    else:
        name = value
    bar = body.pop("bar", 1)
    if not isinstance(bar, int) or isinstance(bar, bool) or bar < 1:
        raise TimelineError(f"{where}.bar: {bar!r} is not a bar number >= 1")
    if bar != 1 and kind != "section":
        raise TimelineError(f"{where}.bar: only a section hit has a bar")
    method = body.pop("method", "auto")
    allowed = {"section": ("auto", "pickup", "bend"), "stinger": ("auto", "stinger"),
               "rest": ("auto",)}[kind]
    if method not in allowed:
        raise TimelineError(f"{where}.method: {method!r} does not meet a {kind} hit; fix: one "
                            f"of {', '.join(allowed)}")
    if body:
        raise TimelineError(f"{where}: unknown field(s) {sorted(body)}; fix: use at, label, "
                            "stinger | section (bar) | rest, method")
    return Hit(at, label, cast(HitKind, kind), name, bar, cast(HitMethod, method), index)


def parse_timeline(data: dict[str, object], source: str) -> Timeline:
    unknown = set(data) - {"duration", "cue", "hit", "fps", "start"}
    if unknown:
        raise TimelineError(f"{source}: unknown top-level field(s) {sorted(unknown)}; "
                            "fix: use fps, start, duration, [[cue]] and [[hit]] tables")
    clock = _clock(data, source)
    raw_cues = data.get("cue", [])
    if not isinstance(raw_cues, list):
        raise TimelineError(f"{source}: 'cue' must be an array of tables ([[cue]])")
    cues = []
    for index, raw in enumerate(raw_cues):
        where = f"{source}: cue[{index}]"
        if not isinstance(raw, dict):
            raise TimelineError(f"{where}: must be a table")
        body = dict(raw)
        at = _film_seconds(body.pop("at", None), clock, f"{where}.at")
        label = _label(body, where)
        try:
            command = parse_command(body)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'cmd'}: "
                f"{item['msg'].removeprefix('Value error, ')}" for item in error.errors())
            raise TimelineError(f"{where}: {details}") from None
        cues.append(Cue(at, command, index, label))
    cues.sort(key=lambda cue: cue.at)
    raw_hits = data.get("hit", [])
    if not isinstance(raw_hits, list):
        raise TimelineError(f"{source}: 'hit' must be an array of tables ([[hit]])")
    hits = sorted((_hit(raw, index, clock, source) for index, raw in enumerate(raw_hits)),
                  key=lambda hit: hit.at)
    last = max([cue.at for cue in cues] + [hit.at for hit in hits], default=0.0)
    raw_duration = data.get("duration", last + DEFAULT_TAIL_SECONDS)
    duration = _film_seconds(raw_duration, clock, f"{source}: duration") \
        if isinstance(raw_duration, str) else raw_duration
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration <= 0 \
            or not math.isfinite(duration):
        raise TimelineError(f"{source}: duration {duration!r} must be seconds > 0")
    return Timeline(tuple(cues), float(duration), tuple(hits), clock)


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
    problems = [TimelineProblem(cue.index, cue.at, problem.field, problem.message, problem.fix)
                for cue in sorted(timeline.cues, key=lambda cue: cue.index)
                for problem in names.problems(cue.command)]
    for hit in sorted(timeline.hits, key=lambda hit: hit.index):
        known = score.sections if hit.kind == "section" else score.stingers
        if hit.name is not None and hit.name not in known:
            plural = "sections" if hit.kind == "section" else "stingers"
            problems.append(TimelineProblem(
                hit.index, hit.at, f"{hit.kind}", f"hit {hit.label!r}: unknown {hit.kind} "
                f"{hit.name!r}", f"one of {sorted(known)}, or declare it under [{plural}]",
                kind="hit"))
    return problems


def require_valid(timeline: Timeline, score: Score, source: str) -> None:
    """Raise a TimelineError listing every problem of the timeline against the score."""
    problems = check_timeline(timeline, score)
    if problems:
        raise TimelineError(f"{source}: {len(problems)} problem(s) against the score",
                            problems)
