"""JACK's xruns, counted by an xrun callback of a small client of ours (for `/metrics`).

pyo does not expose JACK's xrun callback, so a second, port-less client is opened on the
same server (`JACK_DEFAULT_SERVER`, as the session set it) and activated: JACK calls its
xrun callback from its notification thread (never the audio thread) on every xrun of the
graph, which is what the engine's own client would hear.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

from adaptive.live.jackports import JackPortsError, _library

log = logging.getLogger("adaptive.jack")

_NO_START_SERVER = 0x01
_XRUN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class XrunCounter:
    """`open` after the audio started; calling it gives the count (None if not open)."""

    def __init__(self, name: str, server: str | None = None) -> None:
        self.name = name
        self.server = server
        self.count = 0
        self._lock = threading.Lock()
        self._lib: Any = None
        self._client: Any = None
        self._callback = _XRUN(self._on_xrun)  # held: libjack keeps the pointer

    def _on_xrun(self, _arg: Any) -> int:
        with self._lock:
            self.count += 1
        return 0

    def open(self) -> bool:
        try:
            lib = _library()
        except JackPortsError as error:
            log.warning("xruns not counted: %s", error)
            return False
        lib.jack_set_xrun_callback.argtypes = [ctypes.c_void_p, _XRUN, ctypes.c_void_p]
        lib.jack_activate.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int(0)
        client = lib.jack_client_open(self.name.encode(), ctypes.c_int(_NO_START_SERVER),
                                      ctypes.byref(status))
        if not client:
            log.warning("xruns not counted: cannot open a JACK client (status 0x%x)",
                        status.value)
            return False
        if lib.jack_set_xrun_callback(client, self._callback, None) != 0 \
                or lib.jack_activate(client) != 0:
            lib.jack_client_close(client)
            log.warning("xruns not counted: JACK refused the xrun callback")
            return False
        self._lib, self._client = lib, client
        return True

    def __call__(self) -> int | None:
        if self._client is None:
            return None
        with self._lock:
            return self.count

    def close(self) -> None:
        if self._client is not None:
            self._lib.jack_client_close(self._client)
            self._client = None
