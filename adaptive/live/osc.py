"""OSC over UDP: the live address space in, status replies and events out.

Packets are parsed here with python-osc's packet parser, not its dispatcher: the
dispatcher sleeps until a bundle's future timetag, which would stall every other input.
A future timetag becomes the audio sample at which its commands apply. Replies go to the
address and port the request came from, so senders that change port per message work.

A player's transport report means "the film was here when this left": its arrival is read
from the kernel's receive timestamp of the datagram (SO_TIMESTAMPNS), not from when this
thread got to it, so a report that waited in the socket while the controller was busy (a
seek's replay) is not taken for a jump.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from adaptive.commands import Command, Transport
from adaptive.live.bus import Subscription
from adaptive.live.controller import Event
from adaptive.live.endpoint import Core, StartupError
from adaptive.live.inputs import InputRejected, Timed
from adaptive.live.protocol import command_from_osc
from adaptive.live.threads import realtime_thread

log = logging.getLogger("adaptive.osc")

MAX_SUBSCRIBERS = 64
LATE_TOLERANCE = 0.001  # seconds: a timetag this close to now counts as "now"
MAX_BATCH = 256  # datagrams read in one go under a flood
IMMEDIATELY = 0.0  # the timetag of a lone message
_SO_TIMESTAMPNS: int | None = getattr(socket, "SO_TIMESTAMPNS", 35 if hasattr(
    socket, "SO_BINDTODEVICE") else None)  # Linux's value where Python lacks the name
_ANCILLARY = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 0

_NUMBER_TAGS = {ord("f"): (">f", 4), ord("i"): (">i", 4), ord("d"): (">d", 8),
                ord("h"): (">q", 8)}


def parse_simple_message(data: bytes) -> tuple[str, list[Any]] | None:
    """A lone, well-formed message whose arguments are numbers (what floods are made of),
    parsed in a few microseconds; None for anything else, which python-osc then parses or
    refuses. Stricter than python-osc, never looser: exact padding, exact length."""
    end = data.find(b"\0")
    if not data.startswith(b"/") or end < 0:
        return None
    tags_at = (end + 4) & ~3
    tags_end = data.find(b"\0", tags_at)
    if tags_end < 0 or data[tags_at:tags_at + 1] != b"," or data[end:tags_at].strip(b"\0"):
        return None
    offset = (tags_end + 4) & ~3
    if data[tags_end:offset].strip(b"\0"):
        return None
    args: list[Any] = []
    for tag in data[tags_at + 1:tags_end]:
        number = _NUMBER_TAGS.get(tag)
        if number is None or offset + number[1] > len(data):
            return None
        args.append(struct.unpack_from(number[0], data, offset)[0])
        offset += number[1]
    if offset != len(data):
        return None
    try:
        return data[:end].decode("ascii"), args
    except UnicodeDecodeError:
        return None

Address = tuple[str, int]


@dataclass
class OscConfig:
    host: str = "127.0.0.1"
    port: int = 9000
    allow: list[str] = field(default_factory=list)  # source networks; empty: any


def encode_message(address: str, args: Sequence[Any]) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, bool):
            builder.add_arg(int(arg))
        elif isinstance(arg, dict | list):
            builder.add_arg(str(arg))
        elif arg is None:
            builder.add_arg("")
        else:
            builder.add_arg(arg)
    return bytes(builder.build().dgram)


def encode_bundle(timetag: float, address: str, args: Sequence[Any]) -> bytes:
    bundle = OscBundleBuilder(timetag)  # type: ignore[arg-type]  # seconds, float is fine
    message = OscMessageBuilder(address)
    for arg in args:
        message.add_arg(arg)
    bundle.add_content(message.build())
    return bytes(bundle.build().dgram)


class OscEndpoint:
    """Receives OSC packets, turns them into commands, answers queries, sends events.

    An `Endpoint`: `open` binds the port (before the audio starts), `start` runs the
    receiver in a thread of its own with a blocking socket, at a low real-time priority
    (measured: an asyncio loop shared with MQTT added 2-5 ms to the OSC → audio latency),
    and subscribes to the output bus for events.
    """

    name = "osc"

    def __init__(self, config: OscConfig) -> None:
        self.config = config
        self.networks = [ipaddress.ip_network(net, strict=False) for net in config.allow]
        self.subscribers: dict[Address, float] = {}
        self._socket: socket.socket | None = None
        self._stamped = False  # datagrams carry the kernel's receive time (see `_receive`)
        self._events: socket.socket | None = None
        self._core: Core | None = None
        self._thread: threading.Thread | None = None
        self._subscription: Subscription[Event] | None = None
        self.stopping = threading.Event()

    @property
    def core(self) -> Core:
        assert self._core is not None, "OscEndpoint.start(core) first"
        return self._core

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    def open(self) -> None:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind((self.config.host, self.config.port))
        except OSError as error:
            sock.close()
            why = error.strerror or str(error)
            hint = " (is another server running? pick a free one with --osc HOST:PORT)" \
                if error.errno == errno.EADDRINUSE else ""
            raise StartupError(f"cannot listen for OSC on udp://{self.config.host}:"
                               f"{self.config.port}: {why}{hint}") from None
        self._stamped = False
        if _SO_TIMESTAMPNS is not None and _ANCILLARY:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self._stamped = True
        self._socket = sock
        self._events = socket.socket(family, socket.SOCK_DGRAM)

    def start(self, core: Core) -> None:
        if self._socket is None:
            self.open()
        self._core = core
        self._subscription = core.bus.subscribe("osc_events", self.on_event)
        self._thread = threading.Thread(target=self.run, name="adaptive-osc", daemon=True)
        self._thread.start()
        log.info("OSC listening on udp://%s:%d", self.config.host, self.port)

    def run(self) -> None:
        realtime_thread("adaptive-osc")
        assert self._socket is not None
        while not self.stopping.is_set():
            try:
                batch = [self._receive(0)]
                # what else is already waiting is read now, without blocking: a flood is
                # handled a batch at a time (see `coalesce`)
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive(socket.MSG_DONTWAIT))
                    except BlockingIOError:
                        break
            except OSError as error:
                if self.stopping.is_set():
                    return
                self.core.stats.count("osc_socket_error", str(error))
                continue
            if self.stopping.is_set():
                return
            self.datagrams_received([(data, addr[:2]) for data, addr, _ in batch],
                                    [stamp for _, _, stamp in batch])

    def _receive(self, flags: int) -> tuple[bytes, Any, float]:
        """A datagram, its sender and the wall time it reached the machine."""
        assert self._socket is not None
        if not self._stamped:
            data, addr = self._socket.recvfrom(65536, flags)
            return data, addr, time.time()
        data, ancillary, _, addr = self._socket.recvmsg(65536, _ANCILLARY, flags)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                return data, addr, seconds + nanoseconds * 1e-9
        return data, addr, time.time()

    def stop(self) -> None:
        self.stopping.set()
        if self._subscription is not None and self._core is not None:
            self._core.bus.unsubscribe(self._subscription)
            self._subscription = None
        if self._socket is not None and self._events is not None:
            with contextlib.suppress(OSError):  # wakes the blocking read
                self._events.sendto(b"", self._wake_address())
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=1.0)
        for sock in (self._socket, self._events):
            if sock is not None:
                sock.close()
        self._socket = self._events = None

    close = stop

    def _wake_address(self) -> tuple[str, int]:
        assert self._socket is not None
        host, port = self._socket.getsockname()[:2]
        if ipaddress.ip_address(host).is_unspecified:
            host = "::1" if ":" in host else "127.0.0.1"
        return host, port

    def datagrams_received(self, batch: list[tuple[bytes, Address]],
                           arrivals: list[float] | None = None) -> None:
        """Parse a batch of datagrams in arrival order, then apply its commands;
        `arrivals`: the wall time each reached the machine (default: now)."""
        stats = self.core.stats
        commands: list[Timed] = []
        now = time.time()
        for index, (data, addr) in enumerate(batch):
            arrival = arrivals[index] if arrivals is not None else now
            if self.networks and not self._allowed(addr[0]):
                stats.count("osc_refused_source", f"packet from {addr[0]} outside --osc-allow")
                continue
            simple = parse_simple_message(data)
            if simple is not None:
                messages = [(simple[0], simple[1], IMMEDIATELY)]
            else:
                try:
                    messages = [(t.message.address, list(t.message.params), t.time)
                                for t in OscPacket(data).messages]
                except (ParseError, ValueError, IndexError, TypeError, UnicodeDecodeError,
                        OverflowError) as error:
                    stats.count("osc_malformed", f"from {addr[0]}:{addr[1]}: {error}")
                    continue
            for address, args, timetag in messages:
                try:
                    command = self._dispatch(address, args, addr)
                    if command is not None:
                        command = self.core.admit(command, "OSC ")
                    if command is not None:
                        at = None
                        if timetag > now + LATE_TOLERANCE:
                            at = self.core.sample_at(timetag)
                        elif isinstance(command, Transport):
                            at = self.core.sample_at(arrival)  # when the film was there
                        commands.append((command, at))
                except InputRejected as error:
                    stats.count(error.kind, f"OSC {error}")
                except Exception as error:  # whatever arrives, the music goes on
                    log.exception("OSC message %s failed", address)
                    stats.count("internal_error", f"OSC {address}: {error!r}")
        self.core.submit_batch(commands, "OSC ", "osc_coalesced")

    def _dispatch(self, address: str, args: list[Any], addr: Address) -> Command | None:
        """Answer a query at once, or return the command a message asks for."""
        if address == "/status":
            self.reply(addr, "/status", [self._status_json()])
            return None
        if address == "/subscribe":
            self._subscribe(addr, args)
            return None
        if address == "/unsubscribe":
            port = int(args[0]) if args and isinstance(args[0], int) else addr[1]
            self.subscribers.pop((addr[0], port), None)
            return None
        return command_from_osc(address, args)

    def _allowed(self, host: str) -> bool:
        try:
            source = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(source in network for network in self.networks)

    def _subscribe(self, addr: Address, args: list[Any]) -> None:
        port = addr[1]
        if args:
            if not isinstance(args[0], int) or isinstance(args[0], bool) or \
                    not 0 < args[0] < 65536:
                raise InputRejected("bad_arguments", f"/subscribe: bad port {args[0]!r}")
            port = args[0]
        if (addr[0], port) not in self.subscribers and len(self.subscribers) >= MAX_SUBSCRIBERS:
            raise InputRejected("too_many_subscribers", f"/subscribe from {addr[0]} refused")
        self.subscribers[(addr[0], port)] = time.time()
        log.info("OSC subscriber %s:%d", addr[0], port)

    def _status_json(self) -> str:
        import json

        return json.dumps(self.core.status())

    # --------------------------------------------------------------- sending

    def reply(self, addr: Address, address: str, args: Sequence[Any]) -> None:
        """Answer from the listening socket, to the port the request came from."""
        if self._socket is not None:
            self._send(self._socket, encode_message(address, args), addr)

    def _send(self, sock: socket.socket, data: bytes, addr: Address) -> None:
        try:
            sock.sendto(data, addr)
        except OSError as error:
            self.core.stats.count("osc_send_failed", f"to {addr}: {error}")

    def on_event(self, event: Event) -> None:
        """Called on the bus's thread for OSC: events carry the time they sound."""
        if not self.subscribers or self._events is None:
            return
        timetag = self.core.wall_at(event.sample)
        data = encode_bundle(timetag, f"/event/{event.kind}", list(event.args))
        for addr in list(self.subscribers):
            self._send(self._events, data, addr)
