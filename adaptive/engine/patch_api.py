"""The interface between the engine and a patch (a procedural instrument in `patches/`).

A patch is one Python file with a docstring, a `CONTROLS` table and a `build(ctx)` function:

    CONTROLS = {"brightness": ControlSpec(0.5, "0 dark .. 1 bright")}

    def build(ctx: PatchContext) -> PyoObject:   # two streams: left, right
        ...

`build` runs once per voice slot when the score loads (never on the audio path). It reads
musical time and harmony only through `ctx`, whose signals are computed inside the graph
from one shared double-precision sample counter: a trigger from `ctx.clock.trigger(4)`
fires on the exact first sample of every sixteenth note, and `ctx.harmony.chord_tone(0)`
changes on the exact first sample of each bar. So notes land on the sample in offline and
live modes alike, with no Python callback in between.

Rules for patch authors: only deterministic sources (pyo's random objects follow the
server's global seed, which the engine sets); output stays within about ±1 with no DC;
everything is silent when `ctx.clock.running` is 0; controls arrive already smoothed and in
the declared range.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from adaptive.harmony import CHORD_TONES, Harmony

PyoObject = Any  # pyo ships no type information


@dataclass(frozen=True)
class ControlSpec:
    """A control a patch exposes: its default, its range and what it does."""

    default: float
    doc: str
    low: float = 0.0
    high: float = 1.0


FRAME_EPSILON = 1e-6
"""Samples added to a looping position before a table truncates it to a frame.

pyo's `Wrap` computes ``frac(x / length) * length``: after the first pass of a loop the
product lands a few 1e-9 samples below the integer about half the time, and truncating
it played frame k - 1 instead of k on those samples (a stem jittered by a sample after
each loop: measured, 1,710 breaks in 8,192 frames). The error is below 1e-7 samples for
any position within 2^53 / 2^30 samples (days at 48 kHz), so 1e-6 restores the integer
without moving a real fractional position by anything audible."""


class VoiceClock:
    """Musical time of one voice, as audio-rate signals derived from the shared counter."""

    def __init__(self, pyo: ModuleType, counter: PyoObject, origin: PyoObject,
                 samples_per_beat: float, beats_per_bar: int, bars: int, loop: bool) -> None:
        self._pyo = pyo
        self.samples_per_beat = samples_per_beat
        self.beats_per_bar = beats_per_bar
        self.bars = bars
        self.length = samples_per_beat * beats_per_bar * bars
        self._counter, self._origin, self._loop = counter, origin, loop
        self._next_frame: PyoObject = None
        raw = counter - origin
        inside = pyo.Compare(raw, 0.0, ">=")
        if loop:
            self.position: PyoObject = pyo.Wrap(raw, 0.0, self.length)
            self.running: PyoObject = inside
        else:
            self.position = raw
            self.running = inside * pyo.Compare(raw, self.length, "<")
        self.frame: PyoObject = self.position + FRAME_EPSILON
        """The position as a stem table reads it (`TableIndex` truncates): see
        `FRAME_EPSILON`."""
        self.beats: PyoObject = self.position * (1.0 / samples_per_beat)
        """Position in beats since the start of the section (fractional)."""
        self.bar_index: PyoObject = pyo.Floor(self.beats * (1.0 / beats_per_bar))
        """Bar number within the section, from 0."""
        self.beat_in_bar: PyoObject = pyo.Wrap(pyo.Floor(self.beats), 0.0, float(beats_per_bar))
        """Beat number within the bar, from 0."""
        self._triggers: dict[float, PyoObject] = {}

    def next_frame(self) -> PyoObject:
        """`frame` one counter sample on: what a stem reads next, for reading between the
        two while the counter is nudged (`engine.voice.stem_reader`). Built on first use."""
        if self._next_frame is None:
            raw = (self._counter + 1.0) - self._origin
            position = self._pyo.Wrap(raw, 0.0, self.length) if self._loop else raw
            self._next_frame = position + FRAME_EPSILON
        return self._next_frame

    def step_index(self, per_beat: float) -> PyoObject:
        """Index of the current subdivision (`per_beat` steps per beat) since the start."""
        return self._pyo.Floor(self.beats * per_beat)

    def trigger(self, per_beat: float) -> PyoObject:
        """A trigger on the first sample of every subdivision while the voice runs."""
        if per_beat not in self._triggers:
            change = self._pyo.Change(self.step_index(per_beat))
            self._triggers[per_beat] = change * self.running
        return self._triggers[per_beat]

    def beat_trigger(self) -> PyoObject:
        return self.trigger(1.0)

    def bar_trigger(self) -> PyoObject:
        return self.trigger(1.0 / self.beats_per_bar)


class HarmonySignals:
    """The section's chords and scale as signals that change on the downbeat's sample."""

    def __init__(self, pyo: ModuleType, harmony: Harmony, clock: VoiceClock) -> None:
        self._pyo = pyo
        self.harmony = harmony
        self._clock = clock
        self._tones: dict[int, PyoObject] = {}
        self._scale = pyo.DataTable(size=len(harmony.scale), init=[float(p) for p in
                                                                    harmony.scale])

    def chord_tone(self, tone: int) -> PyoObject:
        """MIDI pitch of chord tone `tone` (0 = root .. 3) of the current bar, from C3."""
        index = tone % CHORD_TONES
        if index not in self._tones:
            pitches = self.harmony.tone_per_bar(index, self._clock.bars)
            table = self._pyo.DataTable(size=len(pitches), init=pitches)
            self._tones[index] = self._pyo.TableIndex(table, self._clock.bar_index)
        return self._tones[index] + 12.0 * (tone // CHORD_TONES)

    def scale_pitch(self, degree: PyoObject | int) -> PyoObject:
        """MIDI pitch of a scale degree (0-based, may exceed 6 or be negative), from C3."""
        if isinstance(degree, int):
            octave, step = divmod(degree, len(self.harmony.scale))
            return float(self.harmony.scale[step] + 12 * octave)
        wrapped = self._pyo.Wrap(degree, 0.0, float(len(self.harmony.scale)))
        octave = self._pyo.Floor(degree * (1.0 / len(self.harmony.scale)))
        return self._pyo.TableIndex(self._scale, wrapped) + octave * 12.0


@dataclass
class PatchContext:
    """Everything a patch may use to build its graph."""

    pyo: ModuleType
    sample_rate: int
    clock: VoiceClock
    harmony: HarmonySignals
    controls: dict[str, PyoObject]
    args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    kept: list[PyoObject] = field(default_factory=list)

    def arg(self, name: str, default: Any) -> Any:
        return self.args.get(name, default)

    def keep(self, *objects: PyoObject) -> None:
        """Hold objects that are not upstream of the output (pyo frees unreferenced ones)."""
        self.kept.extend(objects)


class PatchModule(Protocol):
    CONTROLS: dict[str, ControlSpec]

    def build(self, ctx: PatchContext) -> PyoObject: ...


def builtin_patch_dir() -> Path:
    """Where the patches shipped with adaptive live (the repository's `patches/`)."""
    spec = importlib.util.find_spec("adaptive.patches")
    assert spec is not None and spec.origin is not None, "adaptive.patches is not installed"
    return Path(spec.origin).resolve().parent


def find_patch(name: str, score_dir: Path | None) -> Path | None:
    """A score's own `patches/NAME.py` wins over the built-in patch of the same name."""
    candidates = []
    if score_dir is not None:
        candidates.append(score_dir / "patches" / f"{name}.py")
    candidates.append(builtin_patch_dir() / f"{name}.py")
    return next((path for path in candidates if path.is_file()), None)


PatchKey = tuple[Path, int, int]
"""A patch file's identity as imported: (resolved path, mtime in ns, size in bytes)."""


class PatchRegistry:
    """Imported patch modules keyed by file version, so an edited patch is imported afresh.

    Why keyed by (path, mtime_ns, size) and not by path: a score reloaded under `--watch`
    must build with the patch as it is now on disk, not as it was when the process started.
    The source is compiled straight from the file (no `__pycache__`: Python's bytecode
    check has one-second resolution and would serve an edit made within the same second).
    A failed import leaves nothing behind: neither in the registry nor in `sys.modules`,
    so fixing the file is enough for the next load to succeed. Thread-safe: a hot reload
    checks the score in a worker thread while the event loop may load too.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._modules: dict[Path, tuple[PatchKey, PatchModule]] = {}

    @staticmethod
    def key(path: Path) -> PatchKey:
        resolved = path.resolve()
        stat = resolved.stat()
        return resolved, stat.st_mtime_ns, stat.st_size

    def load(self, path: Path) -> PatchModule:
        """The module of the file's current version, imported now if it changed."""
        key = self.key(path)  # before reading: an edit racing the read re-imports next time
        with self._lock:
            cached = self._modules.get(key[0])
            if cached is not None and cached[0] == key:
                return cached[1]
            if cached is not None:  # the old version stays usable by whoever holds it
                del self._modules[key[0]]
                sys.modules.pop(_module_name(cached[0]), None)
            module = _import_patch(key)
            self._modules[key[0]] = (key, module)
            return module

    def forget(self, path: Path) -> None:
        with self._lock:
            cached = self._modules.pop(path.resolve(), None)
            if cached is not None:
                sys.modules.pop(_module_name(cached[0]), None)


def _module_name(key: PatchKey) -> str:
    digest = hashlib.sha1(str(key[0]).encode()).hexdigest()[:12]
    return f"adaptive_patch_{digest}_{key[1]}_{key[2]}"


def _import_patch(key: PatchKey) -> PatchModule:
    path = key[0]
    name = _module_name(key)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError(f"cannot import patch {path}")
    module = importlib.util.module_from_spec(spec)
    code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    sys.modules[name] = module  # while it runs, as a normal import (dataclasses need it)
    try:
        exec(code, module.__dict__)
        for required in ("CONTROLS", "build"):
            if not hasattr(module, required):
                raise ImportError(f"patch {path} defines no {required}; fix: add a CONTROLS "
                                  "table and a build(ctx) function")
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module  # type: ignore[return-value,unused-ignore]


PATCHES = PatchRegistry()
"""The process's patch modules (one registry: a module is imported once per file version)."""


def load_patch(path: Path) -> PatchModule:
    """Import a patch file as a module (again whenever the file changes)."""
    return PATCHES.load(path)


def builtin_patch_names() -> list[str]:
    """Names of the patches shipped with adaptive (for messages that list them)."""
    return sorted(path.stem for path in builtin_patch_dir().glob("*.py")
                  if not path.stem.startswith("_"))
