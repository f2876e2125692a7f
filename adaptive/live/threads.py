"""Scheduling and naming of the server's Python threads."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

_PR_SET_NAME = 15


def name_native_thread(name: str) -> None:
    """Give the calling thread a kernel name (15 bytes), so `top -H` and `ps -L` say which
    thread costs what: Python does not name its threads for the OS."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def realtime_thread(name: str, priority: int = 1) -> None:
    """Name the calling thread and run it at a low real-time priority, below JACK's.

    Python I/O threads holding the GIL must not be parked behind busy processes while the
    audio callback waits for the GIL (measured: xruns under packet floods until this).
    """
    name_native_thread(name)
    with contextlib.suppress(PermissionError, OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
