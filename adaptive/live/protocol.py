"""The public contract as data: the OSC address space and the MQTT topics, each defined once.

Each row names a pattern (`<name>` is a path segment the row captures), its arguments, what
it does, and how it becomes a command. The same rows parse what arrives
(`command_from_osc`, `command_from_mqtt`), let `adaptive send` check a message before it
leaves, and write the README's tables (a test keeps them equal). A row without a builder is
answered by the endpoint itself (`/status`, `/subscribe`) or is outgoing (MQTT status and
events).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adaptive.commands import Command
from adaptive.live.inputs import (
    InputRejected,
    count_args,
    decode_json,
    number,
    set_param,
    text,
    validated,
)

Captures = Mapping[str, str]
OscBuilder = Callable[[Captures, Sequence[Any], str], Command]
MqttBuilder = Callable[[Captures, bytes, str], Command]


@dataclass(frozen=True)
class _Pattern:
    pattern: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.pattern.strip("/").split("/"))

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        mine = self.parts
        if len(parts) != len(mine):
            return None
        captures: dict[str, str] = {}
        for want, got in zip(mine, parts, strict=True):
            if want.startswith("<") and want.endswith(">"):
                if not got:
                    return None
                captures[want[1:-1]] = got
            elif want != got:
                return None
        return captures


@dataclass(frozen=True)
class OscAddress(_Pattern):
    args: str
    doc: str
    build: OscBuilder | None = None  # None: a query the endpoint answers


@dataclass(frozen=True)
class MqttTopic(_Pattern):
    direction: str  # in | out | out, retained
    payload: str
    build: MqttBuilder | None = None  # None: outgoing

    def subscription(self, prefix: str) -> str:
        return "/".join([prefix, *("+" if p.startswith("<") else p for p in self.parts)])


# ------------------------------------------------------------------ builders (OSC)

def _param(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 1, 1, where)
    return set_param(c["name"], number(args[0], where))


def _params(c: Captures, args: Sequence[Any], where: str) -> Command:
    if len(args) == 0 or len(args) % 2:
        raise InputRejected("bad_arguments",
                            f"{where}: expected name value pairs, got {len(args)} args")
    values = {text(args[i], where): number(args[i + 1], where) for i in range(0, len(args), 2)}
    return validated({"cmd": "params", "values": values}, where)


def _named(cmd: str) -> OscBuilder:
    def build(c: Captures, args: Sequence[Any], where: str) -> Command:
        count_args(args, 1, 1, where)
        return validated({"cmd": cmd, "name": text(args[0], where)}, where)
    return build


def _rest(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 0, 1, where)
    body: dict[str, Any] = {"cmd": "rest"}
    if args:
        body["beats"] = number(args[0], where)
    return validated(body, where)


def _resume(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 0, 1, where)
    body: dict[str, Any] = {"cmd": "resume"}
    if args:
        body["section"] = text(args[0], where)
    return validated(body, where)


def _bare(cmd: str) -> OscBuilder:
    def build(c: Captures, args: Sequence[Any], where: str) -> Command:
        count_args(args, 0, 0, where)
        return validated({"cmd": cmd}, where)
    return build


def _switch(cmd: str) -> OscBuilder:
    def build(c: Captures, args: Sequence[Any], where: str) -> Command:
        count_args(args, 1, 1, where)
        return validated({"cmd": cmd, "layer": c["name"], "on": number(args[0], where) != 0},
                         where)
    return build


def _layer_gain(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 1, 1, where)
    return validated({"cmd": "layer_gain", "layer": c["name"], "db": number(args[0], where)},
                     where)


def _layer_auto(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 0, 0, where)
    return validated({"cmd": "auto", "layer": c["name"]}, where)


def _transport(field: str) -> OscBuilder:
    def build(c: Captures, args: Sequence[Any], where: str) -> Command:
        count_args(args, 1, 1, where)
        value: Any = number(args[0], where) if field == "time" else text(args[0], where)
        return validated({"cmd": "transport", field: value}, where)
    return build


def _arm(c: Captures, args: Sequence[Any], where: str) -> Command:
    count_args(args, 1, 2, where)
    body: dict[str, Any] = {"cmd": "arm", "what": text(args[0], where)}
    if len(args) > 1:
        body["name"] = text(args[1], where)
    return validated(body, where)


def _optional(cmd: str, field: str, kind: Callable[[Any, str], Any]) -> OscBuilder:
    """A command with one optional argument (`/go [when]`, `/panic [seconds]`)."""
    def build(c: Captures, args: Sequence[Any], where: str) -> Command:
        count_args(args, 0, 1, where)
        body: dict[str, Any] = {"cmd": cmd}
        if args:
            body[field] = kind(args[0], where)
        return validated(body, where)
    return build


def _whole(value: Any, where: str) -> int:
    got = number(value, where)
    if got != int(got):
        raise InputRejected("bad_type", f"{where}: expected a whole number, got {value!r}")
    return int(got)


LAYER_NAME = "`<name>` is a layer name (all sections) or `section.layer`"

OSC_ADDRESSES: tuple[OscAddress, ...] = (
    OscAddress("/param/<name>", "value (float, int or double)", "set one parameter", _param),
    OscAddress("/params", "name value [name value ...]",
               "set several, applied in the same audio block (unknown names are counted, "
               "the others applied)", _params),
    OscAddress("/state", "name", "apply a named state", _named("state")),
    OscAddress("/section", "name", "go to a section (by its transition rule)",
               _named("section")),
    OscAddress("/stinger", "name", "play a stinger on its sync point", _named("stinger")),
    OscAddress("/rest", "[beats]", "rest (until `/resume`, or for so many beats)", _rest),
    OscAddress("/resume", "[section]", "re-enter on the next downbeat", _resume),
    OscAddress("/arm", "section\\|stinger\\|state\\|rest\\|resume [name]", "prepare a move "
               "without doing it (a newer arm replaces it)", _arm),
    OscAddress("/go", "[immediate\\|beat\\|bar\\|phrase\\|end]", "fire what is armed on its "
               "sync point (or on this one); a second `/go` within the lockout (`serve "
               "--go-lockout`, 0.5 s) is ignored and counted", _optional("go", "when", text)),
    OscAddress("/disarm", "", "forget what is armed", _bare("disarm")),
    OscAddress("/vamp", "[bars]", "from the next bar, the last bar (or bars) repeats until "
               "`/devamp`", _optional("vamp", "bars", _whole)),
    OscAddress("/devamp", "[beat\\|bar]", "leave the vamp at the next beat or bar (default), "
               "firing what is armed there", _optional("devamp", "exit", text)),
    OscAddress("/panic", "[seconds]", "fade everything (bed, stingers, tails) to silence "
               "(default 2 s; 0: a hard stop, 3 ms) and hold it until `/resume` or "
               "`/transport/play`", _optional("panic", "seconds", number)),
    OscAddress("/transport/play", "", "resume", _bare("play")),
    OscAddress("/transport/stop", "", "fade to silence (a stop, distinct from a rest)",
               _bare("stop")),
    OscAddress("/transport/time", "seconds (float, double or int)", "the film's player: "
               "where the film is (film seconds of the cue sheet); send several times a "
               "second and after each seek", _transport("time")),
    OscAddress("/transport/timecode", '"HH:MM:SS:FF"', "the same as a timecode of the sheet",
               _transport("timecode")),
    OscAddress("/transport/state", '"play", "pause", "stop" or "seek"', "what the player is "
               "doing (the music follows: see Screening)", _transport("state")),
    OscAddress("/layer/<name>/mute", "0 or 1", f"performer override; {LAYER_NAME}",
               _switch("mute")),
    OscAddress("/layer/<name>/solo", "0 or 1", f"performer override; {LAYER_NAME}",
               _switch("solo")),
    OscAddress("/layer/<name>/gain", "dB", "override gain on top of the score's curves",
               _layer_gain),
    OscAddress("/layer/<name>/auto", "", "back to the score's own curves", _layer_auto),
    OscAddress("/status", "", "replies to the sender's address and port with JSON: what is "
               "sounding and pending, parameters, gains, counters (fields below)"),
    OscAddress("/subscribe", "[port]", "send events to the sender (or that port)"),
    OscAddress("/unsubscribe", "[port]", "stop them"),
)

QUERIES = frozenset(a.pattern for a in OSC_ADDRESSES if a.build is None)


_MATCHED: dict[str, tuple[OscAddress, dict[str, str]] | None] = {}
_MATCHED_MAX = 4096
"""Addresses already matched: a flood repeats a few addresses thousands of times."""


def osc_address(address: str) -> tuple[OscAddress, dict[str, str]] | None:
    """The row an address matches, with its captures (treat them as read-only)."""
    if address in _MATCHED:
        return _MATCHED[address]
    parts = address.strip("/").split("/")
    found = None
    for row in OSC_ADDRESSES:
        captures = row.match(parts)
        if captures is not None:
            found = row, captures
            break
    if len(_MATCHED) < _MATCHED_MAX:  # junk addresses cannot grow it without bound
        _MATCHED[address] = found
    return found


def command_from_osc(address: str, args: Sequence[Any]) -> Command:
    """An OSC message → a command, or InputRejected (queries are the endpoint's)."""
    found = osc_address(address)
    if found is None or found[0].build is None:
        raise InputRejected("unknown_address", f"no such address {address!r}")
    row, captures = found
    assert row.build is not None
    return row.build(captures, args, address)


# ----------------------------------------------------------------- builders (MQTT)

def _mqtt_param(c: Captures, payload: bytes, where: str) -> Command:
    value = decode_json(payload, where)
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return set_param(c["name"], number(value, where))


def _mqtt_params(c: Captures, payload: bytes, where: str) -> Command:
    values = decode_json(payload, where)
    if not isinstance(values, dict):
        raise InputRejected("bad_type", f"{where}: expected a JSON object of name: value")
    return validated({"cmd": "params", "values": {
        text(k, where): number(v, where) for k, v in values.items()}}, where)


def _mqtt_cmd(c: Captures, payload: bytes, where: str) -> Command:
    body = decode_json(payload, where)
    if not isinstance(body, dict):
        raise InputRejected("bad_type", f"{where}: expected a JSON object with 'cmd'")
    return validated(body, where)


def _mqtt_transport(c: Captures, payload: bytes, where: str) -> Command:
    body = decode_json(payload, where)
    if not isinstance(body, dict) or not body.keys() & {"time", "timecode", "state"}:
        raise InputRejected("bad_type", f"{where}: expected a JSON object with time, timecode "
                            'and/or state, e.g. {"time": 12.5, "state": "play"}')
    return validated({"cmd": "transport", **body}, where)


MQTT_TOPICS: tuple[MqttTopic, ...] = (
    MqttTopic("param/<name>", "in", 'a number, or JSON `{"value": 0.8}`', _mqtt_param),
    MqttTopic("params", "in", 'JSON object `{"tension": 0.8, "arousal": 0.3}` (unknown names '
              "are counted, the others applied)", _mqtt_params),
    MqttTopic("cmd", "in", "a JSON command, the same vocabulary as timelines: "
              '`{"cmd": "section", "name": "chase"}`; performer commands too: '
              '`{"cmd": "arm", "what": "section", "name": "b"}`, `{"cmd": "go"}`, '
              '`{"cmd": "vamp", "bars": 2}`, `{"cmd": "devamp", "exit": "beat"}`, '
              '`{"cmd": "panic", "seconds": 0}`', _mqtt_cmd),
    MqttTopic("transport", "in", 'the film\'s player: JSON `{"time": 12.5, "state": "play"}` '
              '(either alone; or "timecode")', _mqtt_transport),
    MqttTopic("status", "out, retained", "JSON status (the same fields as `/status`), on "
              "change and every 2 s"),
    MqttTopic("event/<kind>", "out", '`{"args": [...], "sample": N, "time": s, '
              '"wall": unix time}`'),
    MqttTopic("online", "out, retained", "`true` / `false` (also the last will)"),
)


def command_from_mqtt(suffix: str, payload: bytes) -> Command:
    """A topic suffix (after the prefix) and its payload → a command, or InputRejected."""
    parts = suffix.split("/")
    for row in MQTT_TOPICS:
        captures = row.match(parts)
        if captures is not None and row.build is not None:
            return row.build(captures, payload, suffix)
    raise InputRejected("unknown_topic", f"no such topic suffix {suffix!r}")


def mqtt_subscriptions(prefix: str) -> list[str]:
    return [row.subscription(prefix) for row in MQTT_TOPICS if row.build is not None]


# -------------------------------------------------------------------- tables

def _code(pattern: str) -> str:
    return f"`{pattern}`"


def osc_table() -> str:
    rows = ["| address | arguments | effect |", "|---|---|---|"]
    rows += [f"| {_code(a.pattern)} | {a.args} | {a.doc} |" for a in OSC_ADDRESSES]
    return "\n".join(rows)


def mqtt_table() -> str:
    rows = ["| topic | direction | payload |", "|---|---|---|"]
    rows += [f"| {_code('<prefix>/' + t.pattern)} | {t.direction} | {t.payload} |"
             for t in MQTT_TOPICS]
    return "\n".join(rows)


def osc_help() -> str:
    """The address space for `adaptive send --help`."""
    width = max(len(a.pattern) for a in OSC_ADDRESSES)
    lines = ["OSC addresses:"]
    lines += [f"  {a.pattern:<{width}}  {a.args.replace(chr(92), '') or '-'}: "
              f"{a.doc.replace('`', '')}"
              for a in OSC_ADDRESSES]
    return "\n".join(lines)
