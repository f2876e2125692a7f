"""A live session: the life of `adaptive serve` from start-up to a clean stop.

Start-up is guarded: the inputs' ports are taken first (a busy one costs no audio
start-up), then everything is built before the music starts (score, graph, patches), then
the audio, the ticker thread and the endpoints (each on a thread of its own) start. Any
failure on the way shuts down what had started and becomes one line (`StartupError`).
The main thread runs an asyncio loop for the watcher and the signals; the audio runs in
pyo's C thread (JACK, PortAudio) or in `FreeRunning` (`--audio none`). SIGINT/SIGTERM fade
the music out, stop the endpoints (MQTT says offline) and exit 0; a second signal exits at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adaptive.chase import ChaseSettings
from adaptive.engine.engine import Engine, import_pyo
from adaptive.errors import AdaptiveError, AudioError
from adaptive.live.audio import AudioConfig, FreeRunning, boot_live_server
from adaptive.live.controller import Controller, Event, InputStats, music_log
from adaptive.live.endpoint import Endpoint, StartupError
from adaptive.live.osc import OscConfig, OscEndpoint
from adaptive.live.show_writer import ShowWriter, show_log_path
from adaptive.live.threads import name_native_thread, realtime_thread
from adaptive.score.load import LoadedScore, load_score
from adaptive.score.model import Score

if TYPE_CHECKING:
    from adaptive.live.xruns import XrunCounter

log = logging.getLogger("adaptive.serve")

FADE_OUT_SECONDS = 0.5


@dataclass
class ServeConfig:
    score: Path
    audio: AudioConfig = field(default_factory=AudioConfig)
    osc: OscConfig | None = field(default_factory=OscConfig)
    mqtt: Any = None  # adaptive.live.mqtt.MqttConfig
    watch: bool = False
    seed: int = 1
    name: str = "adaptive"
    timeline: Path | None = None  # a cue sheet: the film follower's (see `live.film`)
    start_from: str | None = None  # film seconds or timecode the sheet runs from freely
    follow: str | None = None  # osc | mpv:SOCKET — wait for that player instead
    chase: ChaseSettings | None = None  # None: the sheet's fps and the defaults
    warning: float = 3.0  # seconds of /event/warning before each hit
    http: Any = None  # adaptive.web.surface.HttpConfig: the control surface and /metrics
    show_log: str | None = None  # None: a dated file beside the score; "none": off; a path
    go_lockout: float = 0.5  # seconds: a second /go sooner than this is ignored (`perform`)
    midi: Any = None  # adaptive.live.midi.MidiConfig: a controller through a map (JACK)


IDLE_TICK_BLOCKS = 4
"""Ticks are every audio period while a timetagged control waits for its block, else every
4 periods: the release horizon (8 blocks) still covers every start sample, and Python wakes
a quarter as often (measured: 1.5 % of a core at 8 stems)."""


class ClockSampling:
    """Stamps the audio clock during a few blocks every few seconds instead of every block.

    pyo calls its Python callback from the audio thread on every block; a Python call on a
    cold cache costs tens of microseconds there, every 5 ms (measured on session 1's
    machine: 3.8 % of a core at 8 stems; within noise on the 2026-11-25 one). The
    wall-clock offset of the sample counter changes only by drift (parts per million), so
    `STAMP_BLOCKS` stamps every `STAMP_EVERY` seconds keep it to well under a block;
    between windows the callback is `int`, a C callable that costs nothing.
    """

    STAMP_EVERY = 2.0
    STAMP_BLOCKS = 32
    FIRST_WINDOW_BLOCKS = 512
    """Stamps are taken on every block for the first seconds: the first blocks after the
    audio starts come irregularly (measured: a 32-block first window put timetags 117
    samples off)."""

    def __init__(self, server: Any, controller: Controller) -> None:
        self._server = server
        self._controller = controller
        # held here for the life of the session: the audio thread may be inside it when
        # the callback is switched, so the server must never drop its last reference
        self._stamp = controller.on_block
        self._started_at = controller.clock.stamps
        self._window = self.FIRST_WINDOW_BLOCKS
        self._next_window = 0.0
        self.stamping = True
        server.setCallback(self._stamp)

    def poll(self, now: float) -> None:
        """Called by the ticker: close a finished window, open the next one when due."""
        stamps = self._controller.clock.stamps
        if self.stamping and stamps - self._started_at >= self._window:
            self._server.setCallback(int)
            self.stamping = False
            self._window = self.STAMP_BLOCKS
            self._next_window = now + self.STAMP_EVERY
            self._controller.clock.update()
        elif not self.stamping and now >= self._next_window:
            self._started_at = stamps
            self._server.setCallback(self._stamp)
            self.stamping = True


class Ticker(threading.Thread):
    """Calls `controller.tick()` every audio period or every few."""

    def __init__(self, controller: Controller, period: float,
                 clock_sampling: ClockSampling | None = None) -> None:
        super().__init__(name="adaptive-ticker", daemon=True)
        self.controller = controller
        self.period = period
        self.clock_sampling = clock_sampling
        self.stopping = threading.Event()
        self.wake = threading.Event()
        controller.wake_ticker = self.wake.set  # a timetagged control must not wait 4 blocks

    def run(self) -> None:
        realtime_thread("adaptive-tick")
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.controller.tick()
                if self.clock_sampling is not None:
                    self.clock_sampling.poll(time.monotonic())
            except Exception:  # the music must go on: log and keep ticking
                log.exception("tick failed")
            next_tick += self.period * (1 if self.controller.waiting_controls()
                                        else IDLE_TICK_BLOCKS)
            delay = next_tick - time.monotonic()
            if delay < -0.1:
                next_tick = time.monotonic()
            elif delay > 0 and self.wake.wait(delay):
                self.wake.clear()
                next_tick = time.monotonic()


def endpoints_for(config: ServeConfig, score: Score) -> list[Endpoint]:
    """The inputs a configuration asks for; a new kind of input is one more line here."""
    endpoints: list[Endpoint] = []
    if config.timeline is not None:
        from adaptive.live.timeline_input import TimelineEndpoint

        endpoints.append(TimelineEndpoint(config.timeline, score, config.audio.sample_rate,
                                          config.chase, config.start_from,
                                          follow=config.follow is not None,
                                          warning=config.warning))
    if config.follow is not None and config.follow.startswith("mpv:"):
        from adaptive.live.mpv import MpvFollower

        endpoints.append(MpvFollower(config.follow.removeprefix("mpv:")))
    if config.osc is not None:
        endpoints.append(OscEndpoint(config.osc))
    if config.mqtt is not None:
        from adaptive.live.mqtt import MqttEndpoint

        endpoints.append(MqttEndpoint(config.mqtt))
    if config.midi is not None:
        from adaptive.live.midi import JackMidiEndpoint

        endpoints.append(JackMidiEndpoint(config.midi, score))
    if config.http is not None:
        from adaptive.web.server import WebEndpoint

        endpoints.append(WebEndpoint(config.http, xruns=_xrun_counter(config)))
    return endpoints


def _xrun_counter(config: ServeConfig) -> XrunCounter | None:
    """JACK's xruns as the server sees them (for `/metrics`), or None off JACK."""
    if config.audio.backend != "jack":
        return None
    from adaptive.live.xruns import XrunCounter

    return XrunCounter(f"{config.audio.jack_name}-xruns", config.audio.jack_server)


def _log_music(event: Event) -> None:
    """The log's subscription to the bus: what the music did, where and why."""
    if event.text:
        music_log.info("%s", event.text)


class Session:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.loaded: LoadedScore = load_score(config.score)
        self.sample_rate = config.audio.sample_rate or self.loaded.sample_rate
        if self.sample_rate != self.loaded.sample_rate:
            raise AudioError(f"the score plays at {self.loaded.sample_rate} Hz; "
                             f"--sample-rate {self.sample_rate} would detune its stems")
        self.pyo = import_pyo()
        self.seed = config.seed
        self.server: Any = None
        self.engine: Engine | None = None
        self.controller: Controller | None = None
        self.endpoints = endpoints_for(config, self.loaded.score)
        self.started: list[Endpoint] = []
        self.ticker: Ticker | None = None
        self.free_running: FreeRunning | None = None
        self.show_log: ShowWriter | None = None
        self.stop_requested = asyncio.Event()
        self._signals = 0

    @property
    def osc(self) -> OscEndpoint | None:
        return next((e for e in self.endpoints if isinstance(e, OscEndpoint)), None)

    def start_audio(self) -> None:
        config = self.config.audio
        self.server = boot_live_server(self.pyo, config, self.sample_rate)
        self.server.setGlobalSeed(self.config.seed)
        chase = self.config.chase
        self.engine = Engine(self.pyo, self.loaded, self.config.seed,
                             meters=self.config.http is not None,  # the page's meters
                             varispeed=self.config.timeline is not None
                             and chase is not None and chase.varispeed > 0)
        self.engine.output.out()
        self.controller = Controller(self.loaded.score, self.engine, self.sample_rate,
                                     config.block, InputStats(logging.getLogger("adaptive.input")),
                                     go_lockout=self.config.go_lockout)
        self.controller.bus.subscribe("log", _log_music)
        self._open_show_log()  # before the first tick: the log holds the first section too
        clock_sampling = ClockSampling(self.server, self.controller)
        # the first section starts on sample 0: its start is set before the clock runs
        self.controller.tick()
        # a full collection holds the GIL longer than an audio period: do it (and freeze
        # what is built) before the audio runs, not after
        gc.collect()
        gc.freeze()
        self.server.start()
        self.engine.start()
        self.engine.streamer.run_in_background()  # the disk thread of streamed stems
        if config.backend == "none":
            self.free_running = FreeRunning(self.server, config.block, self.sample_rate)
            self.free_running.start()
        self.ticker = Ticker(self.controller, config.block / self.sample_rate, clock_sampling)
        self.ticker.start()
        if config.backend == "jack":
            where = f"JACK as '{config.jack_name}'"
        elif config.backend == "none":
            where = "no audio device (--audio none: the clock runs in real time, silently)"
        else:
            where = f"PortAudio device {'default' if config.device is None else config.device}"
        log.info("playing %s (%s) at %d Hz, %d frames per block, through %s",
                 self.loaded.path.name, self.loaded.score.score.name, self.sample_rate,
                 config.block, where)
        if config.backend == "jack":
            self._connect_jack()

    def _open_show_log(self) -> None:
        from adaptive.live.controller import HORIZON_BLOCKS

        assert self.controller is not None
        path = show_log_path(self.config.show_log, self.config.score)
        if path is not None:
            self.show_log = ShowWriter.open(path, self.controller, self.config.score,
                                            self.config.seed, HORIZON_BLOCKS)

    def _connect_jack(self) -> None:
        """Feed the physical playback ports (or the ones asked for) and say so."""
        config = self.config.audio
        if config.jack_connect == []:
            log.info("JACK outputs left unconnected (--jack-connect none)")
            return
        from adaptive.live.jackports import JackPortsError, connect_outputs

        try:
            done = connect_outputs(config.jack_name, config.jack_connect)
        except JackPortsError as error:
            log.warning("JACK outputs not connected: %s", error)
            return
        if done.made:
            log.info("JACK outputs connected: %s",
                     ", ".join(f"{source} -> {target}" for source, target in done.made))
        for source, target, why in done.failed:
            log.warning("JACK: cannot connect %s -> %s: %s", source, target, why)
        if not done.made:
            log.warning("JACK outputs connected nowhere%s: connect %s:output_1/2 yourself or "
                        "pass --jack-connect PORT,PORT",
                        " (no physical playback ports)" if config.jack_connect is None else "",
                        config.jack_name)

    def start(self) -> None:
        """Everything up to 'ready', guarded: a failure stops what had started."""
        try:
            for endpoint in self.endpoints:
                endpoint.open()
            self.start_audio()
            name_native_thread("adaptive-main")
            assert self.controller is not None
            for endpoint in self.endpoints:
                endpoint.start(self.controller)
                self.started.append(endpoint)
        except BaseException as error:
            self.shutdown(quiet=True)
            if isinstance(error, AdaptiveError | KeyboardInterrupt):
                raise
            log.debug("start-up failed", exc_info=True)
            raise StartupError(f"start-up failed: {type(error).__name__}: {error}") from None

    async def run(self) -> int:
        sys.setswitchinterval(0.001)  # the audio callback waits for the GIL every block
        # this thread runs the watcher: it must not hold the GIL while parked behind other
        # processes. The audio backend's thread is created by start_audio and inherits this
        # thread's name, hence the two names.
        realtime_thread("adaptive-audio")
        self.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal)
        tasks: list[asyncio.Task[Any]] = []
        if self.config.watch:
            from adaptive.live.reload import watch_score

            tasks.append(asyncio.create_task(watch_score(self, self.stop_requested)))
        gc.freeze()  # what start-up built since (threads, endpoints), without a collection
        log.info("ready")
        await self.stop_requested.wait()
        await self._fade_out()
        await asyncio.to_thread(self._stop_endpoints)
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=3.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self.shutdown()
        return 0

    def _on_signal(self) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: exiting at once")
            os._exit(130)
        log.info("stopping: fading out")
        self.stop_requested.set()

    async def _fade_out(self) -> None:
        if self.engine is None:
            return
        now = int(self.engine.counter.now()) + 1
        self.engine.master.rest.rest(now, round(FADE_OUT_SECONDS * self.sample_rate))
        await asyncio.sleep(FADE_OUT_SECONDS + 0.05)

    def _stop_endpoints(self) -> None:
        while self.started:
            endpoint = self.started.pop()
            try:
                endpoint.stop()
            except Exception:  # stopping must go on for the others
                log.exception("stopping %s failed", endpoint.name)

    def shutdown(self, quiet: bool = False) -> None:
        self._stop_endpoints()
        for endpoint in self.endpoints:  # opened but never started
            with contextlib.suppress(Exception):
                endpoint.stop()
        if self.ticker is not None:
            self.ticker.stopping.set()
            self.ticker.wake.set()
            self.ticker.join(timeout=1.0)
        if self.free_running is not None:
            self.free_running.close()
        if self.controller is not None:
            self.controller.bus.close()
        if self.show_log is not None:  # after the bus: its last events are in the log too
            self.show_log.close()
            self.show_log = None
        if self.server is not None:
            with contextlib.suppress(Exception):
                if self.server.getIsStarted():
                    self.server.stop()
                    time.sleep(0.05)
                self.server.shutdown()
            self.server = None
        if not quiet:
            log.info("stopped")


def serve(config: ServeConfig) -> int:
    session = Session(config)
    return asyncio.run(session.run())
