"""The JACK MIDI client in a process of its own: `python -m adaptive.live.midi_bridge
SERVER NAME [PORT ...]` (SERVER `-` for the default server; no PORT: the physical MIDI
capture ports).

Why a process: JACK calls a client's process callback on its real-time thread every period,
and a Python callback needs the GIL. In the server's process the GIL is shared with the
OSC, MQTT, web and ticker threads and with pyo's own callback, so a MIDI client there would
be one more real-time callback that can wait for them, and a late client makes the whole
graph late (an xrun for everyone). Here the callback only waits for this process's writer.

The callback copies each event's bytes into a bounded deque and wakes the writer (an
eventfd); the writer sends them to stdout as frames: one byte of kind, two of length
(big-endian), the payload. Kinds: `READY` (the port's full name), `EVENT` (a MIDI
message's bytes), `DROPPED` (events the deque had no room for, as text), `LOG` (a warning
for the server's log). SIGTERM (or stdin closing) ends it.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import struct
import sys
import threading
from typing import Any, BinaryIO

READY, EVENT, DROPPED, LOG = 0, 1, 2, 3
HEADER = struct.Struct(">BH")
QUEUE_EVENTS = 4096
"""Events held between two writes (a fader sweep sends ~100 per second per fader)."""


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def read_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """The complete frames at the start of `buffer` (removed from it)."""
    frames: list[tuple[int, bytes]] = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        kind, length = HEADER.unpack_from(buffer, offset)
        end = offset + HEADER.size + length
        if end > len(buffer):
            break
        frames.append((kind, bytes(buffer[offset + HEADER.size:end])))
        offset = end
    del buffer[:offset]
    return frames


class Bridge:
    def __init__(self, server: str | None, name: str, out: BinaryIO) -> None:
        import jack

        self._jack = jack
        self.client: Any = jack.Client(name, no_start_server=True, servername=server)
        self.port: Any = self.client.midi_inports.register("in")
        self.events: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.out = out
        self.done = threading.Event()
        self.client.set_process_callback(self._process)

    def _process(self, frames: int) -> None:
        """JACK's real-time thread: copy the bytes, wake the writer, nothing else."""
        events = self.events
        got = False
        for _, data in self.port.incoming_midi_events():
            if len(events) < QUEUE_EVENTS:
                events.append(bytes(data))
            else:
                self.dropped += 1
            got = True
        if got:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_write(self.wake, 1)

    def send(self, kind: int, payload: bytes) -> None:
        self.out.write(frame(kind, payload))
        self.out.flush()

    def connect(self, sources: list[str]) -> None:
        client = self.client
        if not sources:
            sources = [p.name for p in client.get_ports(is_midi=True, is_output=True,
                                                         is_physical=True)]
            if not sources:
                self.send(LOG, f"no physical MIDI capture ports on this JACK server; connect "
                               f"your controller to {self.port.name} (or pass --midi PORT)"
                          .encode())
                return
        for source in sources:
            try:
                client.connect(source, self.port)
                self.send(LOG, f"{source} -> {self.port.name}".encode())
            except self._jack.JackError as error:
                ports = ", ".join(p.name for p in client.get_ports(is_midi=True,
                                                                   is_output=True)) or "none"
                self.send(LOG, f"cannot connect {source} -> {self.port.name}: {error} "
                               f"(ports: {ports})".encode())

    def run(self, sources: list[str]) -> None:
        self.client.activate()
        self.send(READY, str(self.port.name).encode())
        self.connect(sources)
        while not self.done.is_set():
            readable, _, _ = select.select([self.wake, 0], [], [], 0.5)
            if 0 in readable and not os.read(0, 1):
                break  # stdin closed: the server went away
            if self.wake in readable:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self.wake)
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                self.send(DROPPED, str(dropped).encode())
            events = self.events
            chunk = bytearray()
            while events:
                chunk += frame(EVENT, events.popleft())
            if chunk:
                self.out.write(chunk)
                self.out.flush()
        self.client.deactivate()
        self.client.close()


def main() -> None:
    server = None if sys.argv[1] == "-" else sys.argv[1]
    bridge = Bridge(server, sys.argv[2], sys.stdout.buffer)
    signal.signal(signal.SIGTERM, lambda *_: bridge.done.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C stops it, in order
    with contextlib.suppress(BrokenPipeError):  # the server went away
        bridge.run(sys.argv[3:])


if __name__ == "__main__":
    main()
