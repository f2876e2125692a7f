"""Real parts for live tests: a JACK server, a mosquitto broker, the server under test as a
subprocess, and a JACK client that records its output and counts xruns.

Each is started by the test suite on a unique name or a free port, and stopped by it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RATE = 48000
PERIOD = 256


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


@contextmanager
def jack_server() -> Iterator[str]:
    """`jackd -d dummy`: real-time JACK without a sound card, under a unique name."""
    jackd = shutil.which("jackd")
    if jackd is None:
        raise RuntimeError("jackd is missing: bin/test installs Debian's jackd2")
    name = f"adaptive-test-{uuid.uuid4().hex[:8]}"
    log = Path(f"/tmp/{name}.log").open("w")  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen([jackd, "-n", name, "-d", "dummy", "-r",
                                str(RATE), "-p", str(PERIOD)], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        import jack

        def ready() -> bool:
            try:
                jack.Client("probe", servername=name, no_start_server=True).close()
                return True
            except jack.JackError:
                return False

        _wait_for(ready, 15.0, "jackd")
        yield name
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextmanager
def mosquitto_broker(port: int | None = None) -> Iterator[Broker]:
    broker = Broker(port or free_port(socket.SOCK_STREAM))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = Path(f"/tmp/mosquitto-{self.port}.conf")
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                          "persistence false\n")
        self.process = subprocess.Popen([binary, "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        _wait_for(listening, 10.0, "mosquitto")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(5)
            self.process = None


@dataclass
class Recorder:
    """A JACK client recording two inputs, with the JACK frame time of every block."""

    jack_server: str
    seconds: float = 120.0
    xruns: int = 0
    frames: int = 0
    _client: Any = None
    _buffer: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 2),
                                                                               np.float32))
    _first_frame: int | None = None

    def start(self) -> None:
        import jack

        client = jack.Client(f"recorder-{uuid.uuid4().hex[:6]}", servername=self.jack_server,
                             no_start_server=True)
        self._buffer = np.zeros((int(self.seconds * RATE), 2), np.float32)
        ports = [client.inports.register(f"in_{i}") for i in (1, 2)]

        @client.set_process_callback  # type: ignore[misc]
        def process(frames: int) -> None:
            if self._first_frame is None:
                self._first_frame = client.last_frame_time
            start = self.frames
            end = min(start + frames, len(self._buffer))
            for channel, port in enumerate(ports):
                self._buffer[start:end, channel] = port.get_array()[: end - start]
            self.frames = end

        @client.set_xrun_callback  # type: ignore[misc]
        def xrun(delay: float) -> None:
            self.xruns += 1

        client.activate()
        self._client = client

    def connect(self, source_client: str) -> None:
        ports = self._client.get_ports(f"{source_client}:", is_output=True, is_audio=True)
        if len(ports) < 2:
            raise RuntimeError(f"{source_client} has no two audio outputs: {ports}")
        for source, target in zip(ports[:2], self._client.inports, strict=True):
            self._client.connect(source, target)

    def frame_time(self) -> int:
        """JACK's current frame time (the clock that latency is measured on)."""
        return int(self._client.frame_time)

    def recorded_frame(self, jack_frame: int) -> int:
        """Index in the recording of the sample heard at a JACK frame time."""
        assert self._first_frame is not None
        return jack_frame - self._first_frame

    def audio(self) -> npt.NDArray[np.float32]:
        return self._buffer[: self.frames].copy()

    def stop(self) -> None:
        if self._client is not None:
            self._client.deactivate()
            self._client.close()
            self._client = None


@dataclass
class Served:
    """`adaptive serve` running as a subprocess; its log is collected."""

    process: subprocess.Popen[str]
    jack_name: str
    osc_port: int
    log_lines: list[str]

    def log(self) -> str:
        return "\n".join(self.log_lines)

    def wait_log(self, text: str, timeout: float = 20.0) -> None:
        _wait_for(lambda: any(text in line for line in self.log_lines), timeout,
                  f"log line {text!r}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


@contextmanager
def serve(score: Path, jack_server: str, *extra: str) -> Iterator[Served]:
    jack_name = f"adaptive-{uuid.uuid4().hex[:6]}"
    osc_port = free_port()
    env = dict(os.environ, PYO_GUI_WX="0", PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "adaptive.cli", "serve", str(score), "--audio", "jack",
         "--jack-server", jack_server, "--jack-name", jack_name,
         "--osc", f"127.0.0.1:{osc_port}", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    served = Served(process, jack_name, osc_port, lines)
    try:
        served.wait_log("ready")
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(5)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()
