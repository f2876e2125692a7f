"""Live input at the edge: OSC messages and MQTT payloads turned into commands, or refused.

Pure: no sockets. Everything a client can send arrives here first; what cannot become a
valid command raises `InputRejected` with a *kind* (the counter it increments) and a
message for the (rate-limited) log. Nothing invalid ever reaches the conductor or the graph.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from adaptive.commands import Command, SetParam, SetParams, parse_command

MAX_JSON_BYTES = 16 * 1024


class InputRejected(Exception):
    """An input that cannot be applied; `kind` names the counter it increments."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputRejected("bad_type", f"{where}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputRejected("not_finite", f"{where}: {number} is not a finite number")
    return number


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputRejected("bad_type", f"{where}: expected a name, got {value!r}")
    return value


def _count(args: Sequence[Any], low: int, high: int, address: str) -> None:
    if not low <= len(args) <= high:
        wanted = str(low) if low == high else f"{low}-{high}"
        raise InputRejected("bad_arguments",
                            f"{address}: expected {wanted} argument(s), got {len(args)}")


def _validated(data: dict[str, Any], where: str) -> Command:
    try:
        return parse_command(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "cmd"
        raise InputRejected("invalid_command",
                            f"{where}: {field}: {first['msg']}") from None


def _set_param(name: str, value: float) -> SetParam:
    """The message of every flood, built without pydantic's validation: `_number` has
    checked everything `SetParam` would (a finite float), and a name is any text."""
    return SetParam.model_construct(name=name, value=value)


def command_from_osc(address: str, args: Sequence[Any]) -> Command:
    """The OSC address space (the public contract: see the README)."""
    parts = address.strip("/").split("/")
    head = parts[0]
    if head == "param" and len(parts) == 2:
        _count(args, 1, 1, address)
        return _set_param(parts[1], _number(args[0], address))
    if head == "params" and len(parts) == 1:
        if len(args) == 0 or len(args) % 2:
            raise InputRejected("bad_arguments",
                                f"{address}: expected name value pairs, got {len(args)} args")
        values = {_text(args[i], address): _number(args[i + 1], address)
                  for i in range(0, len(args), 2)}
        return _validated({"cmd": "params", "values": values}, address)
    if head in ("state", "section", "stinger") and len(parts) == 1:
        _count(args, 1, 1, address)
        return _validated({"cmd": head, "name": _text(args[0], address)}, address)
    if head == "rest" and len(parts) == 1:
        _count(args, 0, 1, address)
        body: dict[str, Any] = {"cmd": "rest"}
        if args:
            body["beats"] = _number(args[0], address)
        return _validated(body, address)
    if head == "resume" and len(parts) == 1:
        _count(args, 0, 1, address)
        body = {"cmd": "resume"}
        if args:
            body["section"] = _text(args[0], address)
        return _validated(body, address)
    if head == "transport" and len(parts) == 2 and parts[1] in ("play", "stop"):
        _count(args, 0, 0, address)
        return _validated({"cmd": parts[1]}, address)
    if head == "layer" and len(parts) == 3:
        name, verb = parts[1], parts[2]
        if verb in ("mute", "solo"):
            _count(args, 1, 1, address)
            return _validated({"cmd": verb, "layer": name,
                               "on": _number(args[0], address) != 0}, address)
        if verb == "gain":
            _count(args, 1, 1, address)
            return _validated({"cmd": "layer_gain", "layer": name,
                               "db": _number(args[0], address)}, address)
        if verb == "auto":
            _count(args, 0, 0, address)
            return _validated({"cmd": "auto", "layer": name}, address)
    raise InputRejected("unknown_address", f"no such address {address!r}")


Timed = tuple[Command, int | None]
"""A command and the sample it applies at (None: as soon as possible)."""


def coalesce(commands: list[Timed]) -> list[Timed]:
    """Immediate parameter changes read together become one change with each parameter's
    latest value; every other command keeps its place and ends the run before it.

    A parameter is a state, not an event: of several values that arrive within one audio
    block only the last can be heard, so a flood costs one conductor pass per read, not
    one per message. Timetagged commands are never merged: each keeps its sample.
    """
    merged: list[Timed] = []
    run: dict[str, float] = {}

    def flush() -> None:
        if len(run) == 1:
            ((name, value),) = run.items()
            merged.append((SetParam(name=name, value=value), None))
        elif run:
            merged.append((SetParams(values=dict(run)), None))
        run.clear()

    for command, at in commands:
        if at is None and isinstance(command, SetParam):
            run.pop(command.name, None)  # re-inserted last: dict order is arrival order
            run[command.name] = command.value
        elif at is None and isinstance(command, SetParams):
            for name, value in command.values.items():
                run.pop(name, None)
                run[name] = value
        else:
            flush()
            merged.append((command, at))
    flush()
    return merged


def decode_json(payload: bytes, where: str) -> Any:
    """Bytes → JSON value, refusing oversized, non-UTF-8, malformed and non-finite input."""
    if len(payload) > MAX_JSON_BYTES:
        raise InputRejected("too_large", f"{where}: {len(payload)} bytes "
                                         f"(limit {MAX_JSON_BYTES})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRejected("bad_utf8", f"{where}: payload is not UTF-8") from None

    def reject_constant(name: str) -> None:
        raise InputRejected("not_finite", f"{where}: {name} is not a finite number")

    try:
        return json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as error:
        raise InputRejected("bad_json", f"{where}: invalid JSON: {error.msg}") from None


def command_from_mqtt(suffix: str, payload: bytes) -> Command:
    """`param/<name>` (a number or JSON), `params` (JSON object), `cmd` (JSON command)."""
    parts = suffix.split("/")
    if parts[0] == "param" and len(parts) == 2:
        value = decode_json(payload, suffix)
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        return _set_param(parts[1], _number(value, suffix))
    if suffix == "params":
        values = decode_json(payload, suffix)
        if not isinstance(values, dict):
            raise InputRejected("bad_type", f"{suffix}: expected a JSON object of name: value")
        return _validated({"cmd": "params", "values": {
            _text(k, suffix): _number(v, suffix) for k, v in values.items()}}, suffix)
    if suffix == "cmd":
        body = decode_json(payload, suffix)
        if not isinstance(body, dict):
            raise InputRejected("bad_type", f"{suffix}: expected a JSON object with 'cmd'")
        return _validated(body, suffix)
    raise InputRejected("unknown_topic", f"no such topic suffix {suffix!r}")
