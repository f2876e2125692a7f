"""The live side of the show log (`serve --show-log`): every command the server acts on,
appended to a JSON-lines file (the format and the replay: `adaptive.showlog`).

Theory of operation
-------------------
The controller calls `command`, `seek`, `halt` and `reload` under its lock, with the sample
the conductor takes the command at, so the log's order is the order the music took them in.
Those calls only stamp the wall time and put a tuple in the writer's own queue (a
`bus.Subscription`: a non-blocking put; serialising waits for the writer's thread); the
music's events reach it from the controller's output bus. One thread turns them into lines
and writes them, flushed after each batch, so a crash loses at most the lines still queued
(at most `LINGER` of them). A full
queue drops lines (counted `show_log_*_dropped`), a disk error is a rate-limited log line
and the counter `show_log_failed`: the controller and the audio never wait for the disk,
and the show goes on without its log. `close` (a clean stop, SIGINT/SIGTERM included)
writes what is queued and an `end` line.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from adaptive import showlog
from adaptive.commands import Command
from adaptive.live.bus import Subscription

if TYPE_CHECKING:
    from adaptive.live.controller import Controller, Event

log = logging.getLogger("adaptive.show")

CAPACITY = 65536

LINGER = 0.05
"""Seconds the log's threads gather items before writing them (at most this late on disk;
a flood of 1,000 commands a second then wakes them 20 times a second, not 1,000)."""
"""Lines queued before the writer drops: minutes of a flood of coalesced commands."""

History = Sequence[tuple[int, Command]]


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "adaptive"


def show_log_path(setting: str | None, score: Path, now: datetime | None = None
                  ) -> Path | None:
    """Where a show's log goes: `setting` None (a dated file beside the score; the bundled
    demo's in ~/.local/state/adaptive, not inside the package), "none" (off), a directory
    (a dated file in it) or a file (a numbered one beside it if that holds a show)."""
    if setting is not None and setting.strip().lower() == "none":
        return None
    stamp = (now or datetime.now()).strftime("%Y-%m-%dT%H-%M-%S")
    name = f"{score.stem}.show-{stamp}.jsonl"
    if setting is None:
        package = Path(showlog.__file__).resolve().parent
        beside = score.resolve().parent
        path = (_state_dir() if beside.is_relative_to(package) else beside) / name
    elif Path(setting).is_dir() or setting.endswith(os.sep):
        path = Path(setting) / name
    else:
        path = Path(setting)
    candidate, n = path, 1
    while candidate.exists() and candidate.stat().st_size > 0:
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class ShowWriter:
    """Appends a show's entries to its file off the control path (see the theory above)."""

    def __init__(self, path: Path, file: TextIO, controller: Controller) -> None:
        self.path = path
        self.lines = 0
        self._file = file
        self._controller = controller
        self._stats = controller.stats
        self._histories: dict[int, tuple[int, History]] = {}
        """Histories written, by object id (the object kept, so the id stays its own)."""
        # a file is in no hurry: its thread lingers (see `bus`), a wake-up per LINGER; the
        # queue is the writer's own, not a bus's (a delivery thread in between cost another
        # queue and another wake-up per item)
        self._queue: Subscription[tuple[Any, ...]] = Subscription(
            "writer", self._write, CAPACITY,
            lambda kind, message: self._stats.count(f"show_log_{kind}", message),
            linger=LINGER, after=self._flush)
        self._events = controller.bus.subscribe("show_log", self._on_event, linger=LINGER)

    @classmethod
    def open(cls, path: Path, controller: Controller, score: Path, seed: int,
             horizon_blocks: int) -> ShowWriter | None:
        """Open the file, write the header and hook into the controller; a disk error is a
        warning, not a failure: the show goes on without its log."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = path.open("w", encoding="utf-8")  # flushed after each batch (`_flush`)
            header = showlog.ShowHeader(
                score=str(score.resolve()), score_sha256=showlog.score_digest(score),
                sample_rate=controller.sample_rate, block=controller.block,
                horizon_blocks=horizon_blocks, seed=seed, wall=round(time.time(), 6),
                go_lockout=controller.conductor.arming.lockout)
            file.write(header.model_dump_json() + "\n")
        except OSError as error:
            controller.stats.count("show_log_failed", f"cannot write the show log {path}: "
                                   f"{error}; the show goes on without it (fix: --show-log "
                                   "DIR on a writable disk, or --show-log none)")
            return None
        writer = cls(path, file, controller)
        writer.lines = 1  # the header
        controller.show_log = writer
        log.info("show log: %s (adaptive render %s --replay %s -o show.wav plays it again)",
                 path, score, path)
        return writer

    # ------------------------------------------------ under the controller's lock

    def _film(self, sample: int) -> float | None:
        film = self._controller.film
        return None if film is None else film.chase.film_at(sample)

    def command(self, source: str, command: Command, sample: int, now: int,
                until: int) -> None:
        self._queue.offer(("command", source.strip(), command, sample, now, until,
                           time.time(), self._film(sample)))

    def seek(self, history: History, target: int, at: int, fade: float, why: str,
             now: int, until: int) -> None:
        self._queue.offer(("seek", history, target, at, fade, why, now, until, time.time(),
                           self._film(at)))

    def nudge(self, at: int, samples: int, length: int, why: str, now: int,
              until: int) -> None:
        self._queue.offer(("nudge", at, samples, length, why, now, until, time.time(),
                           self._film(at)))

    def halt(self, at: int, fade: float, why: str, now: int, until: int) -> None:
        self._queue.offer(("halt", at, fade, why, now, until, time.time(), self._film(at)))

    def reload(self, at: int) -> None:
        self._queue.offer(("reload", at, time.time()))

    def _on_event(self, event: Event) -> None:
        if event.kind != "beat":
            self._queue.offer(("event", event.kind, event.args, event.sample, event.text,
                               time.time()))

    # ------------------------------------------------------- the writer's thread

    def _write(self, item: tuple[Any, ...]) -> None:
        try:
            for line in self._lines(item):
                self._file.write(showlog.dumps(line) + "\n")
                self.lines += 1
        except (OSError, ValueError) as error:  # ValueError: a closed file, or a NaN
            self._stats.count("show_log_failed", f"cannot write the show log {self.path}: "
                              f"{error}; the show goes on, these lines are lost")

    def _lines(self, item: tuple[Any, ...]) -> list[dict[str, Any]]:
        kind = item[0]
        if kind == "command":
            _, source, command, sample, now, until, wall, film = item
            return [showlog.command_line(source, command, sample, now, until, wall, film)]
        if kind == "seek":
            _, history, target, at, fade, why, now, until, wall, film = item
            lines = []
            known = self._histories.get(id(history))
            if known is None or known[1] is not history:
                known = (len(self._histories) + 1, history)
                self._histories[id(history)] = known
                lines.append(showlog.history_line(known[0], history))
            lines.append(showlog.seek_line(known[0], target, at, fade, why, now, until, wall,
                                           film))
            return lines
        if kind == "halt":
            _, at, fade, why, now, until, wall, film = item
            return [showlog.halt_line(at, fade, why, now, until, wall, film)]
        if kind == "nudge":
            _, at, samples, length, why, now, until, wall, film = item
            return [showlog.nudge_line(at, samples, length, why, now, until, wall, film)]
        if kind == "event":
            _, event, args, sample, text, wall = item
            return [{"kind": "event", "event": event, "args": list(args), "sample": sample,
                     "text": text, "wall": round(wall, 6)}]
        _, sample, wall = item  # reload, end
        return [{"kind": kind, "sample": sample, "wall": round(wall, 6)}]

    def _flush(self) -> None:
        try:
            self._file.flush()
        except (OSError, ValueError) as error:
            self._stats.count("show_log_failed", f"cannot write the show log {self.path}: "
                              f"{error}; the show goes on, these lines are lost")

    def drops(self) -> dict[str, int]:
        return {"writer": self._queue.dropped}

    def close(self) -> None:
        """At the end of the show: what is queued, the last sample, then the file."""
        self._controller.show_log = None
        self._controller.bus.unsubscribe(self._events)
        self._queue.offer(("end", self._controller.now(), time.time()))
        self._queue.close(timeout=5.0)
        try:
            self._file.close()
        except OSError as error:
            log.warning("show log %s: %s", self.path, error)
        log.info("show log: %d lines in %s (adaptive render SCORE --replay %s -o show.wav)",
                 self.lines, self.path, self.path)
