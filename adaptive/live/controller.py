"""The live controller: where commands from every input meet the conductor and the graph.

Theory of operation
-------------------
The audio thread advances the graph block by block on its own; Python never waits for it.
Any thread may `submit` a command: it is checked against the score at once (unknown names
and out-of-range values are counted and logged, never queued), then handed to the
conductor under one lock with the sample at which it should apply (as soon as possible, or
a future sample for a timetagged OSC bundle). The conductor's actions within the horizon
are applied to the graph immediately: a parameter change reaches the next audio block, and
a transition's start sample is set well before that sample is computed, so it lands exactly.
A ticker calls `tick` every block period to release actions as their time nears and to
announce beats, bars and sections to subscribers ahead of time.

Time comes from an injected `Clock` (the graph's counter live, a `ManualClock` in tests), and
everything that goes out (events, the music's log lines) is only published to the output bus
(`bus.OutputBus`): a put into a bounded queue, so no subscriber can hold the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adaptive.actions import (
    Action,
    EndRest,
    StartRest,
    StartStinger,
    StartVoice,
)
from adaptive.commands import (
    Command,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    SetParam,
    SetParams,
    SetState,
    Transport,
)
from adaptive.conductor import Conductor
from adaptive.engine.engine import Engine
from adaptive.live.bus import OutputBus
from adaptive.live.clock import AudioClock, Clock
from adaptive.live.film import FilmFollower
from adaptive.live.inputs import Timed, coalesce
from adaptive.live.status import music_status
from adaptive.musical_time import Grid, first_sample
from adaptive.names import ScoreNames, parameter_values
from adaptive.perform import GO_LOCKOUT_SECONDS
from adaptive.runtime.driver import SEEK_FADE_SECONDS, Driver
from adaptive.score.model import Score

if TYPE_CHECKING:
    from adaptive.live.show_writer import ShowWriter

log = logging.getLogger("adaptive.live")
music_log = logging.getLogger("adaptive.music")

__all__ = ["AudioClock", "Controller", "Event", "InputStats"]

_IMMEDIATE = (SetParam, SetParams, SetState, LayerMute, LayerSolo, LayerGain, LayerAuto)

HORIZON_BLOCKS = 8
"""How far ahead (in blocks) actions are released to the graph: the ticker must run at
least once within this span (about 43 ms at 256 frames and 48 kHz)."""

SAFETY_BLOCKS = 2
"""A planned event is never placed closer than this to the sample being computed."""


RECENT_ERRORS = 8
"""Warnings kept for the control surface's "last errors" (the counters keep them all)."""


class InputStats:
    """Counters per kind of bad (or notable) input, with rate-limited log lines."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.counts: Counter[str] = Counter()
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, str, str]] = deque(maxlen=RECENT_ERRORS)

    def count(self, kind: str, message: str, level: int = logging.WARNING) -> None:
        with self._lock:
            self.counts[kind] += 1
            if level >= logging.WARNING:
                self._recent.append((self._clock(), kind, message))
            now = self._clock()
            if now - self._last.get(kind, -1e9) < self._interval:
                self._suppressed[kind] += 1
                return
            self._last[kind] = now
            suppressed, self._suppressed[kind] = self._suppressed[kind], 0
        extra = f" ({suppressed} more like this since the last line)" if suppressed else ""
        self._logger.log(level, "%s: %s%s", kind, message, extra)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def recent(self) -> list[tuple[float, str, str]]:
        """The last warnings, oldest first: (monotonic time, kind, message)."""
        with self._lock:
            return list(self._recent)


@dataclass(frozen=True)
class Event:
    """Something subscribers hear about, with the sample at which it sounds."""

    kind: str  # beat | section | rest | resume | stinger
    args: tuple[Any, ...]
    sample: int
    text: str = ""  # the music's log line (what happened, where, and why); "" for beats


@dataclass
class _Playing:
    section: str | None = None
    grid: Grid | None = None  # of the section last started (for "at bar N" in the log)
    resting: bool = False
    events_until: int = 0
    recent: list[Event] = field(default_factory=list)


class Controller:
    def __init__(self, score: Score, engine: Engine, sample_rate: int, block: int,
                 stats: InputStats | None = None, clock: Clock | None = None,
                 bus: OutputBus[Event] | None = None,
                 go_lockout: float = GO_LOCKOUT_SECONDS) -> None:
        self.score = score
        self.engine = engine
        self.sample_rate = sample_rate
        self.block = block
        self.stats = stats or InputStats(log)
        self.driver = Driver(Conductor(score, sample_rate, keep_released=False,
                                       go_lockout=go_lockout), engine, block,
                             HORIZON_BLOCKS, on_applied=self._note)
        self.bus: OutputBus[Event] = bus or OutputBus(self.stats.count)
        self._lock = threading.Lock()
        self._playing = _Playing()
        self._names = ScoreNames(score)
        self.retired: list[tuple[int, Engine]] = []
        """Graphs replaced by a reload, with the sample after which they are silent."""
        self.clock: Clock = clock or AudioClock(sample_rate, engine.counter, block=block)
        self._ticks = 0
        self.wake_ticker: Callable[[], None] = lambda: None
        self.reloads = 0
        self.reload_error: str | None = None
        self.film: FilmFollower | None = None
        """The cue sheet and the chase of a film's player (`serve --timeline`)."""
        self.wall: Callable[[], float] = time.time
        """The wall clock the arrival of a player's report is read from."""
        self.seek_margin = 0
        self._placed = 0  # the sample of the last film relocation or halt
        """Samples a seek's replay may take (measured by a dry run when a sheet attaches):
        a relocation is placed this much further ahead, so it is written before it sounds."""
        self.show_log: ShowWriter | None = None
        """Where every command acted on is logged (`serve --show-log`), or None: each call
        is a non-blocking put, made under the lock so the log keeps the music's order."""
        self.observers: list[Callable[[str, Command, int | None, int], None]] = []
        """Told of every command acted on: source, command, its timetag's sample (or None),
        and the first sample of the next block (the metrics count and time them)."""

    @property
    def conductor(self) -> Conductor:
        """The conductor driving the music now (a seek or a reload replaces it)."""
        return self.driver.conductor

    # --------------------------------------------------------------- clock

    def now(self) -> int:
        """The first sample of the block the graph will compute next."""
        return self.clock.now()

    def on_block(self) -> None:
        """Called by the audio thread at the start of a block: stamp the clock."""
        self.clock.stamp()

    def sample_at(self, wall_time: float) -> int:
        """The sample that sounds at a wall-clock time (for timetags)."""
        return self.clock.sample_at(wall_time)

    def wall_at(self, sample: int) -> float:
        return self.clock.wall_at(sample)

    def replace(self, score: Score, engine: Engine, fade: float = 0.05) -> int:
        """Swap in a reloaded score at the next bar of the playing one; returns that sample.

        The new graph shares the counter, so the new conductor continues the music's time:
        the same section (if the new score has it) at the same bar position, the same
        parameters. The old graph fades out over `fade` seconds from the bar.
        """
        with self._lock:
            now = self.now()
            earliest = now + SAFETY_BLOCKS * self.block
            bed = self.conductor.bed
            at = earliest
            if bed is not None:
                at = first_sample(bed.grid.next_instant(float(max(earliest, bed.start)), "bar"))
            old_engine, carry = self.engine, self.conductor.carry()
            old_engine.master.rest.rest(at, max(1, round(fade * self.sample_rate)))
            self.score, self.engine = score, engine
            previous = self.conductor
            conductor = Conductor(score, self.sample_rate, start=at, carry=carry,
                                  keep_released=False)
            conductor.arming = previous.arming  # the performer's: GO lockout, what is armed
            if previous.panicked:
                conductor.keep_panic(at)
            self.driver = Driver(conductor, engine, self.block,
                                 HORIZON_BLOCKS, on_applied=self._note)
            self._names = ScoreNames(score)
            if self.show_log is not None:
                self.show_log.reload(at)
            self._pump(now)
        self.retired.append((at + round(fade * self.sample_rate) + self.block, old_engine))
        return at

    # --------------------------------------------------------------- input

    def check(self, command: Command, source: str = "") -> bool:
        """Check a command against the score: unknown names are refused, out-of-range
        values counted (they are clamped). Every message is checked and counted, even one
        whose value a later message in the same read replaces (see `inputs.coalesce`)."""
        problem = self._unknown_name(command)
        if problem is not None:
            self.stats.count("unknown_name", f"{source}{problem}")
            return False
        self._count_clamped(command, source)
        return True

    def admit(self, command: Command, source: str = "") -> Command | None:
        """`check` for an input: a `/params` with some unknown names keeps the known ones
        (each unknown one is counted as `unknown_name`); None if nothing is left."""
        if isinstance(command, SetParams):
            unknown = [name for name in command.values if name not in self.score.parameters]
            if unknown and len(unknown) < len(command.values):
                for name in unknown:
                    self.stats.count("unknown_name", f"{source}unknown parameter {name!r} "
                                     "(the others in the message were applied)")
                command = SetParams.model_construct(values={
                    k: v for k, v in command.values.items() if k not in unknown})
        return command if self.check(command, source) else None

    def submit(self, command: Command, at: int | None = None, source: str = "",
               checked: bool = False) -> bool:
        """Check a command (unless `check` already did) and apply it at a sample, or at
        once."""
        if not checked and not self.check(command, source):
            return False
        with self._lock:
            now = self.now()
            self._queue(command, at, source, now)
            self._pump(now)
            if self.driver.holding:
                self.wake_ticker()
        return True

    def _queue(self, command: Command, at: int | None, source: str, now: int) -> None:
        for observe in self.observers:  # under the lock: each one is a few counters
            try:
                observe(source, command, at, now)
            except Exception:  # an observer's fault never costs a command
                log.exception("observing %s failed", command.cmd)
        if isinstance(command, Transport):
            if self.show_log is not None:
                self.show_log.command(source, command, now if at is None else at, now,
                                      self.driver.released_until)
            self._transport(command, at)
            return
        # control values take effect on the next block; anything placed on the sample
        # keeps a safety margin so its start sample is set before it is computed
        soonest = now if isinstance(command, _IMMEDIATE) else now + SAFETY_BLOCKS * self.block
        # the conductor takes it no earlier than its own present: the sample the log keeps
        sample = max(soonest if at is None else max(at, soonest), self.conductor.now)
        if self.show_log is not None:
            self.show_log.command(source, command, sample, now, self.driver.released_until)
        self.conductor.submit(command, sample, why=source.strip())

    def submit_batch(self, commands: list[Timed], source: str, counter: str) -> None:
        """Apply commands read together from one input, each already `check`ed: parameter
        floods are coalesced (see `inputs.coalesce`, counted as `counter`), all are queued
        and the conductor runs once for them; one command's failure drops no other."""
        if not commands:
            return
        merged = coalesce(commands)
        if len(merged) < len(commands):
            self.stats.count(counter, f"{len(commands) - len(merged) + 1} parameter changes "
                             "read together applied as one", logging.DEBUG)
        with self._lock:
            now = self.now()
            for command, at in merged:
                try:
                    self._queue(command, at, source, now)
                except Exception as error:  # whatever arrives, the music goes on
                    log.exception("%scommand %s failed", source, command.cmd)
                    self.stats.count("internal_error", f"{source}{command.cmd}: {error!r}")
            try:
                self._pump(now)
            except Exception as error:
                log.exception("%scommands failed", source)
                self.stats.count("internal_error", f"{source}: {error!r}")
            if self.driver.holding:
                self.wake_ticker()

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % 32 == 1:
            self.clock.update()
        with self._lock:
            now = self.now()
            self._pump(now)
            # stopping the DSP of voices that fell silent can wait for a tick
            self.engine.housekeeping(now)
            if self.film is not None:
                self.film.tick(self, now, now + HORIZON_BLOCKS * self.block)
            self._announce(now + HORIZON_BLOCKS * self.block)
            self._retire(now)

    # ---------------------------------------------------------------- film

    def _transport(self, command: Transport, at: int | None) -> None:
        """A player's report: its arrival (or its timetag) is when the film was there."""
        if self.film is None:
            self.stats.count("no_sheet", "a transport report, but no cue sheet to follow; "
                             "fix: serve with --timeline SHEET", logging.INFO)
            return
        arrival = at if at is not None else self.clock.sample_at(self.wall())
        self.film.report(self, command, arrival)

    def safety_samples(self) -> int:
        return SAFETY_BLOCKS * self.block + self.seek_margin

    def next_bar(self, at: int) -> int:
        """The first downbeat of the bed at or after `at` (or `at` with no bed)."""
        bed = self.conductor.bed
        if bed is None:
            return at
        return first_sample(bed.grid.next_instant(float(max(at, bed.start)), "bar"))

    def attach_film(self, follower: FilmFollower, run_from: float | None) -> None:
        """Follow a film with a cue sheet; `run_from`: run it freely from that film time
        (no player yet) rather than wait for a player's report."""
        with self._lock:
            self.film = follower
            follower.warm_up(self)  # cold: imports and first-time costs
            started = time.perf_counter()
            follower.warm_up(self)
            self.seek_margin = round((time.perf_counter() - started) * 2 * self.sample_rate)
            log.info("film: a relocation replays the sheet in %.1f ms; placed %.1f ms ahead",
                     (time.perf_counter() - started) * 1000,
                     1000 * self.safety_samples() / self.sample_rate)
            if run_from is not None:
                follower.run_free(self, run_from)
            else:
                self.halt_music(0.005, "waiting for the film's player")

    def seek_music(self, history: list[tuple[int, Command]], target: int, at: int,
                   fade: float, why: str = "history") -> None:
        """`seek` for the film, under the lock already held. Never before the last
        placement: what that wrote into the graph is ahead of it, and only a later write
        at the same or a later sample overrides it."""
        if at < self._placed:
            target += self._placed - at
            at = self._placed
        self._placed = at
        if self.show_log is not None:
            self.show_log.seek(history, target, at, fade, why, self.now(),
                               self.driver.released_until)
        self.driver.seek(self.score, history, target, at, fade, why=why)
        self._pump(self.now())

    def nudge_music(self, samples: int, length: int, why: str) -> int:
        """Varispeed for the film, under the lock already held: the music moves by
        `samples` over `length` from the earliest sample this side of the safety margin;
        returns that sample."""
        at = self.now() + self.safety_samples()
        if self.show_log is not None:
            self.show_log.nudge(at, samples, length, why, self.now(),
                                self.driver.released_until)
        self.driver.nudge(at, samples, length, why)
        return at

    def halt_music(self, fade: float, why: str) -> int:
        """Fade everything to silence and hold, under the lock already held."""
        at = max(self.now() + self.safety_samples(), self._placed)
        self._placed = at
        if self.show_log is not None:
            self.show_log.halt(at, fade, why, self.now(), self.driver.released_until)
        self.driver.halt(self.score, at, fade, why)
        self._pump(self.now())
        return at

    def emit_event(self, kind: str, args: tuple[Any, ...], sample: int, text: str) -> None:
        self._emit(Event(kind, args, sample, text))

    def seek(self, history: list[tuple[int, Command]], target: int) -> int:
        """Play what `history` implies at its sample `target`, from the earliest sample
        this side of the safety margin; returns that sample (see `Driver.seek`)."""
        with self._lock:
            at = self.now() + SAFETY_BLOCKS * self.block
            if self.show_log is not None:
                self.show_log.seek(history, target, at, SEEK_FADE_SECONDS, "history",
                                   self.now(), self.driver.released_until)
            self.driver.seek(self.score, history, target, at)
            self._pump(self.now())
        return at

    def waiting_controls(self) -> bool:
        """Whether a timetagged control waits for its block (the ticker then ticks often)."""
        return self.driver.holding

    def _retire(self, now: int) -> None:
        for entry in list(self.retired):
            silent_from, engine = entry
            if now >= silent_from:
                engine.silence_all()
                self.retired.remove(entry)

    def _pump(self, now: int) -> None:
        # the one driver policy of render and serve (see `runtime.driver`); it notes each
        # written action (`_note`) for events and the music's log
        self.driver.pump(now)
        for at, command, message in self.conductor.rejected:
            self.stats.count("rejected", f"{command.cmd} at sample {at}: {message}")
        self.conductor.rejected.clear()
        for at, command, message in self.conductor.ignored:
            self.stats.count("go_lockout", f"{command.cmd} at sample {at}: {message}",
                             logging.INFO)
        self.conductor.ignored.clear()

    def _unknown_name(self, command: Command) -> str | None:
        unknown = self._names.unknown(command)
        if not unknown:
            return None
        _, kind, name = unknown[0]
        return f"unknown {kind} {name!r}"

    def _count_clamped(self, command: Command, source: str) -> None:
        for name, value in parameter_values(command).items():
            spec = self.score.parameters[name]
            if not spec.min <= value <= spec.max:
                self.stats.count("clamped", f"{source}{name} = {value} clamped to "
                                 f"[{spec.min}, {spec.max}]", logging.INFO)

    # -------------------------------------------------------------- events

    def _note(self, action: Action) -> None:
        """Turn what the music does into events and log lines (where, when and why)."""
        playing = self._playing
        log.debug("applied at %d: %r", self.now(), action)
        why = str(getattr(action, "why", "") or "")  # the LEAD's actions carry a reason
        if isinstance(action, StartVoice) and not action.bridge:
            where = self._where(action.at)
            spec = self.score.sections[action.section]
            playing.section = action.section
            playing.grid = Grid(self.sample_rate, spec.tempo, spec.parsed_meter,
                                action.origin)
            self._emit(Event("section", (action.section,), action.at,
                             self._line(f"section {action.section}", where, why)))
        elif isinstance(action, StartRest):
            playing.resting = True
            self._emit(Event("rest", (), action.at,
                             self._line("rest", self._where(action.at), why)))
        elif isinstance(action, EndRest):
            playing.resting = False
            self._emit(Event("resume", (), action.at,
                             self._line("resume", self._where(action.at), why)))
        elif isinstance(action, StartStinger):
            self._emit(Event("stinger", (action.name,), action.at,
                             self._line(f"stinger {action.name}", self._where(action.at), why)))

    def _where(self, sample: int) -> str:
        """'at bar 9 beat 1 of calm (t=32.500 s)': the position in what was sounding."""
        playing = self._playing
        when = f"(t={sample / self.sample_rate:.3f} s)"
        if playing.grid is None or playing.section is None or sample < playing.grid.origin:
            return when
        bars = self.score.sections[playing.section].bars
        bar, beat = playing.grid.bar_and_beat(sample, bars)
        return f"at bar {bar} beat {beat} of {playing.section} {when}"

    @staticmethod
    def _line(what: str, where: str, why: str) -> str:
        return f"{what} {where}" + (f", why: {why}" if why else "")

    def _announce(self, until: int) -> None:
        """Beats of the bed between the last announcement and `until`, ahead of time."""
        bed = self.conductor.bed
        start = max(self._playing.events_until, self.now())
        if bed is not None and until > start:
            grid = bed.grid
            section = self.score.sections[bed.section]
            beat = grid.next_instant(float(max(start, bed.start)), "beat")
            while beat < until:
                bar, beat_in_bar = grid.bar_and_beat(beat + 1e-6, section.bars)
                self._emit(Event("beat", (bar, beat_in_bar), int(-(-beat // 1))))
                beat += grid.samples_per_beat
        self._playing.events_until = max(self._playing.events_until, until)

    def _emit(self, event: Event) -> None:
        """Publish only: delivery happens on the bus's threads, never under our lock."""
        recent = self._playing.recent
        recent.append(event)
        del recent[:-64]
        self.bus.publish(event)

    # -------------------------------------------------------------- status

    def levels(self) -> dict[str, tuple[float, float]]:
        """Each layer's (peak, RMS) in dBFS as measured in the graph (`engine.meters`);
        empty when the engine was built without meters."""
        meters = self.engine.meters
        if meters is None:
            return {}
        return {key: (level.peak_db, level.rms_db) for key, level in meters.read().items()}

    def status(self) -> dict[str, Any]:
        """What is sounding now and what is pending (see `status.STATUS_FIELDS`)."""
        with self._lock:
            now = self.now()
            state = self.conductor.state(now)
            score = self.score
            film = self.film.status(now) if self.film is not None else None
            streams = self.engine.streamer.status()
        return {**music_status(score, state, self.sample_rate), "film": film,
                "streams": streams,
                "counters": self.stats.snapshot(), "reloads": self.reloads,
                "reload_error": self.reload_error, "dropped": self.bus.drops()}
