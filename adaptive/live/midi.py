"""MIDI in from JACK: a controller's faders and pads, through a map, as commands.

Theory of operation
-------------------
The JACK MIDI client lives in a process of its own (`midi_bridge`, `<name>-midi` on the
server the audio plays on): a Python process callback needs the GIL on JACK's real-time
thread, and in this process it would wait for every other thread's Python, and a late
client makes the whole graph late. The bridge copies each event's bytes out of its
callback and writes them to a pipe as frames.

The reader, a normal thread here, reads what the pipe holds (everything one period
brought, or more after a stall), turns the bytes into commands by the map
(`midi_map.MidiMapper`: a fader keeps its latest value per read, bad and unmapped messages
are counted), checks each with `Core.admit` and submits them together
(`Core.submit_batch`, which also merges parameter changes). Events the bridge had no room
for are counted (`midi_overflow`): a controller never blocks JACK. If the bridge dies, the
music plays on without MIDI (logged, counted as `midi_lost`). ALSA MIDI (without JACK) is
not implemented; `serve --midi` says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptive.live.endpoint import Core, StartupError
from adaptive.live.inputs import InputRejected, Timed
from adaptive.live.midi_bridge import DROPPED, EVENT, LOG, READY, read_frames
from adaptive.live.midi_map import MidiMap, MidiMapper, load_midi_map
from adaptive.live.threads import realtime_thread
from adaptive.score.model import Score

log = logging.getLogger("adaptive.midi")

MAX_BATCH = 1024
SOURCE = "MIDI "


@dataclass
class MidiConfig:
    map: Path
    connect: list[str] | None = None  # JACK ports to read from; None: the physical ones
    client_name: str = "adaptive-midi"
    server: str | None = None  # JACK server name (None: the default)


class JackMidiEndpoint:
    """An `Endpoint`: the map is loaded when it is made (a bad map stops start-up before
    anything opens); `start` starts the bridge, once the audio runs on that server, which
    activates its client and connects the controller's ports."""

    name = "midi"

    def __init__(self, config: MidiConfig, score: Score) -> None:
        self.config = config
        self.map: MidiMap = load_midi_map(config.map, score)  # a bad map fails start-up
        self.mapper = MidiMapper(self.map)
        self._bridge: subprocess.Popen[bytes] | None = None
        self._core: Core | None = None
        self._thread: threading.Thread | None = None
        self.port_name: str | None = None
        self.stopping = threading.Event()
        self._buffer = bytearray()  # what the pipe brought past the last whole frame
        self._pending: list[tuple[int, bytes]] = []  # frames read with the READY one

    def open(self) -> None:
        """Nothing to take early: a JACK client's name never clashes (JACK renames it)."""

    def start(self, core: Core) -> None:
        self._core = core
        muted = _overrides_of(core)
        if muted is not None:
            self.mapper.muted = lambda layer: layer in muted().muted
            self.mapper.soloed = lambda layer: layer in muted().soloed
        self._bridge = subprocess.Popen(
            [sys.executable, "-m", "adaptive.live.midi_bridge", self.config.server or "-",
             self.config.client_name, *(self.config.connect or [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._bridge.stdout is not None
        ready = self._first_frame(self._bridge.stdout.fileno(), 10.0)
        if ready is None:
            self.stop()
            raise StartupError(f"cannot open a JACK client for MIDI ({self.config.client_name}"
                               f") on JACK server {self.config.server or '(default)'}")
        self.port_name = ready
        self._thread = threading.Thread(target=self.run, name="adaptive-midi", daemon=True)
        self._thread.start()
        log.info("MIDI in on JACK port %s (%s)", self.port_name, self.map.describe())

    def _first_frame(self, fd: int, timeout: float) -> str | None:
        """The bridge's READY frame (its port's name), or None if it never came."""
        while True:
            readable, _, _ = select.select([fd], [], [], timeout)
            chunk = os.read(fd, 4096) if readable else b""
            if not chunk:
                return None
            self._buffer += chunk
            for kind, payload in read_frames(self._buffer):
                if kind == READY:
                    self._pending = read_frames(self._buffer)
                    return payload.decode()

    def run(self) -> None:
        realtime_thread("adaptive-midi")
        bridge = self._bridge
        assert bridge is not None and bridge.stdout is not None
        fd = bridge.stdout.fileno()
        pending = self._pending
        while not self.stopping.is_set():
            if pending:
                self.handle(pending)
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                if not self.stopping.is_set():
                    assert self._core is not None
                    self._core.stats.count("midi_lost", "MIDI: the JACK MIDI client "
                                           "(midi_bridge) ended; the music plays on without "
                                           "MIDI", logging.ERROR)
                return
            self._buffer += chunk
            pending = read_frames(self._buffer)

    def handle(self, frames: list[tuple[int, bytes]]) -> None:
        """What the bridge sent in one read: logs, drops, and the events, mapped and
        submitted together."""
        core = self._core
        assert core is not None
        batch: list[bytes] = []
        for kind, payload in frames:
            if kind == EVENT:
                batch.append(payload)
            elif kind == DROPPED:
                dropped = int(payload)
                for _ in range(dropped):  # the counter counts events
                    core.stats.count("midi_overflow", f"{dropped} MIDI events dropped: the "
                                     "reader fell behind")
            elif kind == LOG:
                log.info("MIDI: %s", payload.decode(errors="replace"))
        for start in range(0, len(batch), MAX_BATCH):
            self.drain(batch[start:start + MAX_BATCH])

    def drain(self, batch: list[bytes]) -> None:
        """Map a batch of MIDI messages and submit the commands."""
        core = self._core
        assert core is not None
        if not batch:
            return
        try:
            commands = self.mapper.translate(batch, core.stats.count)
        except Exception as error:  # whatever arrives, the music goes on
            log.exception("MIDI translation failed")
            core.stats.count("internal_error", f"MIDI: {error!r}")
            return
        timed: list[Timed] = []
        for command in commands:
            try:
                admitted = core.admit(command, SOURCE)
            except InputRejected as error:
                core.stats.count(error.kind, f"MIDI {error}")
                continue
            if admitted is not None:
                timed.append((admitted, None))
        core.submit_batch(timed, SOURCE, "midi_coalesced")
        self.mapper.settle()

    def stop(self) -> None:
        self.stopping.set()
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            with contextlib.suppress(OSError):
                bridge.terminate()
            try:
                bridge.wait(3.0)
            except subprocess.TimeoutExpired:
                bridge.kill()
                bridge.wait()
            for pipe in (bridge.stdin, bridge.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=1.0)

    close = stop


def _overrides_of(core: Core) -> Any:
    """The conductor's mutes and solos (for toggles), read fresh: a seek or a reload
    replaces the conductor. None for a core without one."""
    if getattr(core, "conductor", None) is None:
        return None
    return lambda: core.conductor.overrides  # type: ignore[attr-defined]
