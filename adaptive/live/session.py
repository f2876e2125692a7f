"""A live session: the life of `adaptive serve` from start-up to a clean stop.

Start-up builds everything before the music starts (score, graph, patches), then starts
the audio, the ticker thread and the inputs. The main thread runs an asyncio loop for OSC
and MQTT; the audio runs in pyo's C thread. SIGINT/SIGTERM fade the music out, tell MQTT
we are offline and exit 0; a second signal exits at once.
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
from typing import Any

from adaptive.engine.engine import Engine, import_pyo
from adaptive.errors import AudioError
from adaptive.live.audio import AudioConfig, boot_live_server
from adaptive.live.controller import Controller, InputStats
from adaptive.live.osc import OscConfig, OscEndpoint, start_osc
from adaptive.score.load import LoadedScore, load_score

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


def realtime_thread(priority: int = 1) -> None:
    """Run the calling thread at a low real-time priority, below JACK's audio threads.

    Python I/O threads holding the GIL must not be parked behind busy processes while the
    audio callback waits for the GIL (measured: xruns under packet floods until this).
    """
    with contextlib.suppress(PermissionError, OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))


IDLE_TICK_BLOCKS = 4
"""Ticks are every audio period while a timetagged control waits for its block, else every
4 periods: the release horizon (8 blocks) still covers every start sample, and Python wakes
a quarter as often (measured: 1.5 % of a core at 8 stems)."""


class Ticker(threading.Thread):
    """Calls `controller.tick()` every audio period or every few."""

    def __init__(self, controller: Controller, period: float) -> None:
        super().__init__(name="adaptive-ticker", daemon=True)
        self.controller = controller
        self.period = period
        self.stopping = threading.Event()
        self.wake = threading.Event()
        controller.wake_ticker = self.wake.set  # a timetagged control must not wait 4 blocks

    def run(self) -> None:
        realtime_thread()
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.controller.tick()
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


class Session:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.loaded: LoadedScore = load_score(config.score)
        self.sample_rate = config.audio.sample_rate or self.loaded.sample_rate
        if self.sample_rate != self.loaded.sample_rate:
            raise AudioError(f"the score plays at {self.loaded.sample_rate} Hz; "
                             f"--sample-rate {self.sample_rate} would detune its stems")
        self.pyo = import_pyo()
        self.server: Any = None
        self.engine: Engine | None = None
        self.controller: Controller | None = None
        self.osc: OscEndpoint | None = None
        self.ticker: Ticker | None = None
        self.stop_requested = asyncio.Event()
        self._signals = 0

    def start_audio(self) -> None:
        config = self.config.audio
        self.server = boot_live_server(self.pyo, config, self.sample_rate)
        self.server.setGlobalSeed(self.config.seed)
        self.engine = Engine(self.pyo, self.loaded, self.config.seed)
        self.engine.output.out()
        self.controller = Controller(self.loaded.score, self.engine, self.sample_rate,
                                     config.block, InputStats(logging.getLogger("adaptive.input")))
        self.server.setCallback(self.controller.on_block)
        self.server.start()
        self.engine.start()
        self.ticker = Ticker(self.controller, config.block / self.sample_rate)
        self.ticker.start()
        device = "default" if config.device is None else str(config.device)
        where = (f"JACK as '{config.jack_name}'" if config.backend == "jack"
                 else f"PortAudio device {device}")
        log.info("playing %s (%s) at %d Hz, %d frames per block, through %s",
                 self.loaded.path.name, self.loaded.score.score.name, self.sample_rate,
                 config.block, where)

    async def run(self) -> int:
        sys.setswitchinterval(0.001)  # the audio callback waits for the GIL every block
        realtime_thread()  # this thread runs MQTT and the watcher: it must not hold the GIL
        self.start_audio()  # while parked behind other processes
        assert self.controller is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal)
        tasks: list[asyncio.Task[Any]] = []
        if self.config.osc is not None:
            self.osc = start_osc(self.controller, self.config.osc)
        if self.config.mqtt is not None:
            from adaptive.live.mqtt import run_mqtt

            tasks.append(asyncio.create_task(run_mqtt(self.controller, self.config.mqtt,
                                                      self.stop_requested)))
        if self.config.watch:
            from adaptive.live.reload import watch_score

            tasks.append(asyncio.create_task(watch_score(self, self.stop_requested)))
        gc.collect()
        gc.freeze()  # a full collection holds the GIL longer than an audio period
        log.info("ready")
        await self.stop_requested.wait()
        await self._fade_out()
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

    def shutdown(self) -> None:
        if self.osc is not None:
            self.osc.close()
        if self.ticker is not None:
            self.ticker.stopping.set()
            self.ticker.wake.set()
            self.ticker.join(timeout=1.0)
        if self.server is not None:
            self.server.stop()
            time.sleep(0.05)
            self.server.shutdown()
        log.info("stopped")


def serve(config: ServeConfig) -> int:
    session = Session(config)
    return asyncio.run(session.run())
