"""The same live workload on adaptive and on SuperCollider's scsynth, interleaved.

Workload: N looping stereo stems (60 s float WAV each), each with a smoothed gain, on
`jackd -d dummy` (48 kHz, 256 frames), while a client sends gain changes. adaptive plays a
score whose layers' gains follow one parameter; scsynth plays one loop per stem with a
lagged gain set by `/n_set`. In RAM (the default) scsynth's loop is `PlayBuf` on a buffer
read whole; `--streamed` plays the same files from disk on both: adaptive with
`[score] stream_longer_than = 0.0` (every stem read by its disk thread past a resident head
of 1.37 s), scsynth with `DiskIn` on a cue buffer of `CUE_FRAMES` left open (`/b_read ...
leaveOpen 1`). scsynth is driven without sclang: the SynthDef binaries are written here
(SCgf version 2) and loaded with /d_recv.

Measured per run, over the same seconds: CPU of the engine process (from /proc, 100 % =
one core); JACK's DSP load; xruns counted by `XrunMonitor`, a JACK client with an xrun
callback and no process callback (so not in the graph it counts); and the xruns a plain pyo
client had on a JACK server of its own (`NoiseReference`): the machine's share. The
recorder that checks the engine is sounding is itself a Python JACK client in the graph;
by default it listens just before and just after the measured seconds and is gone during
them (`--recorder-during` keeps it attached, the instrument of the earlier figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.bench.render_speed import make_stem_score
from tests.live.harness import NoiseReference, Recorder, free_port, jack_server, serve

TICKS = os.sysconf("SC_CLK_TCK")
STEM_SECONDS = 60.0
"""Each stem's length: far past adaptive's resident head (1.37 s) and scsynth's cue buffer
(`CUE_FRAMES`, 1.37 s), so streaming reads the files all along."""
CUE_FRAMES = 65536
"""DiskIn's buffer: a power of two and a multiple of twice the block (`-z 256`), the size
SuperCollider's DiskIn help recommends at least."""
SILENT_RMS = 1e-4


def _pstring(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">B", len(data)) + data


def stem_synthdef(streamed: bool = False) -> bytes:
    """SynthDef "stem": Out.ar(0, PlayBuf.ar(2, bufnum, loop: 1) * Lag.kr(amp, 0.05)), or
    with `streamed`, "stem_disk": the same with DiskIn.ar(2, bufnum, loop: 1)."""
    constants = [1.0, 0.0, 0.05]
    c = {value: index for index, value in enumerate(constants)}
    kr, ar = 1, 2

    def ugen(name: str, rate: int, inputs: list[tuple[int, int]], outputs: list[int],
             special: int = 0) -> bytes:
        out = _pstring(name) + struct.pack(">biih", rate, len(inputs), len(outputs), special)
        out += b"".join(struct.pack(">ii", u, i) for u, i in inputs)
        return out + b"".join(struct.pack(">b", r) for r in outputs)

    if streamed:  # DiskIn's inputs: bufnum, loop
        reader = ugen("DiskIn", ar, [(0, 0), (-1, c[1.0])], [ar, ar])
    else:  # PlayBuf's: bufnum, rate, trigger, startPos, loop, doneAction
        reader = ugen("PlayBuf", ar, [(0, 0), (-1, c[1.0]), (-1, c[1.0]), (-1, c[0.0]),
                                      (-1, c[1.0]), (-1, c[0.0])], [ar, ar])
    ugens = [
        ugen("Control", kr, [], [kr, kr]),
        reader,
        ugen("Lag", kr, [(0, 1), (-1, c[0.05])], [kr]),
        ugen("BinaryOpUGen", ar, [(1, 0), (2, 0)], [ar], special=2),
        ugen("BinaryOpUGen", ar, [(1, 1), (2, 0)], [ar], special=2),
        ugen("Out", ar, [(-1, c[0.0]), (3, 0), (4, 0)], []),
    ]
    body = _pstring(synthdef_name(streamed))
    body += struct.pack(">i", len(constants)) + b"".join(struct.pack(">f", v)
                                                           for v in constants)
    body += struct.pack(">i", 2) + struct.pack(">ff", 0.0, 0.1)
    body += struct.pack(">i", 2) + _pstring("bufnum") + struct.pack(">i", 0) + \
        _pstring("amp") + struct.pack(">i", 1)
    body += struct.pack(">i", len(ugens)) + b"".join(ugens) + struct.pack(">h", 0)
    return b"SCgf" + struct.pack(">ih", 2, 1) + body


def synthdef_name(streamed: bool) -> str:
    return "stem_disk" if streamed else "stem"


def load_messages(directory: Path, stems: int, streamed: bool) -> list[bytes]:
    """The OSC that gives scsynth its buffers: each file read whole (`/b_allocRead`), or
    streamed: a cue buffer allocated, its first `CUE_FRAMES` read and the file left open
    for DiskIn (`/b_read bufnum path 0 CUE_FRAMES 0 1`)."""
    messages = []
    for index in range(stems):
        path = str(directory / f"stem{index:03d}.wav")
        if streamed:
            messages += [_osc("/b_alloc", index, CUE_FRAMES, 2),
                         _osc("/b_read", index, path, 0, CUE_FRAMES, 0, 1)]
        else:
            messages.append(_osc("/b_allocRead", index, path, 0, 0))
    return messages


def _osc(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def read_bytes(pid: int) -> int:
    """Bytes the process has read through read() calls so far (page cache included): the
    evidence that a streamed engine does read its files while it plays."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


class XrunMonitor:
    """Counts the bench server's xruns from a JACK client with an xrun callback and no
    process callback: libjack leaves such a client out of the process cycle, so it cannot
    be late itself (the recorder can). Also reads JACK's DSP load."""

    def __init__(self, server: str) -> None:
        import jack

        self.count = 0
        self._client = jack.Client(f"xrun-monitor-{uuid.uuid4().hex[:6]}", servername=server,
                                   no_start_server=True)
        self._client.set_xrun_callback(self._xrun)
        self._client.activate()

    def _xrun(self, delay: float) -> None:
        self.count += 1

    def cpu_load(self) -> float:
        """JACK's DSP load (%): the share of each period the whole graph takes."""
        return float(self._client.cpu_load())

    def close(self) -> None:
        self._client.deactivate()
        self._client.close()


@dataclass(frozen=True)
class Run:
    cpu: float  # the engine process, % of one core
    xruns: int  # the monitor's, over the measured seconds
    jack_load: float  # median %
    plain_xruns: int  # the plain pyo client's on its own JACK server, same seconds
    recorder_xruns: int | None  # the recorder's, when it stayed attached
    read_mb_s: float  # read by the engine process, MB/s over the measured seconds
    underruns: int | None = None  # adaptive, streamed: layers faded out for a late disk


@dataclass
class Bench:
    """What every run shares: the bench's JACK server, the monitor, the noise reference."""

    jack: str
    monitor: XrunMonitor
    noise: NoiseReference
    recorder_during: bool


def _sounding(recorder: Recorder, what: str) -> None:
    """Refuse a silent engine: a benchmark of nothing playing would flatter it."""
    heard = recorder.audio()[-recorder.frames // 4:]
    if len(heard) == 0 or float(np.sqrt(np.mean(heard.astype(np.float64) ** 2))) < SILENT_RMS:
        raise RuntimeError(f"the engine under test was silent {what}")


def _listen(jack: str, source: str, what: str) -> None:
    """A short recording of `source`, checked for sound (before or after the window)."""
    recorder = Recorder(jack, seconds=5.0)
    recorder.start()
    try:
        recorder.connect(source)
        time.sleep(0.6)
        _sounding(recorder, what)
    finally:
        recorder.stop()


def measure(bench: Bench, pid: int, source: str, seconds: float, send: Callable[[int], None],
            rate: int) -> tuple[float, int, float, int, int | None, float]:
    """CPU, xruns (monitor), JACK load, plain-client xruns, recorder xruns (None when it
    was not attached) and MB/s read over `seconds`, sending `rate` messages per second;
    the engine is checked for sound before and after (or during, with the recorder
    attached)."""
    recorder: Recorder | None = None
    if bench.recorder_during:
        recorder = Recorder(bench.jack, seconds=seconds + 20)
        recorder.start()
        recorder.connect(source)
        time.sleep(1.0)
    else:
        _listen(bench.jack, source, "before the measurement")
        time.sleep(0.5)  # the recorder's leaving is not the engine's
    try:
        if recorder is not None:
            recorder.xruns = 0
        window = bench.noise.window()
        start_xruns = bench.monitor.count
        start_read = read_bytes(pid)
        start_cpu, start = cpu_seconds(pid), time.perf_counter()
        index = 0
        loads: list[float] = []
        while (elapsed := time.perf_counter() - start) < seconds:
            if len(loads) < elapsed * 4:
                loads.append(bench.monitor.cpu_load())
            if index < elapsed * rate:
                send(index)
                index += 1
            else:
                time.sleep(min(0.5 / rate, 0.05))
        took = time.perf_counter() - start
        cpu = (cpu_seconds(pid) - start_cpu) / took * 100
        read_mb_s = (read_bytes(pid) - start_read) / took / 1e6
        xruns, plain = bench.monitor.count - start_xruns, window.xruns
        recorder_xruns = None
        if recorder is not None:
            recorder_xruns = recorder.xruns
            _sounding(recorder, "during the measurement")
    finally:
        if recorder is not None:
            recorder.stop()
    if recorder is None:
        _listen(bench.jack, source, "after the measurement")
    return cpu, xruns, float(statistics.median(loads)), plain, recorder_xruns, read_mb_s


def _status(port: int) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3.0)
        sock.sendto(encode_message("/status", []), ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
    reply: dict[str, Any] = json.loads(OscPacket(data).messages[0].message.params[0])
    return reply


def run_adaptive(bench: Bench, score: Path, stems: int, seconds: float, rate: int,
                 streamed: bool) -> Run:
    with serve(score, bench.jack, ready_timeout=180.0) as served:
        time.sleep(1.0)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def send(index: int) -> None:
            sock.sendto(encode_message("/param/intensity", [(index % 10) / 10]),
                        ("127.0.0.1", served.osc_port))

        before = _status(served.osc_port).get("streams") or {}
        result = measure(bench, served.process.pid, served.jack_name, seconds, send, rate)
        after = _status(served.osc_port).get("streams") or {}
        if after.get("stems", 0) != (stems if streamed else 0):
            raise RuntimeError(f"adaptive was to stream {stems if streamed else 'no'} stems: "
                               f"streams = {after}")
        underruns = None
        if streamed:
            underruns = int(after["underruns"]) - int(before.get("underruns", 0))
        sock.close()
        served.stop()
        return Run(*result, underruns=underruns)


def run_scsynth(bench: Bench, directory: Path, stems: int, seconds: float, rate: int,
                streamed: bool) -> Run:
    binary = shutil.which("scsynth")
    if binary is None:
        raise RuntimeError("scsynth is missing: apt-get install supercollider-server")
    port = free_port()
    env = dict(os.environ, JACK_DEFAULT_SERVER=bench.jack, SC_JACK_DEFAULT_OUTPUTS="",
               SC_JACK_DEFAULT_INPUTS="")
    name = f"sc-{uuid.uuid4().hex[:6]}"
    process = subprocess.Popen([binary, "-u", str(port), "-i", "0", "-o", "2", "-z", "256",
                                "-S", "48000", "-H", name, "-m", "65536"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(30)
    target = ("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            sock.sendto(_osc("/status"), target)
            try:
                sock.settimeout(0.5)
                sock.recvfrom(65536)
                break
            except TimeoutError:
                continue
        sock.settimeout(60)

        def sync(ident: int) -> None:
            sock.sendto(_osc("/sync", ident), target)
            while True:
                data, _ = sock.recvfrom(65536)
                message = OscPacket(data).messages[0].message
                if message.address == "/synced" and message.params[0] == ident:
                    return

        sock.sendto(_osc("/d_recv", stem_synthdef(streamed)), target)
        for message in load_messages(directory, stems, streamed):
            sock.sendto(message, target)
        sync(1)
        for index in range(stems):
            sock.sendto(_osc("/s_new", synthdef_name(streamed), 1000 + index, 0, 0,
                             "bufnum", index, "amp", 0.5), target)
        sync(2)
        time.sleep(1.0)

        def send(index: int) -> None:
            sock.sendto(_osc("/n_set", 1000 + index % stems, "amp", (index % 10) / 10),
                        target)

        return Run(*measure(bench, process.pid, name, seconds, send, rate))
    finally:
        sock.close()
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def with_streaming(score: Path, streamed: bool) -> Path:
    """The score beside `score` that streams every stem, or none: one-minute stems are past
    the default threshold (30 s), so in RAM has to be asked for too."""
    threshold = 0.0 if streamed else 2 * STEM_SECONDS
    path = score.with_name(f"score_{'streamed' if streamed else 'ram'}.toml")
    path.write_text(f"[score]\nstream_longer_than = {threshold}\n" + score.read_text())
    return path


def spread(values: list[float]) -> list[float]:
    """[min, median, max], rounded: every figure of the report is quoted so."""
    return [round(min(values), 1), round(statistics.median(values), 1), round(max(values), 1)]


def collect(stems_list: list[int], seconds: float, rates: list[int], repeats: int,
            streamed: bool = False, recorder_during: bool = False
            ) -> dict[str, dict[str, object]]:
    """Per stem count and message rate: both engines, interleaved run by run."""
    results: dict[str, dict[str, object]] = {}
    noise = NoiseReference()
    noise.start()
    try:
        with tempfile.TemporaryDirectory() as tmp, jack_server() as jack:
            bench = Bench(jack, XrunMonitor(jack), noise, recorder_during)
            try:
                for stems in stems_list:
                    directory = Path(tmp) / f"s{stems}"
                    directory.mkdir()
                    score = with_streaming(make_stem_score(directory, stems, STEM_SECONDS),
                                           streamed)
                    for rate in rates:
                        key = f"{stems} stems, {rate} msg/s"
                        results[key] = _case(bench, score, directory, stems, seconds, rate,
                                             repeats, streamed)
                        print(json.dumps({key: results[key]}), flush=True)
                    shutil.rmtree(directory)  # 128 one-minute float stems: 2.9 GB
            finally:
                bench.monitor.close()
    finally:
        noise.stop()
    return results


def _case(bench: Bench, score: Path, directory: Path, stems: int, seconds: float, rate: int,
          repeats: int, streamed: bool) -> dict[str, object]:
    runs: dict[str, list[Run]] = {"adaptive": [], "scsynth": []}
    for _ in range(repeats):  # interleaved: the machine drifts, both see it
        runs["adaptive"].append(run_adaptive(bench, score, stems, seconds, rate, streamed))
        runs["scsynth"].append(run_scsynth(bench, directory, stems, seconds, rate, streamed))
    cpu = {k: statistics.median(r.cpu for r in v) for k, v in runs.items()}
    result: dict[str, object] = {
        "stems": stems, "rate": rate, "seconds": seconds, "streamed": streamed,
        "xruns_by": "recorder attached, monitor" if bench.recorder_during else "monitor",
        "cpu_ratio_median": round(cpu["adaptive"] / max(cpu["scsynth"], 1e-9), 2)}
    for engine, engine_runs in runs.items():
        result[f"{engine}_cpu"] = spread([r.cpu for r in engine_runs])
        result[f"{engine}_jack_load"] = spread([r.jack_load for r in engine_runs])
        result[f"{engine}_xruns"] = [r.xruns for r in engine_runs]
        result[f"{engine}_plain_xruns"] = [r.plain_xruns for r in engine_runs]
        result[f"{engine}_read_mb_s"] = [round(r.read_mb_s, 1) for r in engine_runs]
        if bench.recorder_during:
            result[f"{engine}_recorder_xruns"] = [r.recorder_xruns for r in engine_runs]
    if streamed:
        result["adaptive_underruns"] = [r.underruns for r in runs["adaptive"]]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stems", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--streamed", action="store_true",
                        help="every stem from disk: adaptive's disk threads, scsynth's DiskIn")
    parser.add_argument("--recorder-during", action="store_true",
                        help="keep the recorder attached while measuring (the earlier "
                        "instrument), to see what it costs")
    parser.add_argument("--write", action="store_true",
                        help="merge the figures into docs/bench/figures.json (its RAM or "
                        "streamed table) and write docs/bench/report.md again from it")
    parser.add_argument("--server-from", type=Path, metavar="DIR",
                        help="run another checkout's `adaptive serve` (e.g. a git worktree "
                        "of an older commit) on the same workloads and instruments")
    args = parser.parse_args()
    if args.server_from is not None:
        if args.write:
            parser.error("--write records this checkout's figures: not with --server-from")
        os.environ["ADAPTIVE_SERVE_FROM"] = str(args.server_from.resolve())
    results = collect(args.stems, args.seconds, args.rates, args.repeats, args.streamed,
                      args.recorder_during)
    print(json.dumps(results, indent=2))
    if args.write:
        from tests.bench import report

        report.merge_versus(results, args.streamed)


if __name__ == "__main__":
    main()
