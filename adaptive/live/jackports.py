"""JACK port connections, through libjack itself (ctypes): what pyo does not expose.

pyo's own auto-connection is switched off (see `audio.boot_live_server`) because it says
nothing about what it did. Here a short-lived, never-activated client of ours lists the
physical playback ports, connects our outputs and reports each connection, so the log
says where the music goes (or that it goes nowhere).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import re
from dataclasses import dataclass, field

log = logging.getLogger("adaptive.jack")

_NO_START_SERVER = 0x01
_IS_INPUT, _IS_OUTPUT, _IS_PHYSICAL = 0x1, 0x2, 0x4
_AUDIO = b"32 bit float mono audio"


class JackPortsError(Exception):
    """libjack is missing or the JACK server cannot be reached."""


@dataclass
class Connections:
    """What `connect_outputs` did: pairs connected, and ports it could not connect."""

    made: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # source, target, why


_MESSAGE = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
_probing = False


def _on_message(message: bytes | None) -> None:
    """libjack's own messages: to our log (debug while probing), not raw to stderr."""
    text = (message or b"").decode(errors="replace")
    log.log(logging.DEBUG if _probing else logging.WARNING, "libjack: %s", text)


_handler = _MESSAGE(_on_message)  # held for the life of the process: libjack keeps it


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("jack") or "libjack.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as error:
        raise JackPortsError(f"libjack not found: {error}") from None
    lib.jack_set_error_function.argtypes = [_MESSAGE]
    lib.jack_set_error_function(_handler)
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                   ctypes.c_ulong]
    lib.jack_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    lib.jack_free.argtypes = [ctypes.c_void_p]
    return lib


class JackPorts:
    """A passive JACK client (follows JACK_DEFAULT_SERVER); use as a context manager."""

    def __init__(self, name: str = "adaptive-ports") -> None:
        self._lib = _library()
        status = ctypes.c_int(0)
        self._client = self._lib.jack_client_open(name.encode(), ctypes.c_int(_NO_START_SERVER),
                                                  ctypes.byref(status))
        if not self._client:
            raise JackPortsError(f"cannot reach the JACK server (status 0x{status.value:x})")

    def __enter__(self) -> JackPorts:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client:
            self._lib.jack_client_close(self._client)
            self._client = None

    def ports(self, pattern: str = "", flags: int = 0) -> list[str]:
        found = self._lib.jack_get_ports(self._client, pattern.encode() or None, _AUDIO, flags)
        if not found:
            return []
        names = []
        index = 0
        while found[index]:
            names.append(found[index].decode())
            index += 1
        self._lib.jack_free(ctypes.cast(found, ctypes.c_void_p))
        return names

    def outputs_of(self, client: str) -> list[str]:
        return self.ports(f"^{re.escape(client)}:", _IS_OUTPUT)

    def physical_playback(self) -> list[str]:
        return self.ports("", _IS_INPUT | _IS_PHYSICAL)

    def connect(self, source: str, target: str) -> str | None:
        """None on success (or if already connected), else why not."""
        result = self._lib.jack_connect(self._client, source.encode(), target.encode())
        if result in (0, errno.EEXIST):
            return None
        if not self.ports(f"^{re.escape(target)}$"):
            return "no such port"
        return f"jack_connect returned {result}"


def server_running() -> bool:
    """Whether a JACK server answers (JACK_DEFAULT_SERVER's, or the default one), asked
    without starting one and without libjack's lines on the terminal."""
    global _probing
    _probing = True
    try:
        with JackPorts("adaptive-probe"):
            return True
    except JackPortsError:
        return False
    finally:
        _probing = False


def connect_outputs(client: str, targets: list[str] | None) -> Connections:
    """Connect `client`'s outputs in order to `targets` (None: the physical playback
    ports, as most JACK clients do)."""
    done = Connections()
    with JackPorts() as jack:
        sources = jack.outputs_of(client)
        wanted = jack.physical_playback() if targets is None else targets
        for source, target in zip(sources, wanted, strict=False):
            why = jack.connect(source, target)
            if why is None:
                done.made.append((source, target))
            else:
                done.failed.append((source, target, why))
        if not sources and wanted:
            done.failed.append((f"{client}:*", wanted[0], f"{client} has no output ports"))
    return done
