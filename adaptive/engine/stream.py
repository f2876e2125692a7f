"""Stems streamed from disk: a small window of each playing stem in RAM, filled ahead.

Theory of operation
-------------------
A streamed layer of a voice slot reads a *ring*: a pyo table of `RING` frames indexed by
the shared sample counter modulo `RING` (one `Wrap` for the whole graph). The ring slot of
sample n holds the stem frame that sounds at n, so the graph never needs to know where in
the stem it is; the disk side writes, ahead of the counter, what each sample must play.
What plays at n follows from the slot's *runs* (start sample, origin): the voice's position
n - origin, wrapped at the section's length when it loops, computed with the very float
operations of the graph's `VoiceClock` and `TableIndex` (`stem_frames`), so a streamed
stem is sample-identical to the same stem read from a RAM table.

Writes stay inside [now, now + RING): a ring slot is rewritten only once its sample has
sounded. The first `HEAD` frames of every streamed stem stay resident, so a section's
start, a loop's return to its start, or any entry at position 0 is a memory copy, never a
disk read; past the head the disk is read at least a ring ahead of need.

Each voice slot also has a stamp ring: the sample each ring slot was written for. The
graph compares it with the counter, so a slot not written in time (an underrun: the disk
fell behind) or invalidated by a new run (a seek) mutes the voice's streamed layers with a
3 ms fade instead of playing stale audio, and they come back at their right position when
the disk catches up. Stamps are written for every sample a started voice may sound,
silence included, so the mute never touches a voice that is on time.

Offline, `Streamer.fill` runs before each block (deterministic); live, a disk thread runs
it every few milliseconds, never the audio callback. Rings come from a pool: memory grows
with the voices playing at once, not with the score's length.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from adaptive.engine.patch_api import FRAME_EPSILON

log = logging.getLogger("adaptive.stream")

PyoObject = Any
Frames = npt.NDArray[np.int64]
Audio = npt.NDArray[np.float64]

RING = 1 << 16
"""Frames of each ring (1.37 s at 48 kHz): a power of two, so the graph's counter modulo
RING is exact in double precision for any counter value."""

HEAD = RING
"""Frames of each streamed stem kept in RAM: an entry at position 0 needs no disk read,
and the disk thread has a whole ring of time before it must read past the head."""

CHUNK = 32768
"""Frames written per layer at a time once a voice runs (683 ms): fewer, larger reads
(measured offline: 128 streamed stems took a quarter less CPU at 16,384 than at 8,192),
and still half a ring (683 ms) ahead of the counter when written."""

CATCH_UP = 32768
"""Samples ahead of the counter where a late stream resumes (live, the audio thread may be
a block or two ahead of the counter read): 683 ms after the disk came back."""

FIRST = 4096
"""Frames filled at once when a voice is started (before its start sample sounds)."""

VALID_FADE = 0.003
"""Seconds of the mute (and return) of a voice whose stream was late."""


def stem_frames(samples: npt.NDArray[np.float64], origin: float, length: float, loop: bool,
                frames: int) -> Frames:
    """The stem frame each counter sample plays, as the graph computes it.

    `VoiceClock.position` is pyo's ``Wrap(counter - origin, 0, length)`` when the section
    loops (``tmp = x / length``; ``tmp -= (int)tmp`` above 1; ``tmp += (int)(-tmp) + 1``
    below 0; ``tmp * length``), plus `FRAME_EPSILON`, and `TableIndex` truncates the
    position and clamps it to the table. The same double operations here give the same
    frame for every sample.
    """
    positions = stem_positions(samples, origin, length, loop)
    return np.clip(positions, 0, frames - 1).astype(np.int64)


def stem_positions(samples: npt.NDArray[np.float64], origin: float, length: float,
                   loop: bool) -> npt.NDArray[np.float64]:
    """`stem_frames` before the clamp to a stem's length (shared by a voice's layers)."""
    raw = samples - origin
    if loop:
        tmp = raw / length
        above = tmp >= 1.0
        below = tmp < 0.0
        wrapped = np.where(above, (tmp - np.trunc(tmp)) * length, raw)
        wrapped = np.where(below, (tmp + (np.trunc(-tmp) + 1.0)) * length, wrapped)
        wrapped = np.where(below & (wrapped == length), 0.0, wrapped)
        raw = wrapped
    result: npt.NDArray[np.float64] = np.trunc(raw + FRAME_EPSILON)
    return result


EXACT_IN_FLOAT32 = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "FLOAT", "ALAC_16",
                              "ALAC_20", "ALAC_24", "VORBIS", "OPUS", "MPEG_LAYER_III",
                              "DPCM_8", "DPCM_16", "ULAW", "ALAW"})
"""libsndfile subtypes whose every sample a float32 holds exactly: 24 bits of mantissa
(or float data already). Such stems are decoded to float32, which for FLOAT files costs
a quarter of decoding to float64 (measured: 1.7 against 5.9 ns a sample; PCM_24 costs 8
either way); the ring's float64 takes them as they are, so a streamed stem stays the RAM
one, sample for sample."""


@dataclass
class StemHead:
    """A streamed stem's resident head and what is known of the file."""

    path: Path
    frames: int
    channels: int
    head: Audio  # (min(HEAD, frames), channels)
    dtype: str = "float64"  # what the disk side decodes to (see `EXACT_IN_FLOAT32`)


class StemHeads:
    """Heads loaded once per file, shared by every voice that streams it."""

    def __init__(self) -> None:
        self._heads: dict[Path, StemHead] = {}

    def get(self, path: Path) -> StemHead:
        if path not in self._heads:
            import soundfile

            with soundfile.SoundFile(str(path)) as file:
                head = file.read(min(HEAD, file.frames), dtype="float64", always_2d=True)
                dtype = "float32" if file.subtype in EXACT_IN_FLOAT32 else "float64"
                self._heads[path] = StemHead(path, int(file.frames), int(file.channels), head,
                                             dtype)
        return self._heads[path]

    def paths(self) -> list[Path]:
        return list(self._heads)

    def resident_bytes(self) -> int:
        return sum(h.head.nbytes for h in self._heads.values())


Runs = tuple[Frames, Frames]


def runs_of(index: Frames) -> Runs:
    """Where `index` runs on by one frame at a time: (starts, ends) of each run."""
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    return np.concatenate(([0], breaks)), np.concatenate((breaks, [len(index)]))


class _Reader:
    """One layer's source: the head in RAM, the rest from its own open file."""

    def __init__(self, stem: StemHead) -> None:
        self.stem = stem
        self._file: Any = None

    def read(self, index: Frames, runs: Runs | None = None) -> npt.NDArray[np.floating[Any]]:
        """The frames at `index` (increasing runs, loop wraps and clamps included);
        `runs`: its runs of consecutive frames (`runs_of`), when known already."""
        out = np.empty((len(index), self.stem.channels), dtype=self.stem.dtype)
        if len(index) == 0:
            return out
        starts, ends = runs_of(index) if runs is None else runs
        head = self.stem.head
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            first, count = int(index[start]), end - start
            split = min(max(len(head) - first, 0), count)
            if split:
                out[start:start + split] = head[first:first + split]
            if split < count:
                self._from_disk(first + split, out[start + split:end])
        return out

    def _from_disk(self, first: int, out: npt.NDArray[np.floating[Any]]) -> None:
        """Frames from `first` decoded straight into `out` (rows of a C-ordered array)."""
        import soundfile

        if self._file is None:
            self._file = soundfile.SoundFile(str(self.stem.path))
        self._file.seek(first)
        read = len(self._file.read(len(out), dtype=self.stem.dtype, always_2d=True, out=out))
        if read < len(out):  # past the file's end: its last frame, as a table clamps
            out[read:] = out[read - 1] if read else 0.0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class Ring:
    """A pyo table of RING frames.

    Its channels are written through numpy views made for each write and dropped at
    once: a view that outlives its table (a garbage collection may free the table first)
    releases its buffer into freed memory, which crashed the next render (measured)."""

    table: PyoObject
    channels: int

    def views(self) -> list[Audio]:
        return [np.frombuffer(self.table.getBuffer(c), dtype=np.float64)
                for c in range(self.channels)]


class RingPool:
    """Rings by channel count, reused as voices stop; a silent table per channel count
    for readers that hold no ring."""

    def __init__(self, pyo: ModuleType) -> None:
        self._pyo = pyo
        self._free: dict[int, list[Ring]] = {}
        self.silent: dict[int, PyoObject] = {}
        self.allocated = 0
        self.bytes = 0

    def silent_table(self, channels: int) -> PyoObject:
        if channels not in self.silent:
            self.silent[channels] = self._pyo.DataTable(size=RING, chnls=channels)
        return self.silent[channels]

    def acquire(self, channels: int) -> Ring:
        free = self._free.setdefault(channels, [])
        return free.pop() if free else self._new(channels)

    def _new(self, channels: int) -> Ring:
        table = self._pyo.DataTable(size=RING, chnls=channels)
        self.allocated += 1
        self.bytes += RING * 8 * channels
        return Ring(table, channels)

    def prepare(self, channels: int, count: int) -> None:
        """Allocate rings before the music needs them: a new table costs about 0.7 ms
        (measured while a graph runs), too much to pay for each layer of a seek."""
        free = self._free.setdefault(channels, [])
        while len(free) < count:
            free.append(self._new(channels))

    def release(self, ring: Ring) -> None:
        self._free.setdefault(ring.channels, []).append(ring)

    def free(self, channels: int) -> list[Ring]:
        return list(self._free.get(channels, []))



@dataclass
class _Run:
    start: int
    origin: float


@dataclass
class StreamedLayer:
    readers: list[PyoObject]  # the layer's TableIndex (two with a varispeed counter)
    stem: StemHead
    source: _Reader = field(init=False)
    ring: Ring | None = None

    def __post_init__(self) -> None:
        self.source = _Reader(self.stem)


class StreamedVoice:
    """The streamed layers of one voice slot, their stamps, and the slot's runs."""

    def __init__(self, streamer: Streamer, name: str, length: float, loop: bool) -> None:
        self.streamer = streamer
        self.name = name
        self.length = length
        self.loop = loop
        self.layers: list[StreamedLayer] = []
        self.runs: list[_Run] = []
        self.filled_to = 0
        self.stamps: Ring | None = None
        self.stamp_reader: PyoObject = None
        self.lock = threading.Lock()

    def add(self, readers: list[PyoObject], stem: StemHead) -> None:
        self.layers.append(StreamedLayer(readers, stem))

    # ------------------------------------------------------------ controller side

    def start(self, at: int, origin: float) -> None:
        """A run from sample `at` (its position from `origin`), filled at once for
        [now, at + FIRST): the voice sounds on time even if the disk thread is busy."""
        streamer = self.streamer
        with self.lock:
            if self.stamps is None:
                self._take_rings()
            self.runs = [run for run in self.runs if run.start < at]
            self.runs.append(_Run(at, origin))
            now = streamer.now()
            if self.filled_to > at:  # what was written past `at` belongs to the old run
                self._invalidate(max(at, now), self.filled_to)
                self.filled_to = max(at, now)
            if self.filled_to < now:
                self.filled_to = now
            self._fill(now, at + FIRST)
        streamer.wake()

    def release(self) -> None:
        """The voice fell silent (housekeeping): its rings go back to the pool."""
        with self.lock:
            pool = self.streamer.pool
            for layer in self.layers:
                if layer.ring is not None:
                    for reader in layer.readers:
                        reader.setTable(pool.silent_table(layer.stem.channels))
                    pool.release(layer.ring)
                    layer.ring = None
                layer.source.close()
            self.streamer.active.pop(self, None)
            if self.stamps is not None:
                self.stamp_reader.setTable(pool.silent_table(1))
                pool.release(self.stamps)
                self.stamps = None
            self.runs = self.runs[-1:]  # a later restart needs only the latest run
            self.filled_to = 0

    def _take_rings(self) -> None:
        pool = self.streamer.pool
        for layer in self.layers:
            layer.ring = pool.acquire(layer.stem.channels)
            for reader in layer.readers:
                reader.setTable(layer.ring.table)
        self.streamer.active[self] = None
        self.stamps = pool.acquire(1)
        _write(self.stamps, 0, np.full((RING, 1), -1.0))
        self.stamp_reader.setTable(self.stamps.table)

    # ------------------------------------------------------------ disk side

    def fill(self, now: int) -> None:
        """Keep [now, now + RING) written, a chunk at a time; an underrun is counted."""
        with self.lock:
            if self.stamps is None or not self.runs:
                return
            if self.filled_to < now:
                self.streamer.underrun(self.name, now - self.filled_to)
                self.filled_to = now + self.streamer.catch_up
            if now + RING - self.filled_to >= CHUNK:
                self._fill(now, self.filled_to + CHUNK)

    def _fill(self, now: int, until: int) -> None:
        start = self.filled_to
        end = min(until, now + RING)
        if end <= start:
            return
        assert self.stamps is not None
        while len(self.runs) > 1 and self.runs[1].start <= start:
            self.runs.pop(0)  # wholly in the past
        # segments of [start, end) each under one run (or none, before the first)
        bounds = [start, *(r.start for r in self.runs if start < r.start < end), end]
        for low, high in itertools.pairwise(bounds):
            run = next((r for r in reversed(self.runs) if r.start <= low), None)
            samples = np.arange(low, high, dtype=np.float64)
            positions = None if run is None else \
                stem_positions(samples, run.origin, self.length, self.loop)
            # a cue's stems are mostly of one length: their frames and runs, once
            indexes: dict[int, tuple[Frames, Runs]] = {}
            for layer in self.layers:
                assert layer.ring is not None
                data: npt.NDArray[np.floating[Any]]
                if positions is None:
                    data = np.zeros((high - low, layer.stem.channels))
                else:
                    frames = layer.stem.frames
                    if frames not in indexes:
                        index = np.clip(positions, 0, frames - 1).astype(np.int64)
                        indexes[frames] = (index, runs_of(index))
                    data = layer.source.read(*indexes[frames])
                _write(layer.ring, low, data)
            _write(self.stamps, low, samples[:, None])
        self.filled_to = end

    def _invalidate(self, start: int, end: int) -> None:
        assert self.stamps is not None
        _write(self.stamps, start, np.full((end - start, 1), -1.0))


def _write(ring: Ring, start: int, data: npt.NDArray[np.floating[Any]]) -> None:
    """Write rows of `data` into the ring slots of samples start, start + 1, ..."""
    offset = start % RING
    count = len(data)
    first = min(count, RING - offset)
    for channel, view in enumerate(ring.views()):
        view[offset:offset + first] = data[:first, channel]
        if first < count:
            view[:count - first] = data[first:, channel]


class Streamer:
    """The streamed voices of one engine, their ring pool and the disk side that fills
    them (`fill`, offline; `run_in_background`, live)."""

    def __init__(self, pyo: ModuleType, counter: Any, sample_rate: int) -> None:
        self._pyo = pyo
        self._counter = counter
        self.sample_rate = sample_rate
        self.index: PyoObject = pyo.Wrap(counter.signal, 0.0, float(RING))
        self._next_index: PyoObject = None
        self.pool = RingPool(pyo)
        self.heads = StemHeads()
        self.voices: list[StreamedVoice] = []
        self.active: dict[StreamedVoice, None] = {}
        """Voices holding rings (insertion-ordered): the only ones the disk side visits."""
        self.underruns = 0
        self.catch_up = CATCH_UP
        """Samples ahead of the counter where a late stream resumes (live: the audio thread
        may be a block or two ahead of the counter read)."""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_log = 0.0
        self.pending_log = 0

    def now(self) -> int:
        """The first sample the graph has not processed yet (the counter holds the last
        processed one; 0 before the first block, as blocks are longer than a sample)."""
        last = int(self._counter.now())
        return last + 1 if last > 0 else 0

    def prepare(self, voices: int = 2) -> None:
        """Rings for `voices` voices of the section with the most streamed layers (a
        cross-fade or a seek holds two), allocated now rather than on the first start."""
        if not self.voices:
            return
        widest = max(self.voices, key=lambda voice: len(voice.layers))
        for channels in {layer.stem.channels for layer in widest.layers}:
            count = sum(1 for layer in widest.layers if layer.stem.channels == channels)
            self.pool.prepare(channels, voices * count)
        self.pool.prepare(1, voices + sum(1 for layer in widest.layers
                                          if layer.stem.channels == 1) * voices)
        for ring in self.pool.free(1):
            _write(ring, 0, np.full((RING, 1), -1.0))

    def voice(self, name: str, length: float, loop: bool) -> StreamedVoice:
        voice = StreamedVoice(self, name, length, loop)
        self.voices.append(voice)
        return voice

    def next_index(self) -> PyoObject:
        """The ring slot of the next counter sample (read while the counter is nudged)."""
        if self._next_index is None:
            self._next_index = self._pyo.Wrap(self._counter.signal + 1.0, 0.0, float(RING))
        return self._next_index

    def validity(self, voice: StreamedVoice) -> PyoObject:
        """1 while the voice's stamps are those of the counter, faded to 0 when not."""
        pyo = self._pyo
        voice.stamp_reader = pyo.TableIndex(self.pool.silent_table(1), self.index)
        same = pyo.Compare(voice.stamp_reader, self._counter.signal, "==")
        return pyo.Port(same, risetime=VALID_FADE, falltime=VALID_FADE, init=1.0)

    def fill(self, now: int | None = None) -> None:
        """One pass of the disk side over every voice holding rings."""
        at = self.now() if now is None else now
        for voice in list(self.active):
            voice.fill(at)

    def underrun(self, name: str, samples: int) -> None:
        self.underruns += 1
        self.pending_log += 1
        wall = time.monotonic()
        if wall - self._last_log >= 1.0:
            log.warning("stream: %s was %.1f ms late from disk (%d underruns so far); its "
                        "stems fade out and back in at their position", name,
                        1000 * samples / self.sample_rate, self.underruns)
            self._last_log = wall
            self.pending_log = 0

    def status(self) -> dict[str, int | float]:
        """For `/status`: what streaming costs and whether the disk keeps up."""
        playing = sum(len(voice.layers) for voice in list(self.active))
        return {"stems": len(self.heads.paths()), "playing": playing,
                "underruns": self.underruns,
                "resident_mb": round((self.heads.resident_bytes() + self.pool.bytes) / 1e6, 1)}

    def wake(self) -> None:
        self._wake.set()

    def run_in_background(self, interval: float = 0.01) -> None:
        """The live disk thread: a pass every `interval` seconds, or when woken."""
        if self._thread is not None or not self.voices:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.fill()
                except Exception:  # a bad file must not end the thread: count, go on
                    log.exception("stream: the disk thread's pass failed")
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="adaptive-disk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
