"""The live audio backend: a pyo server on PortAudio (a sound card), JACK, or none.

PortAudio is asked for its output devices in a short child process before pyo boots it in
ours: on a machine without a sound card pyo's PortAudio boot segfaults (measured: exit
139), and a crash in the child is an answer, not the end of the server. With `none` the
graph is advanced by a thread of ours at the real-time rate (`FreeRunning`), so clients
can be tried anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from adaptive.errors import AudioError
from adaptive.live.threads import realtime_thread

log = logging.getLogger("adaptive.audio")


Backend = Literal["portaudio", "jack", "none"]

NO_DEVICE_HELP = ("use --audio jack (with a running JACK server), --audio none (the clock "
                  "runs without sound), or pick a device from `adaptive devices`")


@dataclass
class AudioConfig:
    backend: Backend = "portaudio"
    sample_rate: int | None = None  # None: the score's rate
    block: int = 256  # with JACK it must equal the JACK period
    device: int | None = None  # PortAudio output device index (see `adaptive devices`)
    jack_name: str = "adaptive"
    jack_server: str | None = None  # JACK server name (JACK_DEFAULT_SERVER)
    jack_connect: list[str] | None = None
    """JACK ports to feed, left then right; None: the physical playback ports; []: none."""


def boot_live_server(pyo: ModuleType, config: AudioConfig, sample_rate: int) -> Any:
    """Boot (not start) a pyo server for real-time playback."""
    if config.jack_server:
        os.environ["JACK_DEFAULT_SERVER"] = config.jack_server
    if config.backend == "portaudio":
        check_output_device(config.device)
    if config.backend == "jack":
        check_jack_server(config.jack_server)
    kwargs: dict[str, Any] = {"sr": sample_rate, "nchnls": 2, "buffersize": config.block,
                              "duplex": 0,
                              "audio": "manual" if config.backend == "none" else config.backend}
    if config.backend == "jack":
        kwargs["jackname"] = config.jack_name
    server = pyo.Server(**kwargs)
    server.setVerbosity(1)
    server.deactivateMidi()
    if config.backend == "jack":
        # we connect our ports ourselves: pyo's auto-connection would pick system ports
        server.setJackAuto(False, False)
    elif config.device is not None:
        server.setOutputDevice(config.device)
    server.boot()
    if not server.getIsBooted():
        raise AudioError(f"the {config.backend} audio backend did not start "
                           "(is a JACK server running? is the device free?)")
    return server


def check_jack_server(name: str | None) -> None:
    """Say plainly that no JACK server runs, before pyo and libjack print a page about it."""
    from adaptive.live.jackports import JackPortsError, server_running

    try:
        running = server_running()
    except JackPortsError as error:  # no libjack at all
        raise AudioError(f"JACK is not available: {error}; install JACK (Debian: jackd2) "
                         "or use --audio none") from None
    if not running:
        which = f"named {name!r}" if name else "(the default one)"
        raise AudioError(f"no JACK server is running {which}: start one (e.g. `jackd -d "
                         "dummy -r 48000 -p 256`, or with a sound card `jackd -d alsa`), "
                         "or use --audio none")


@dataclass(frozen=True)
class Devices:
    """PortAudio's output devices, as a child process saw them."""

    names: list[str]
    indexes: list[int]
    default: int

    def describe(self) -> str:
        lines = [f"{'*' if index == self.default else ' '} {index:3d}  {name}"
                 for name, index in zip(self.names, self.indexes, strict=False)]
        return "\n".join(lines)


_PROBE = """
import json, os, sys
os.environ.setdefault("PYO_GUI_WX", "0")
import pyo
names, indexes = pyo.pa_get_output_devices()
sys.stdout.write("\\nADAPTIVE-DEVICES " + json.dumps({
    "names": [str(n) for n in names], "indexes": [int(i) for i in indexes],
    "default": int(pyo.pa_get_default_output())}) + "\\n")
"""
_MARK = "ADAPTIVE-DEVICES "


def probe_output_devices(timeout: float = 30.0) -> Devices:
    """Ask PortAudio for its output devices in a child process (its noise and any crash
    stay there). Raises AudioError if the child could not answer."""
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout, check=False,
                              env=dict(os.environ, PYO_GUI_WX="0"))
    except subprocess.TimeoutExpired:
        raise AudioError(f"PortAudio did not list its devices within {timeout:.0f} s; "
                         f"{NO_DEVICE_HELP}") from None
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            body = json.loads(line[len(_MARK):])
            return Devices(list(body["names"]), list(body["indexes"]), int(body["default"]))
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit {done.returncode}"
    raise AudioError(f"PortAudio failed while listing output devices ({how}); "
                     f"{NO_DEVICE_HELP}")


def check_output_device(device: int | None,
                        probe: Callable[[], Devices] = probe_output_devices) -> Devices:
    """Refuse, with what to do, to boot PortAudio where it has no output device to use."""
    devices = probe()
    if not devices.indexes:
        raise AudioError(f"no audio output device found (no sound card?): {NO_DEVICE_HELP}")
    if device is not None and device not in devices.indexes:
        raise AudioError(f"--device {device} is not an output device (found "
                         f"{', '.join(map(str, devices.indexes))}; see `adaptive devices`)")
    if device is None and devices.default < 0:
        raise AudioError(f"PortAudio has no default output device: pass --device N "
                         f"(see `adaptive devices`) or {NO_DEVICE_HELP}")
    return devices


def list_devices(probe: Callable[[], Devices] = probe_output_devices) -> tuple[str, int]:
    """What `adaptive devices` prints, and its exit status."""
    try:
        devices = probe()
    except AudioError as error:
        return f"error: {error}", 1
    if not devices.indexes:
        return ("no PortAudio output device found (no sound card?): adaptive serve "
                "--audio jack plays through a JACK server, --audio none without sound"), 0
    return devices.describe(), 0


class FreeRunning(threading.Thread):
    """Advances a manual pyo server block by block at the real-time rate (`--audio none`).

    Block k is computed at t0 + k * period on the monotonic clock, so the sample counter
    runs at the nominal rate on average whatever one block costs. Behind by more than
    `MAX_LAG` (a suspended process, an overloaded machine), it skips ahead rather than
    racing to catch up, and counts the lost time. `process()` holds the GIL for one block,
    like pyo's own audio callback, and the session's switch interval keeps other threads
    from holding it long (see MEASURED: the GIL trap).
    """

    MAX_LAG = 0.25  # seconds

    def __init__(self, server: Any, block: int, sample_rate: int) -> None:
        super().__init__(name="adaptive-audio", daemon=True)
        self.server = server
        self.period = block / sample_rate
        self.stopping = threading.Event()
        self.blocks = 0
        self.lost_seconds = 0.0

    def run(self) -> None:
        realtime_thread("adaptive-audio")
        start = time.monotonic()
        while not self.stopping.is_set():
            delay = start + self.blocks * self.period - time.monotonic()
            if delay > 0:
                if self.stopping.wait(delay):
                    return
            elif delay < -self.MAX_LAG:
                self.lost_seconds -= delay
                start -= delay
                log.warning("--audio none: %.3f s behind real time, skipped ahead", -delay)
            self.server.process()
            self.blocks += 1

    def close(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=1.0)
