"""Capture of the pyo objects a block of code creates, confined to the thread that runs it.

Two reasons to capture. pyo frees an intermediate object (the `a - b` inside `(a - b) * c`)
as soon as Python drops it, while the graph may still read it: holding everything built for
a voice keeps the graph intact without patch authors tracking references. And a voice's
objects are stopped while it is silent and played again before it sounds, so idle voices
cost no DSP: the captured list is exactly what to stop and play.

Objects are recorded by a wrapper around pyo's base-class constructors, installed once per
pyo module and left in place. It records only into the captures open *in the creating
thread*: a hot reload builds a new engine in a worker thread while the playing engine may
create a performer override in another, and that override must not land in the new
voice's group (which is stopped while silent, and would silence the playing layer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

PyoObject = Any

_local = threading.local()
_install_lock = threading.Lock()
_MARK = "_adaptive_capture"


def _open_captures() -> list[list[PyoObject]]:
    """The current thread's stack of open captures (created on first use)."""
    stack: list[list[PyoObject]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


def _record(obj: PyoObject) -> None:
    stack: list[list[PyoObject]] | None = getattr(_local, "stack", None)
    if stack:
        for capture in stack:
            capture.append(obj)


def install(pyo: ModuleType) -> None:
    """Wrap pyo's base constructors (once; idempotent and thread-safe)."""
    with _install_lock:
        for kind in (pyo.PyoObject, pyo.PyoPVObject):
            original = kind.__init__
            if getattr(original, _MARK, False):
                continue

            def recording_init(self: PyoObject, *args: Any, _original: Any = original,
                               **kwargs: Any) -> None:
                _original(self, *args, **kwargs)
                _record(self)

            setattr(recording_init, _MARK, True)
            recording_init.__wrapped__ = original  # type: ignore[attr-defined]
            kind.__init__ = recording_init


@contextmanager
def captured_objects(pyo: ModuleType) -> Iterator[list[PyoObject]]:
    """Hold every pyo object this thread creates inside the block, for as long as the list
    lives. Captures nest: an object is recorded in every capture open in its thread."""
    install(pyo)
    created: list[PyoObject] = []
    stack = _open_captures()
    stack.append(created)
    try:
        yield created
    finally:
        stack.pop()  # a thread's captures close in the order they opened


@contextmanager
def shared_objects(pyo: ModuleType) -> Iterator[list[PyoObject]]:
    """Capture objects that several voices share (a parameter's curve lookup): they are
    recorded here and by no capture open around the block, so stopping the voice that
    happened to create one never silences the others that read it."""
    install(pyo)
    stack = _open_captures()
    outer, stack[:] = stack[:], []
    created: list[PyoObject] = []
    stack.append(created)
    try:
        yield created
    finally:
        stack[:] = outer
