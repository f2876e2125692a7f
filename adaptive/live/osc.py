"""OSC over UDP: the live address space in, status replies and events out.

Packets are parsed here with python-osc's packet parser, not its dispatcher: the
dispatcher sleeps until a bundle's future timetag, which would stall every other input.
A future timetag becomes the audio sample at which its commands apply. Replies go to the
address and port the request came from, so senders that change port per message work.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket, ParseError

from adaptive.live.controller import Controller, Event
from adaptive.live.inputs import InputRejected, command_from_osc

log = logging.getLogger("adaptive.osc")

MAX_SUBSCRIBERS = 64
LATE_TOLERANCE = 0.001  # seconds: a timetag this close to now counts as "now"

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


class OscEndpoint(threading.Thread):
    """Receives OSC packets, turns them into commands, answers queries, sends events.

    A thread of its own with a blocking socket, at a low real-time priority: measured, an
    asyncio loop shared with MQTT added 2-5 ms to the OSC → audio latency.
    """

    def __init__(self, controller: Controller, config: OscConfig) -> None:
        super().__init__(name="adaptive-osc", daemon=True)
        self.controller = controller
        self.config = config
        self.networks = [ipaddress.ip_network(net, strict=False) for net in config.allow]
        self.subscribers: dict[Address, float] = {}
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._socket.bind((config.host, config.port))
        self._socket.settimeout(0.2)
        self._events = socket.socket(family, socket.SOCK_DGRAM)
        self.stopping = threading.Event()
        controller.listeners.append(self.on_event)

    def run(self) -> None:
        from adaptive.live.session import realtime_thread

        realtime_thread()
        while not self.stopping.is_set():
            try:
                data, addr = self._socket.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError as error:
                if self.stopping.is_set():
                    return
                self.controller.stats.count("osc_socket_error", str(error))
                continue
            self.datagram_received(data, addr[:2])

    def close(self) -> None:
        self.stopping.set()
        self.join(timeout=1.0)
        self._socket.close()
        self._events.close()

    def datagram_received(self, data: bytes, addr: Address) -> None:
        stats = self.controller.stats
        if self.networks and not self._allowed(addr[0]):
            stats.count("osc_refused_source", f"packet from {addr[0]} outside --osc-allow")
            return
        try:
            messages = OscPacket(data).messages
        except (ParseError, ValueError, IndexError, TypeError, UnicodeDecodeError,
                OverflowError) as error:
            stats.count("osc_malformed", f"from {addr[0]}:{addr[1]}: {error}")
            return
        now = time.time()
        for timed in messages:
            message = timed.message
            try:
                self._dispatch(message.address, list(message.params), timed.time, now, addr)
            except InputRejected as error:
                stats.count(error.kind, f"OSC {error}")
            except Exception as error:  # whatever arrives, the music goes on
                log.exception("OSC message %s failed", message.address)
                stats.count("internal_error", f"OSC {message.address}: {error!r}")

    def _dispatch(self, address: str, args: list[Any], timetag: float, now: float,
                  addr: Address) -> None:
        if address == "/status":
            self.reply(addr, "/status", [self._status_json()])
            return
        if address == "/subscribe":
            self._subscribe(addr, args)
            return
        if address == "/unsubscribe":
            port = int(args[0]) if args and isinstance(args[0], int) else addr[1]
            self.subscribers.pop((addr[0], port), None)
            return
        command = command_from_osc(address, args)
        at = None
        if timetag > now + LATE_TOLERANCE:
            at = self.controller.sample_at(timetag)
        self.controller.submit(command, at, source="OSC ")

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

        return json.dumps(self.controller.status())

    # --------------------------------------------------------------- sending

    def reply(self, addr: Address, address: str, args: Sequence[Any]) -> None:
        """Answer from the listening socket, to the port the request came from."""
        self._send(self._socket, encode_message(address, args), addr)

    def _send(self, sock: socket.socket, data: bytes, addr: Address) -> None:
        try:
            sock.sendto(data, addr)
        except OSError as error:
            self.controller.stats.count("osc_send_failed", f"to {addr}: {error}")

    def on_event(self, event: Event) -> None:
        """Called from the controller's thread: events carry the time they sound."""
        if not self.subscribers:
            return
        timetag = self.controller.wall_at(event.sample)
        data = encode_bundle(timetag, f"/event/{event.kind}", list(event.args))
        for addr in list(self.subscribers):
            self._send(self._events, data, addr)


def start_osc(controller: Controller, config: OscConfig) -> OscEndpoint:
    endpoint = OscEndpoint(controller, config)
    endpoint.start()
    log.info("OSC listening on udp://%s:%d", config.host, config.port)
    return endpoint
