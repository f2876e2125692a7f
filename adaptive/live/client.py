"""`adaptive send`: a small client for trying the live server by hand (OSC or MQTT).

A message is checked against the same protocol table the server parses with, so a typo is
an error here rather than a counter on the server."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

from pythonosc.osc_packet import OscPacket

from adaptive.live.inputs import InputRejected
from adaptive.live.osc import encode_message
from adaptive.live.protocol import command_from_osc, osc_address


def _typed(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def check_osc(address: str, values: list[Any]) -> str | None:
    """What the server would refuse in this message (the same protocol table), or None."""
    found = osc_address(address)
    if found is None:
        return (f"no such OSC address {address!r}; see `adaptive send --help` for the "
                "address space")
    if found[0].build is None:
        return None  # a query: answered by the endpoint
    try:
        command_from_osc(address, values)
    except InputRejected as error:
        return str(error)
    return None


def send(args: argparse.Namespace) -> int:
    if args.mqtt:
        return _send_mqtt(args)
    host, _, port = args.to.rpartition(":")
    target = (host or "127.0.0.1", int(port))
    values = [_typed(v) for v in args.values]
    problem = check_osc(args.address, values)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_message(args.address, values), target)
        if args.address != "/status":
            return 0
        sock.settimeout(args.timeout)
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            print(f"no reply from {target[0]}:{target[1]} within {args.timeout} s",
                  file=sys.stderr)
            return 1
    for timed in OscPacket(data).messages:
        for param in timed.message.params:
            print(json.dumps(json.loads(param), indent=2) if isinstance(param, str) else param)
    return 0


def _send_mqtt(args: argparse.Namespace) -> int:
    import asyncio

    from adaptive.live.mqtt import MqttConfig, client_for

    config = MqttConfig.from_url(args.mqtt, prefix=args.mqtt_prefix)
    payload = " ".join(args.values)

    async def publish() -> None:
        async with client_for(config, will=False) as client:
            await client.publish(f"{config.prefix}/{args.address.strip('/')}", payload,
                                 qos=config.qos)

    asyncio.run(publish())
    return 0
