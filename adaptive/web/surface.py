"""The control surface's rules, free of I/O: where it listens, who may use it, what it
accepts and what it shows.

- `HttpConfig.parse` reads `--http HOST:PORT` (a bad value is one line for the user).
- Access follows the address the server is bound to, not the peer's: bound to a loopback
  address (127.0.0.0/8, ::1, `localhost`) only this machine can reach it, and no token is
  asked; bound to anything else (0.0.0.0, a LAN address) every page load and every
  WebSocket must carry the token (`?token=`), a local browser included: a proxy on the
  same machine would otherwise open it to the network.
- `parse_message` turns a WebSocket text frame into a command exactly as MQTT's `cmd`
  topic does (JSON object with `cmd`, the one vocabulary of `adaptive.commands`).
- `score_view` and `status_view` are the two messages the page reads: the score's
  controls once per connection (and after a reload), the status at the push rate.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any, get_args

from adaptive.commands import Command
from adaptive.errors import AdaptiveError
from adaptive.live.inputs import InputRejected, decode_json, validated
from adaptive.score.model import Score

PUSH_RATE = 25.0
"""Status messages per second to each page (the issue asks for at least 20)."""


class HttpConfigError(AdaptiveError):
    """A bad `--http` value."""


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    """Required beyond loopback; None there: one is generated at start and printed."""

    @classmethod
    def parse(cls, text: str, token: str | None = None) -> HttpConfig:
        """`HOST:PORT`, `:PORT` (loopback) or `PORT`; IPv6 as `[::1]:8080`."""
        host, sep, port_text = text.strip().rpartition(":")
        if not sep:
            host, port_text = "", text.strip()
        host = host.strip("[]") or "127.0.0.1"
        try:
            port = int(port_text)
        except ValueError:
            raise HttpConfigError(f"--http {text!r}: expected HOST:PORT, e.g. "
                                  "127.0.0.1:8080 or 0.0.0.0:8080") from None
        if not 0 <= port <= 65535:
            raise HttpConfigError(f"--http {text!r}: port {port} is not in 0-65535")
        if token is not None and not token.strip():
            raise HttpConfigError("--http-token is empty")
        return cls(host, port, token)

    @property
    def needs_token(self) -> bool:
        return not is_loopback(self.host)

    def with_token(self) -> HttpConfig:
        """This configuration with a token where one is needed and none was given."""
        if not self.needs_token or self.token is not None:
            return self
        return HttpConfig(self.host, self.port, new_token())


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def new_token() -> str:
    return secrets.token_urlsafe(16)


def token_ok(expected: str | None, given: str | None) -> bool:
    """Whether a request may pass: no token expected, or the same one (constant time)."""
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def parse_message(payload: bytes | str, where: str = "web") -> Command:
    """A WebSocket frame → a command; raises InputRejected with the counter's kind."""
    data = payload.encode() if isinstance(payload, str) else payload
    body = decode_json(data, where)
    if not isinstance(body, dict):
        raise InputRejected("bad_type", f"{where}: expected a JSON object with 'cmd'")
    return validated(body, where)


def score_view(score: Score) -> dict[str, Any]:
    """The controls a score offers: parameters with their range, states, stingers,
    sections and layers (`section.layer`)."""
    return {
        "type": "score",
        "name": score.score.name,
        "parameters": [{"name": name, "min": p.min, "max": p.max, "default": p.default}
                       for name, p in score.parameters.items()],
        "states": sorted(score.states),
        "stingers": sorted(score.stingers),
        "sections": list(score.sections),
        "layers": [f"{section}.{layer}" for section, spec in score.sections.items()
                   for layer in spec.layers],
        "commands": command_names(),
    }


def command_names() -> list[str]:
    """Every `cmd` of the command vocabulary: the page offers the performer's buttons
    (GO, vamp, panic) only where the server knows them."""
    union = get_args(get_args(Command)[0])
    return [str(member.model_fields["cmd"].default) for member in union]


def status_view(status: dict[str, Any], levels: dict[str, tuple[float, float]],
                errors: list[tuple[float, str, str]], clients: int,
                now: float | None = None) -> dict[str, Any]:
    """One push: the status as `/status` gives it, the measured levels, the last errors
    (with their age in seconds) and how many pages are connected."""
    at = time.monotonic() if now is None else now
    return {
        "type": "status",
        "status": status,
        "levels": {key: {"peak_db": peak, "rms_db": rms} for key, (peak, rms) in levels.items()},
        "errors": [{"age": round(at - when, 1), "kind": kind, "message": message}
                   for when, kind, message in errors],
        "clients": clients,
    }


def beat_view(bar: int, beat: int, sample: int, wall: float, now: float) -> dict[str, Any]:
    """A beat announced ahead of time: the page lights it `in` seconds from receipt."""
    return {"type": "beat", "bar": bar, "beat": beat, "sample": sample,
            "in": round(max(wall - now, 0.0), 4)}
