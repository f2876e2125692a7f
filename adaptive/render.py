"""Offline rendering: a score and a timeline in, samples out, bit-identical every time.

The same conductor, driver policy and engine as live playback run here, with pyo in manual
mode: Python advances the graph block by block, the driver (`runtime.driver`) writes the
conductor's actions a little ahead of the audio (`LOOKAHEAD_BLOCKS`), and the graph places
them on their exact samples. Audio leaves
in fixed chunks recorded inside the graph, so an hour-long render needs little memory.
"""

from __future__ import annotations

import gc
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TextIO

import numpy as np
import numpy.typing as npt

from adaptive.actions import Action
from adaptive.commands import Command
from adaptive.conductor import Conductor
from adaptive.engine.engine import Engine, import_pyo
from adaptive.errors import AdaptiveError
from adaptive.runtime.driver import SEEK_FADE_SECONDS, Driver
from adaptive.score.load import LoadedScore
from adaptive.timeline import Timeline

BLOCK = 256
OFFLINE_BLOCK = 1024
"""The block `render_to_file` computes a score of stems alone in. Every event of such a
score lands on its sample inside the graph whatever the block (tested: the same samples
as at 256 frames, seeks included), and a pass through pyo and the driver per 1,024 frames
instead of per 256 rendered the two-hour score at 57.7x real time instead of 37.0x (at
4,096: 42.3x, out of cache). A patch starts its DSP on a block boundary, so a score with
patches renders at the live block (`BLOCK`), as it would sound live."""
LOOKAHEAD_BLOCKS = 2
HOUSEKEEPING_BLOCKS = 8
"""Blocks between stopping the DSP of voices that fell silent: a Python pass over every
voice slot per block cost a feature-length score (840 slots) 13 ms per second rendered."""
WARMUP_BLOCKS = 4  # pyo fades its output in over ~240 samples after start: skip them
CHUNK_BLOCKS = 188  # ~1 s at 48 kHz per captured chunk

Audio = npt.NDArray[np.float32]
ChunkSink = Callable[[Audio], None]


@dataclass(frozen=True)
class StreamStats:
    """What streaming stems cost a render (see `engine.stream`)."""

    streamed_stems: int
    head_bytes: int  # resident heads
    rings: int  # ring tables allocated: the most streamed layers playing at once, pooled
    ring_bytes: int
    underruns: int


@dataclass
class RenderResult:
    sample_rate: int
    frames: int
    actions: list[Action]
    rejected: list[tuple[int, Command, str]]
    seconds: float  # wall time of the render loop
    audio: Audio | None = None
    streams: StreamStats | None = None

    @property
    def speed(self) -> float:
        """Rendered seconds per wall second (× real time)."""
        return (self.frames / self.sample_rate) / max(self.seconds, 1e-9)


@contextmanager
def manual_server(pyo: ModuleType, sample_rate: int, seed: int, block: int = BLOCK
                  ) -> Iterator[Any]:
    """A booted pyo server advanced by hand; pyo allows only one per process at a time."""
    server = pyo.Server(sr=sample_rate, nchnls=2, buffersize=block, audio="manual", duplex=0)
    server.setVerbosity(1)
    server.boot()
    server.setGlobalSeed(seed)
    try:
        yield server
    finally:
        server.stop()
        server.shutdown()


class _Capture:
    """Records the output into a chunk-sized table inside the graph and hands chunks out."""

    def __init__(self, pyo: ModuleType, output: Any, sample_rate: int, block: int) -> None:
        self.block = block
        self.blocks = max(1, CHUNK_BLOCKS * BLOCK // block)
        self.frames = self.blocks * block
        self._table = pyo.NewTable(length=self.frames / sample_rate, chnls=2)
        assert self._table.getSize() == self.frames
        self._recorder = pyo.TableRec(output, self._table).stop()
        self._blocks = 0

    def arm(self) -> None:
        self._recorder.play()
        self._blocks = 0

    def after_block(self) -> Audio | None:
        self._blocks += 1
        if self._blocks < self.blocks:
            return None
        return self.take()

    def take(self) -> Audio:
        channels = [np.frombuffer(self._table.getBuffer(c), dtype=np.float64)
                    for c in range(2)]
        frames = self._blocks * self.block
        chunk = np.stack([c[:frames] for c in channels], axis=1).astype(np.float32)
        self.arm()
        return chunk


class Progress:
    """A progress bar on a terminal, a line every 10 % otherwise (logs, CI)."""

    def __init__(self, total_seconds: float, stream: TextIO = sys.stderr,
                 label: str = "rendering") -> None:
        self.total = total_seconds
        self.stream = stream
        self.label = label
        self.started = time.perf_counter()
        self._last_decile = -1
        self._tty = stream.isatty()

    def update(self, done_seconds: float) -> None:
        fraction = min(1.0, done_seconds / self.total) if self.total else 1.0
        elapsed = time.perf_counter() - self.started
        speed = done_seconds / elapsed if elapsed > 0 else 0.0
        if self._tty:
            bar = "#" * int(fraction * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:4.0%} "
                              f"{done_seconds:6.1f}/{self.total:.1f} s  {speed:5.1f}x real time")
            self.stream.flush()
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(f"{self.label}: {fraction:.0%} ({done_seconds:.1f}/"
                              f"{self.total:.1f} s, {speed:.1f}x real time)\n")

    def finish(self) -> None:
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()


Seek = tuple[int, int]
"""(performance sample, sample of the command history): from the first, play the second."""


class Schedule(Protocol):
    """Drives the driver instead of `Driver.pump` before each block (a show log's replay:
    `showlog.ReplaySchedule`)."""

    def pump(self, driver: Driver, block_start: int) -> None: ...


def render(loaded: LoadedScore, commands: list[tuple[int, Command]], frames: int, *,
           sink: ChunkSink | None = None, keep_audio: bool = True, seed: int = 1,
           progress: Progress | None = None, block: int = BLOCK,
           seeks: list[Seek] | None = None, seek_fade: float = SEEK_FADE_SECONDS,
           schedule: Schedule | None = None, horizon_blocks: int | None = None,
           varispeed: bool = False, meters: bool = False) -> RenderResult:
    """Render `frames` samples of the score driven by (sample, command) pairs.

    `seeks` jump within the commands' history as a film's transport would: at each
    performance sample, the music becomes what the history implies at the target sample,
    cross-fading over `seek_fade` seconds. `schedule` drives the driver before each block
    instead (a live show again); `horizon_blocks` releases as far ahead as a live server.
    `meters` builds the layers' level meters too, as a server with a control page does
    (its voices then sum their layers with a `Mix`: the same sound, see `engine.voice`).
    """
    rate = loaded.sample_rate
    pyo = import_pyo()
    chunks: list[Audio] = []
    actions: list[Action] = []
    pending_seeks = sorted(seeks or [])
    with manual_server(pyo, rate, seed, block) as server:
        engine = Engine(pyo, loaded, seed, varispeed=varispeed, meters=meters)
        capture = _Capture(pyo, engine.output, rate, block)
        server.start()
        warmup = -(-WARMUP_BLOCKS * BLOCK // block)
        for _ in range(warmup):
            server.process()
        conductor = Conductor(loaded.score, rate)
        for index, (at, command) in enumerate(commands):
            conductor.submit(command, at, why=f"cue {index}")
        horizon = horizon_blocks or max(LOOKAHEAD_BLOCKS, -(-2 * BLOCK // block))
        driver = Driver(conductor, engine, block, horizon, on_applied=actions.append)
        engine.start()
        capture.arm()
        started = time.perf_counter()
        done = 0

        def emit(chunk: Audio) -> None:
            nonlocal done
            chunk = chunk[: frames - done]
            done += len(chunk)
            if sink is not None:
                sink(chunk)
            if keep_audio:
                chunks.append(chunk)
            if progress is not None:
                progress.update(done / rate)

        block_start = 0  # in samples rendered; the music's own time is `now`
        while block_start < frames:
            # nudged (varispeed), the counter runs ahead of or behind the samples rendered:
            # the driver and the disk side go by the counter, as they do live
            now = engine.streamer.now() if varispeed else block_start
            while pending_seeks and pending_seeks[0][0] < now + 2 * block:
                at, target = pending_seeks.pop(0)
                driver.seek(loaded.score, commands, target, max(at, now), seek_fade)
            if schedule is not None:
                schedule.pump(driver, now)
            else:
                driver.pump(now)
            if block_start % (HOUSEKEEPING_BLOCKS * block) == 0:
                engine.housekeeping(now)  # idle DSP stops a little late: silent
            engine.streamer.fill(now)  # the disk side, in step: deterministic
            server.process()
            block_start += block
            chunk = capture.after_block()
            if chunk is not None:
                emit(chunk)
        if done < frames:
            emit(capture.take())
        seconds = time.perf_counter() - started
        rejected = driver.conductor.rejected
        streamer = engine.streamer
        streams = StreamStats(len(streamer.heads.paths()), streamer.heads.resident_bytes(),
                              streamer.pool.allocated, streamer.pool.bytes, streamer.underruns)
        del streamer
        # free every audio object while its server is alive: pyo crashes when objects of
        # a shut-down server are collected after a new server has booted
        del engine, capture, driver
        gc.collect()
    if progress is not None:
        progress.finish()
    audio = np.concatenate(chunks) if keep_audio and chunks else None
    return RenderResult(rate, frames, actions, rejected, seconds, audio, streams)


def offline_block(loaded: LoadedScore) -> int:
    """The block a score renders fastest in with the samples it has live (`OFFLINE_BLOCK`)."""
    score = loaded.score
    patches = any(layer.patch is not None for section in score.sections.values()
                  for layer in section.layers.values()) or \
        any(stinger.patch is not None for stinger in score.stingers.values())
    return BLOCK if patches else OFFLINE_BLOCK


def render_to_file(loaded: LoadedScore, commands: list[tuple[int, Command]], frames: int,
                   path: Path, *, subtype: str = "PCM_24", seed: int = 1,
                   progress: Progress | None = None, keep_audio: bool = False,
                   seeks: list[Seek] | None = None, seek_fade: float = SEEK_FADE_SECONDS,
                   schedule: Schedule | None = None, horizon_blocks: int | None = None,
                   block: int | None = None, varispeed: bool = False) -> RenderResult:
    """Render straight into an audio file (format from the suffix), chunk by chunk, in
    `block` frames at a time (default: `offline_block`)."""
    import soundfile

    if block is None:
        block = offline_block(loaded)

    with soundfile.SoundFile(str(path), "w", samplerate=loaded.sample_rate, channels=2,
                             subtype=subtype) as out:
        return render(loaded, commands, frames, sink=out.write, keep_audio=keep_audio,
                      seed=seed, progress=progress, seeks=seeks, seek_fade=seek_fade,
                      schedule=schedule, horizon_blocks=horizon_blocks, block=block,
                      varispeed=varispeed)


# ------------------------------------------------------------------ film time

class RangeError(AdaptiveError):
    """A `--from`/`--to`/`--duration` the sheet cannot honour; the message names the flag
    and the fix (the command line exits 2: a usage error, not a fault of the score)."""


@dataclass(frozen=True)
class FilmSpan:
    """The stretch of film a render covers, in film samples (0 = the sheet's start):
    the output's sample 0 is film sample `start`, and it ends before `end`."""

    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def seeks(self) -> list[Seek]:
        """From a later film time, the render begins as a player's seek would: the
        state the sheet implies there, entered with the chase's fade."""
        return [(0, self.start)] if self.start > 0 else []


def film_sample(timeline: Timeline, text: str, sample_rate: int, flag: str) -> int:
    """Film sample of a command line's film time: a timecode of the sheet (exact), or
    film seconds. Raises RangeError naming `flag` and the fix."""
    try:
        seconds = float(text)
    except ValueError:
        if timeline.clock is None:
            raise RangeError(f"{flag} {text!r}: a timecode needs the sheet's frame rate; fix: "
                             "add fps = \"24\" (or the film's rate) to the sheet, or give film "
                             "seconds") from None
        try:
            return timeline.clock.sample(text, sample_rate)
        except ValueError as error:
            raise RangeError(f"{flag} {text!r}: {error}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RangeError(f"{flag} {text!r}: film seconds must be >= 0 (0 is the sheet's start "
                         f"{timeline.timecode(0.0)}); fix: give a later time")
    return round(seconds * sample_rate)


def film_span(timeline: Timeline, sample_rate: int, start: str | None = None,
              end: str | None = None, duration: float | None = None) -> FilmSpan:
    """The film a render covers: `--from` (default the sheet's start) to `--to`, or
    `--duration` seconds on from `--from`, or the sheet's end."""
    first = 0 if start is None else film_sample(timeline, start, sample_rate, "--from")
    if end is not None and duration is not None:
        raise RangeError("--to and --duration both say where the render ends; fix: give one")
    if duration is not None and not duration > 0:
        raise RangeError(f"--duration {duration:g}: must be seconds > 0; fix: give e.g. "
                         "--duration 30")
    if end is not None:
        last = film_sample(timeline, end, sample_rate, "--to")
        if last <= first:
            raise RangeError(f"--to {end!r} ({timeline.timecode(last / sample_rate)}) is not "
                             f"after --from {start!r} ({timeline.timecode(first / sample_rate)});"
                             " fix: give a --to later than --from")
    elif duration is not None:
        last = first + round(duration * sample_rate)
    else:
        last = round(timeline.duration * sample_rate)
        if last <= first:
            raise RangeError(f"--from {start!r} is at or after the sheet's end "
                             f"({timeline.timecode(timeline.duration)}); fix: give an earlier "
                             "--from, or say how long to render with --to or --duration")
    return FilmSpan(first, last)
