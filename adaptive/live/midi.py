"""MIDI in from JACK: a controller's faders and pads, through a map, as commands.

Theory of operation
-------------------
A small JACK client of our own (`<name>-midi`, on the server the audio plays on) has one
MIDI in-port. JACK calls its process callback on JACK's real-time thread every period;
that callback only copies each event's bytes into a bounded deque (an append is atomic
under the GIL: no lock, no allocation beyond the bytes) and wakes the reader through an
eventfd, a non-blocking write. Nothing else happens there: pyo's audio callback runs on
its own client, untouched.

The reader, a normal thread, drains the deque (everything one period brought, or more
after a stall), turns the bytes into commands by the map (`midi_map.MidiMapper`: a fader
keeps its latest value per read, bad and unmapped messages are counted), checks each with
`Core.admit` and submits them together (`Core.submit_batch`, which also merges parameter
changes). A full deque drops the new event and counts it (`midi_overflow`): a controller
never blocks JACK. ALSA MIDI (without JACK) is not implemented; `serve --midi` says so.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptive.live.endpoint import Core, StartupError
from adaptive.live.inputs import InputRejected, Timed
from adaptive.live.midi_map import MidiMap, MidiMapper, load_midi_map
from adaptive.live.threads import realtime_thread
from adaptive.score.model import Score

log = logging.getLogger("adaptive.midi")

QUEUE_EVENTS = 4096
"""Events held between two reads (a fader sweep sends ~100 per second per fader)."""
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
    anything opens); `start` opens the JACK client, once the audio runs on that server,
    activates it and connects the controller's ports."""

    name = "midi"

    def __init__(self, config: MidiConfig, score: Score) -> None:
        self.config = config
        self.map: MidiMap = load_midi_map(config.map, score)  # a bad map fails start-up
        self.mapper = MidiMapper(self.map)
        self._events: collections.deque[bytes] = collections.deque()
        self._overflow = 0
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._client: Any = None
        self._port: Any = None
        self._core: Core | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    @property
    def port_name(self) -> str:
        assert self._port is not None
        return str(self._port.name)

    def open(self) -> None:
        """Nothing to take early: a JACK client's name never clashes (JACK renames it)."""

    def _open_client(self) -> None:
        import jack

        try:
            self._client = jack.Client(self.config.client_name, no_start_server=True,
                                       servername=self.config.server)
        except jack.JackError as error:
            raise StartupError(f"cannot open a JACK client for MIDI "
                               f"({self.config.client_name}): {error}") from None
        self._port = self._client.midi_inports.register("in")
        self._client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        """JACK's real-time thread: copy the bytes, wake the reader, nothing else."""
        events = self._events
        got = False
        for _, data in self._port.incoming_midi_events():
            if len(events) < QUEUE_EVENTS:
                events.append(bytes(data))
            else:
                self._overflow += 1
            got = True
        if got:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_write(self._wake, 1)

    def start(self, core: Core) -> None:
        if self._client is None:
            self._open_client()
        self._core = core
        muted = _overrides_of(core)
        if muted is not None:
            self.mapper.muted = lambda layer: layer in muted().muted
            self.mapper.soloed = lambda layer: layer in muted().soloed
        self._thread = threading.Thread(target=self.run, name="adaptive-midi", daemon=True)
        self._thread.start()
        self._client.activate()
        self._connect()
        log.info("MIDI in on JACK port %s (%s)", self.port_name, self.map.describe())

    def _connect(self) -> None:
        import jack

        client = self._client
        sources = self.config.connect
        if sources is None:
            sources = [p.name for p in client.get_ports(is_midi=True, is_output=True,
                                                         is_physical=True)]
            if not sources:
                log.warning("MIDI: no physical MIDI capture ports on this JACK server; "
                            "connect your controller to %s (or pass --midi PORT)",
                            self.port_name)
                return
        for source in sources:
            try:
                client.connect(source, self._port)
                log.info("MIDI: %s -> %s", source, self.port_name)
            except jack.JackError as error:
                log.warning("MIDI: cannot connect %s -> %s: %s (ports: %s)", source,
                            self.port_name, error, ", ".join(
                                p.name for p in client.get_ports(is_midi=True, is_output=True))
                            or "none")

    def run(self) -> None:
        realtime_thread("adaptive-midi")
        while not self.stopping.is_set():
            readable, _, _ = select.select([self._wake], [], [], 0.5)
            if self.stopping.is_set():
                return
            if readable:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self._wake)
            self.drain()

    def drain(self) -> None:
        """Read what the process callback queued, map it and submit it."""
        core = self._core
        assert core is not None
        if self._overflow:
            dropped, self._overflow = self._overflow, 0
            for _ in range(dropped):  # the counter counts events
                core.stats.count("midi_overflow", f"{dropped} MIDI events dropped: the "
                                 "reader fell behind")
        batch: list[bytes] = []
        events = self._events
        while events and len(batch) < MAX_BATCH:
            batch.append(events.popleft())
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
        if events:  # more than one batch waited: go round again at once
            os.eventfd_write(self._wake, 1)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            os.eventfd_write(self._wake, 1)
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=1.0)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.deactivate()
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._wake >= 0:
            os.close(self._wake)
            self._wake = -1

    close = stop


def _overrides_of(core: Core) -> Any:
    """The conductor's mutes and solos (for toggles), read fresh: a seek or a reload
    replaces the conductor. None for a core without one."""
    if getattr(core, "conductor", None) is None:
        return None
    return lambda: core.conductor.overrides  # type: ignore[attr-defined]
