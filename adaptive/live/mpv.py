"""Following mpv through its JSON IPC socket (`mpv --input-ipc-server=SOCKET`).

Theory of operation
-------------------
mpv answers on a UNIX socket with one JSON object per line. We observe two properties,
`time-pos` (film seconds of the frame on screen) and `pause`, and read the `seek`,
`playback-restart`, `end-file` and `shutdown` events. `MpvReports` (pure: lines in,
`Transport` reports out) turns them into what any player sends over OSC: a time while
playing, `seek` from mpv's seek event until its playback restarts (the music holds
meanwhile), `pause`/`play` with the position, and `stop` when the file ends or mpv quits.
`MpvFollower` is the endpoint: a thread that connects (and reconnects: mpv may start after
the server, or be restarted), stamps each line with its arrival and hands the reports to
the controller like every other input.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from typing import Any

from adaptive.commands import Transport
from adaptive.live.endpoint import Core

log = logging.getLogger("adaptive.mpv")

OBSERVE = [{"command": ["observe_property", 1, "time-pos"]},
           {"command": ["observe_property", 2, "pause"]}]
RETRY_SECONDS = 0.5


class MpvReports:
    """mpv's IPC lines → a player's transport reports (pure)."""

    def __init__(self) -> None:
        self.paused: bool | None = None
        self.seeking = False
        self.position: float | None = None
        self.stale: float | None = None
        """The time shown when play began (after a seek, or unpausing): mpv reports it at
        once, but the picture moves on only with the next frame, so that time is not
        reported; the first new one is, when it shows (measured with a real mpv: playing
        from the stale time put the music a frame, 40 ms, behind the picture)."""
        self.bad_lines = 0

    def feed(self, line: str) -> list[Transport]:
        try:
            message = json.loads(line)
        except ValueError:
            self.bad_lines += 1
            return []
        if not isinstance(message, dict):
            self.bad_lines += 1
            return []
        event = message.get("event")
        if event == "property-change":
            return self._property(message.get("name"), message.get("data"))
        if event == "seek":
            self.seeking = True
            return [Transport(state="seek")]
        if event == "playback-restart":
            self.seeking = False
            return [self._started()]
        if event in ("end-file", "shutdown", "idle"):
            self.seeking = False
            return [Transport(state="stop")]
        return []

    def _property(self, name: Any, data: Any) -> list[Transport]:
        if name == "pause" and isinstance(data, bool):
            changed = data != self.paused
            self.paused = data
            return [self._started()] if changed and not self.seeking else []
        if name == "time-pos":
            if not isinstance(data, (int, float)) or isinstance(data, bool) \
                    or not 0 <= data <= 360000:
                return []  # None while no file is loaded
            self.position = float(data)
            if self.seeking or self.paused is None or self.paused:
                return []
            if self.stale is not None:
                if self.position == self.stale:
                    return []  # still the frame shown when play began
                self.stale = None
            return [Transport(time=self.position)]
        return []

    def _started(self) -> Transport:
        """Pause, or play from the next frame on (see `stale`)."""
        if self.paused:
            self.stale = None
            return Transport(time=self.position, state="pause") \
                if self.position is not None else Transport(state="pause")
        self.stale = self.position
        return Transport(state="play")


class MpvFollower:
    """The endpoint: reads mpv's socket on a thread of its own, reconnecting."""

    name = "mpv"

    def __init__(self, path: str) -> None:
        self.path = path
        self.stopping = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    def open(self) -> None:
        """Nothing to take: mpv may start after the server (we wait for its socket)."""

    def start(self, core: Core) -> None:
        self._thread = threading.Thread(target=self._run, args=(core,), name="adaptive-mpv",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    close = stop

    def _run(self, core: Core) -> None:
        waiting_said = False
        while not self.stopping.is_set():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except OSError as error:
                sock.close()
                if not waiting_said:
                    log.info("mpv: waiting for its IPC socket %s (%s)", self.path,
                             error.strerror or error)
                    waiting_said = True
                self.stopping.wait(RETRY_SECONDS)
                continue
            waiting_said = False
            self._sock = sock
            log.info("mpv: following the player at %s", self.path)
            try:
                self._follow(core, sock)
            finally:
                self._sock = None
                self.connected.clear()
                sock.close()
            if not self.stopping.is_set():
                log.info("mpv: the player went away; the music stops and waits for it")
                self._submit(core, [Transport(state="stop")], time.time())

    def _follow(self, core: Core, sock: socket.socket) -> None:
        for request in OBSERVE:
            sock.sendall(json.dumps(request).encode() + b"\n")
        self.connected.set()
        reports = MpvReports()
        pending = b""
        while not self.stopping.is_set():
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            arrival = time.time()
            pending += data
            *lines, pending = pending.split(b"\n")
            commands: list[Transport] = []
            for line in lines:
                if line.strip():
                    commands.extend(reports.feed(line.decode("utf-8", "replace")))
            if reports.bad_lines:
                core.stats.count("mpv_bad_line", f"{reports.bad_lines} unreadable line(s) "
                                 f"from mpv at {self.path}")
                reports.bad_lines = 0
            self._submit(core, commands, arrival)

    @staticmethod
    def _submit(core: Core, commands: list[Transport], arrival: float) -> None:
        if commands:
            at = core.sample_at(arrival)
            core.submit_batch([(command, at) for command in commands], "mpv ", "mpv_coalesced")
