"""The show log: what a live show did, as JSON lines, and its replay offline. Pure: no pyo.

One line per entry, each a JSON object with a `kind`:

- `show` (the first line): the adaptive version, the score (path and SHA-256 of its file),
  sample rate, block, release horizon and seed of the live server, and when it started.
- `command`: a command the server acted on, from any input, as the one command model writes
  it (`commands.py`: a new kind of command is logged with no change here): its `source`
  (OSC, MQTT, timeline, ...), the `sample` the conductor took it at (where a section change
  or a stinger then finds its sync point), the controller's `now` (the block it was
  handled in) and `until` (how far the music had been released then), wall time, and film
  seconds when following a film.
- `seek` / `halt`: what a film's chase did to the music (`Driver.seek` / `Driver.halt`) at
  `sample`, with `now` and `until` as above; a seek plays a command `history` (the id of a
  `history` line, written once before its first seek) from `target`.
- `reload`: the score was reloaded (`--watch`) and took over at `sample`.
- `event`: what the music did and where (section, rest, resume, stinger, cue, hit, lock),
  for the debrief; the replay checks its own events against these.
- `end`: the last sample of the show (written at a clean stop, SIGINT/SIGTERM included).

Theory of operation (the replay)
--------------------------------
The conductor is deterministic: the same commands at the same samples give the same actions
on the same samples. One thing depends on when it was asked: a plan whose first action the
driver has released (written ahead into the graph, up to `now + horizon`) is committed, and
a later command starts from its destination instead of replacing it. So every step keeps
`until`, how far the live driver had released before it; the replay (`ReplaySchedule`)
performs each step in the block it was handled in live, after releasing exactly to its
`until`, and between steps releases no further than the next step's `until`. Controls and
events written earlier or later than live sound the same (see `runtime.driver`), so the
render equals what was heard, up to what the log cannot hold: a hot reload, and lines the
writer lost (counted live as `show_log_*`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from adaptive import __version__
from adaptive.actions import Action, EndRest, StartRest, StartStinger, StartVoice
from adaptive.commands import Command, Transport
from adaptive.errors import AdaptiveError
from adaptive.names import ScoreNames
from adaptive.score.model import Score

VERSION = 1
TAIL_SECONDS = 8.0
"""A show log without an `end` line (the server was killed) is replayed this long past its
last entry."""
CHECKED_EVENTS = ("section", "rest", "resume", "stinger")
"""The events a replay makes too (the others come from the film's chase or the beat)."""


class ShowLogError(AdaptiveError):
    """A show log that cannot be replayed; the message names the file, line and field."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShowHeader(_Entry):
    kind: Literal["show"] = "show"
    version: Literal[1] = 1
    adaptive: str = __version__
    score: str
    score_sha256: str | None = None
    sample_rate: int = Field(gt=0)
    block: int = Field(gt=0)
    horizon_blocks: int = Field(gt=0)
    seed: int = 1
    go_lockout: int | None = Field(None, ge=0)
    """Samples within which a second GO is ignored (`serve --go-lockout`); None: default."""
    wall: float = 0.0


class _Step(_Entry):
    sample: int = Field(ge=0)
    now: int = Field(ge=0)
    until: int = Field(ge=0)
    wall: float = 0.0
    film: float | None = None


class CommandEntry(_Step):
    kind: Literal["command"] = "command"
    source: str = ""
    command: Command


class SeekEntry(_Step):
    kind: Literal["seek"] = "seek"
    target: int = Field(ge=0)
    fade: float = Field(ge=0)
    history: int
    why: str = ""


class HaltEntry(_Step):
    kind: Literal["halt"] = "halt"
    fade: float = Field(ge=0)
    why: str = ""


class NudgeEntry(_Step):
    """Varispeed for a film: the music moved by `samples` over `length` from `sample`."""

    kind: Literal["nudge"] = "nudge"
    samples: int
    length: int = Field(gt=0)
    why: str = ""


class HistoryEntry(_Entry):
    kind: Literal["history"] = "history"
    id: int
    commands: list[tuple[int, Command]]


class ReloadEntry(_Entry):
    kind: Literal["reload"] = "reload"
    sample: int = Field(ge=0)
    wall: float = 0.0


class EventEntry(_Entry):
    kind: Literal["event"] = "event"
    event: str
    args: list[Any] = Field(default_factory=list)
    sample: int
    wall: float = 0.0
    text: str = ""


class EndEntry(_Entry):
    kind: Literal["end"] = "end"
    sample: int = Field(ge=0)
    wall: float = 0.0


Entry = Annotated[ShowHeader | CommandEntry | SeekEntry | HaltEntry | NudgeEntry | HistoryEntry
                  | ReloadEntry | EventEntry | EndEntry, Field(discriminator="kind")]
ENTRY_ADAPTER: TypeAdapter[Entry] = TypeAdapter(Entry)

Step = CommandEntry | SeekEntry | HaltEntry | NudgeEntry
History = Sequence[tuple[int, Command]]


def score_digest(path: Path) -> str | None:
    """The score file's SHA-256: a replay refuses another score unless told."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# ------------------------------------------------------------------ writing

def _film(film: float | None) -> float | None:
    return None if film is None else round(film, 6)


def command_line(source: str, command: Command, sample: int, now: int, until: int,
                 wall: float, film: float | None) -> dict[str, Any]:
    """Any command, generically: what the command model dumps, parsed back the same way."""
    return {"kind": "command", "sample": sample, "now": now, "until": until,
            "source": source, "wall": round(wall, 6), "film": _film(film),
            "command": command.model_dump(mode="json")}


def seek_line(history: int, target: int, at: int, fade: float, why: str, now: int,
              until: int, wall: float, film: float | None) -> dict[str, Any]:
    return {"kind": "seek", "sample": at, "now": now, "until": until, "target": target,
            "fade": fade, "history": history, "why": why, "wall": round(wall, 6),
            "film": _film(film)}


def halt_line(at: int, fade: float, why: str, now: int, until: int, wall: float,
              film: float | None) -> dict[str, Any]:
    return {"kind": "halt", "sample": at, "now": now, "until": until, "fade": fade,
            "why": why, "wall": round(wall, 6), "film": _film(film)}


def nudge_line(at: int, samples: int, length: int, why: str, now: int, until: int,
               wall: float, film: float | None) -> dict[str, Any]:
    return {"kind": "nudge", "sample": at, "now": now, "until": until, "samples": samples,
            "length": length, "why": why, "wall": round(wall, 6), "film": _film(film)}


def history_line(ident: int, history: History) -> dict[str, Any]:
    return {"kind": "history", "id": ident,
            "commands": [[at, command.model_dump(mode="json")]
                         for at, command in history]}


def dumps(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"), allow_nan=False)


# ------------------------------------------------------------------ reading

@dataclass
class Show:
    """A parsed show log."""

    header: ShowHeader
    steps: list[Step]  # commands, seeks and halts, in the order the server took them
    histories: dict[int, list[tuple[int, Command]]]
    events: list[EventEntry]
    end: int | None
    lines: list[int] = field(default_factory=list)  # the line of each step in the file
    reloads: list[ReloadEntry] = field(default_factory=list)

    def frames(self, tail: float = TAIL_SECONDS) -> int:
        """Samples to replay: to the end of the show, or `tail` past its last entry."""
        if self.end is not None:
            return self.end
        last = max([s.sample for s in self.steps] + [e.sample for e in self.events] + [0])
        return last + round(tail * self.header.sample_rate)

    @property
    def nudged(self) -> bool:
        """Whether the show's music was nudged (its replay needs a varispeed engine)."""
        return any(isinstance(step, NudgeEntry) for step in self.steps)

    def commands(self) -> list[tuple[int, Command]]:
        """The commands (not the film's reports) with their samples."""
        return [(s.sample, s.command) for s in self.steps
                if isinstance(s, CommandEntry) and not isinstance(s.command, Transport)]


_FIX = "fix: mend or delete the line"


def _describe(error: ValidationError) -> str:
    """The first problem of a line: its field, and what to do when it is from the future."""
    first = error.errors()[0]
    parts = [str(part) for part in first["loc"][1:]]  # [0]: the entry's kind (its tag)
    if parts[:1] == ["command"] and len(parts) > 1:
        del parts[1]  # the command's own tag
    where = ".".join(parts)
    if first["type"] == "union_tag_invalid":
        ctx = first.get("ctx", {})
        tag, known = ctx.get("tag"), ctx.get("expected_tags", "")
        what = "command" if parts else "kind of entry"
        return (f"{where or 'kind'}: {tag!r} is a {what} this adaptive ({__version__}) does "
                f"not know (known: {known}); fix: replay with the adaptive that played the "
                "show (its version is on line 1), or delete the line")
    return f"{where or 'kind'}: {first['msg']}; {_FIX}"


def parse_show(lines: Iterable[str], source: str) -> Show:
    """Parse show-log lines; a bad line raises ShowLogError naming its number and field."""
    header: ShowHeader | None = None
    show: Show | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}: line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            cut = "" if line.endswith("\n") else " (cut short: the server was killed " \
                "while writing it; the show before it replays)"
            raise ShowLogError(f"{where}: not JSON ({error.msg} at column {error.colno})"
                               f"{cut}; fix: delete the line") from None
        if not isinstance(data, dict):
            raise ShowLogError(f"{where}: not a JSON object; {_FIX}")
        if show is None and data.get("kind") == "show" and data.get("version") != VERSION:
            raise ShowLogError(f"{where}: version: show log format {data.get('version')!r} "
                               f"(written by adaptive {data.get('adaptive', '?')}); this "
                               f"adaptive ({__version__}) reads format {VERSION}; fix: replay "
                               "with the adaptive that wrote it")
        try:
            entry = ENTRY_ADAPTER.validate_python(data)
        except ValidationError as error:
            raise ShowLogError(f"{where}: {_describe(error)}") from None
        if show is None:
            if not isinstance(entry, ShowHeader):
                raise ShowLogError(f"{where}: kind: the first line must be the show's header "
                                   f"(kind \"show\"), not {entry.kind!r}; fix: give the "
                                   ".jsonl file adaptive serve wrote (--show-log)")
            header = entry
            show = Show(header, [], {}, [], None)
        elif isinstance(entry, ShowHeader):
            raise ShowLogError(f"{where}: kind: a second header; fix: one show per file "
                               "(split the file at this line)")
        elif isinstance(entry, HistoryEntry):
            show.histories[entry.id] = list(entry.commands)
        elif isinstance(entry, SeekEntry | CommandEntry | HaltEntry | NudgeEntry):
            if isinstance(entry, SeekEntry) and entry.history not in show.histories:
                raise ShowLogError(f"{where}: history: no history {entry.history} before this "
                                   "seek; fix: keep the history line the server wrote")
            show.steps.append(entry)
            show.lines.append(number)
        elif isinstance(entry, ReloadEntry):
            show.reloads.append(entry)
        elif isinstance(entry, EventEntry):
            show.events.append(entry)
        else:
            show.end = entry.sample
    if show is None:
        raise ShowLogError(f"{source}: empty; fix: give the .jsonl file adaptive serve wrote")
    return show


def read_show(path: Path) -> Show:
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return parse_show(file, str(path))
    except (OSError, UnicodeDecodeError) as error:
        raise ShowLogError(f"{path}: cannot read the show log: {error}") from None


def check_show(show: Show, score: Score, score_path: Path, source: str, sample_rate: int,
               other_score: bool = False) -> None:
    """The show against the score it replays: the same score file (unless `other_score`),
    the same sample rate, every name known."""
    header = show.header
    digest = score_digest(score_path)
    if not other_score and header.score_sha256 is not None and digest != header.score_sha256:
        raise ShowLogError(f"{source}: line 1: score_sha256: the show played {header.score}; "
                           f"{score_path} is another file or was changed since; fix: give "
                           "the score the show played, or add --other-score to replay the "
                           "show with this one (a new mix, say)")
    if header.sample_rate != sample_rate:
        raise ShowLogError(f"{source}: line 1: sample_rate: the show ran at "
                           f"{header.sample_rate} Hz, {score_path} plays at {sample_rate} "
                           "Hz; fix: replay with the score the show played")
    names = ScoreNames(score)
    for number, step in zip(show.lines, show.steps, strict=True):
        if isinstance(step, CommandEntry):
            for problem in names.problems(step.command):
                raise ShowLogError(f"{source}: line {number}: command.{problem.field}: "
                                   f"{problem.message} in {score_path}; fix: {problem.fix}, "
                                   "or replay with the score the show played")


# ------------------------------------------------------------------ replay

class Driving(Protocol):
    """What the replay needs of `runtime.driver.Driver`."""

    block: int
    horizon: int
    released_until: int

    @property
    def conductor(self) -> Any: ...

    def pump(self, now: int, until: int | None = None) -> Any: ...

    def seek(self, score: Score, history: Sequence[tuple[int, Command]], target: int,
             at: int, fade_seconds: float = ..., keep_released: bool = ...,
             why: str = ...) -> Any: ...

    def halt(self, score: Score, at: int, fade_seconds: float = ..., why: str = ...
             ) -> Any: ...

    def nudge(self, at: int, samples: int, length: int, why: str = ...) -> None: ...


@dataclass
class ReplaySchedule:
    """Drives a render's driver as the live controller drove its own (see the theory).

    `render` calls `pump` instead of `Driver.pump` before each block."""

    show: Show
    score: Score
    _next: int = 0
    _started: bool = False

    def pump(self, driver: Driving, block_start: int) -> None:
        if not self._started:  # the live conductor's settings
            self._started = True
            if self.show.header.go_lockout is not None:
                from adaptive.perform import Arming

                driver.conductor.arming = Arming(self.show.header.go_lockout)
        steps = self.show.steps
        end = block_start + driver.block
        while self._next < len(steps) and steps[self._next].now < end:
            step = steps[self._next]
            self._next += 1
            if isinstance(step, CommandEntry) and isinstance(step.command, Transport):
                continue  # a player's report: its effect is the seeks and halts logged
            if step.until > driver.released_until:
                driver.pump(block_start, until=step.until)
            if isinstance(step, CommandEntry):
                driver.conductor.submit(step.command, step.sample, why=step.source)
            elif isinstance(step, SeekEntry):
                driver.seek(self.score, self.show.histories[step.history], step.target,
                            step.sample, step.fade, why=step.why)
            elif isinstance(step, NudgeEntry):
                driver.nudge(step.sample, step.samples, step.length, step.why)
            else:
                driver.halt(self.score, step.sample, step.fade, step.why)
        until = block_start + driver.horizon
        if self._next < len(steps):  # no further than the live show had before its next step
            until = max(end, min(until, steps[self._next].until))
        driver.pump(block_start, until=until)


def action_events(actions: Iterable[Action]) -> list[tuple[str, tuple[Any, ...], int]]:
    """The events the live controller announces for written actions (`Controller._note`)."""
    found: list[tuple[str, tuple[Any, ...], int]] = []
    for action in actions:
        if isinstance(action, StartVoice) and not action.bridge:
            found.append(("section", (action.section,), action.at))
        elif isinstance(action, StartRest):
            found.append(("rest", (), action.at))
        elif isinstance(action, EndRest):
            found.append(("resume", (), action.at))
        elif isinstance(action, StartStinger):
            found.append(("stinger", (action.name,), action.at))
    return found


@dataclass(frozen=True)
class EventCheck:
    """The replay's events against the show's: which logged ones it did not make."""

    logged: int
    matched: int
    missing: list[EventEntry]  # logged, but not made on that sample by the replay

    def summary(self) -> str:
        text = f"{self.matched} of {self.logged} logged events on their live samples"
        if self.missing:
            shown = ", ".join(f"{e.event} {' '.join(map(str, e.args))} at {e.sample}"
                              for e in self.missing[:5])
            text += f"; not replayed: {shown}"
        return text


def check_events(show: Show, actions: Iterable[Action], frames: int) -> EventCheck:
    made: dict[tuple[str, tuple[Any, ...], int], int] = {}
    for key in action_events(actions):
        made[key] = made.get(key, 0) + 1
    logged = [e for e in show.events if e.event in CHECKED_EVENTS and 0 <= e.sample < frames]
    missing = []
    for event in logged:
        key = (event.event, tuple(event.args), event.sample)
        if made.get(key, 0) > 0:
            made[key] -= 1
        else:
            missing.append(event)
    return EventCheck(len(logged), len(logged) - len(missing), missing)
