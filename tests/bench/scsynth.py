"""The same live workload on adaptive and on SuperCollider's scsynth, interleaved.

Workload: N looping stereo stems, each with a smoothed gain, on `jackd -d dummy` (48 kHz,
256 frames), while a client sends gain changes. adaptive plays a score whose layers' gains
follow one parameter; scsynth plays one PlayBuf loop per stem with a lagged gain set by
`/n_set`. Measured per run: CPU of the engine process (from /proc, 100 % = one core) and
xruns counted by a separate recording JACK client. scsynth is driven without sclang: the
SynthDef binary is written here (SCgf version 2) and loaded with /d_recv.
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
from pathlib import Path

import numpy as np
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.bench.render_speed import make_stem_score
from tests.live.harness import Recorder, free_port, jack_server, serve

TICKS = os.sysconf("SC_CLK_TCK")


def _pstring(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">B", len(data)) + data


def stem_synthdef() -> bytes:
    """SynthDef "stem": Out.ar(0, PlayBuf.ar(2, bufnum, loop: 1) * Lag.kr(amp, 0.05))."""
    constants = [1.0, 0.0, 0.05]
    c = {value: index for index, value in enumerate(constants)}
    kr, ar = 1, 2

    def ugen(name: str, rate: int, inputs: list[tuple[int, int]], outputs: list[int],
             special: int = 0) -> bytes:
        out = _pstring(name) + struct.pack(">biih", rate, len(inputs), len(outputs), special)
        out += b"".join(struct.pack(">ii", u, i) for u, i in inputs)
        return out + b"".join(struct.pack(">b", r) for r in outputs)

    ugens = [
        ugen("Control", kr, [], [kr, kr]),
        ugen("PlayBuf", ar, [(0, 0), (-1, c[1.0]), (-1, c[1.0]), (-1, c[0.0]), (-1, c[1.0]),
                             (-1, c[0.0])], [ar, ar]),
        ugen("Lag", kr, [(0, 1), (-1, c[0.05])], [kr]),
        ugen("BinaryOpUGen", ar, [(1, 0), (2, 0)], [ar], special=2),
        ugen("BinaryOpUGen", ar, [(1, 1), (2, 0)], [ar], special=2),
        ugen("Out", ar, [(-1, c[0.0]), (3, 0), (4, 0)], []),
    ]
    body = _pstring("stem")
    body += struct.pack(">i", len(constants)) + b"".join(struct.pack(">f", v)
                                                           for v in constants)
    body += struct.pack(">i", 2) + struct.pack(">ff", 0.0, 0.1)
    body += struct.pack(">i", 2) + _pstring("bufnum") + struct.pack(">i", 0) + \
        _pstring("amp") + struct.pack(">i", 1)
    body += struct.pack(">i", len(ugens)) + b"".join(ugens) + struct.pack(">h", 0)
    return b"SCgf" + struct.pack(">ih", 2, 1) + body


def _osc(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


Run = tuple[float, int, float]
"""CPU of the engine process (% of one core), xruns, JACK's DSP load (median %)."""


def measure(pid: int, recorder: Recorder, seconds: float, send: Callable[[int], None],
            rate: int) -> Run:
    """CPU, xruns and JACK's `cpu_load` over `seconds`, sending `rate` messages per second.

    Refuses a silent engine: a benchmark of nothing playing would flatter it."""
    recorder.xruns = 0
    start_cpu, start = cpu_seconds(pid), time.perf_counter()
    index = 0
    loads: list[float] = []
    while (elapsed := time.perf_counter() - start) < seconds:
        if len(loads) < elapsed * 4:
            loads.append(recorder.cpu_load())
        if index < elapsed * rate:
            send(index)
            index += 1
        else:
            time.sleep(min(0.5 / rate, 0.05))
    cpu = (cpu_seconds(pid) - start_cpu) / (time.perf_counter() - start) * 100
    heard = recorder.audio()[-recorder.frames // 4:]
    if float(np.sqrt(np.mean(heard.astype(np.float64) ** 2))) < 1e-4:
        raise RuntimeError("the engine under test was silent")
    return cpu, recorder.xruns, float(statistics.median(loads))


def run_adaptive(jack: str, score: Path, stems: int, seconds: float, rate: int) -> Run:
    recorder = Recorder(jack, seconds=seconds + 20)
    recorder.start()
    try:
        with serve(score, jack, ready_timeout=180.0) as served:
            recorder.connect(served.jack_name)
            time.sleep(1.0)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

            def send(index: int) -> None:
                sock.sendto(encode_message("/param/intensity", [(index % 10) / 10]),
                            ("127.0.0.1", served.osc_port))

            result = measure(served.process.pid, recorder, seconds, send, rate)
            sock.close()
            served.stop()
            return result
    finally:
        recorder.stop()


def run_scsynth(jack: str, directory: Path, stems: int, seconds: float,
                rate: int) -> tuple[float, int]:
    binary = shutil.which("scsynth")
    if binary is None:
        raise RuntimeError("scsynth is missing: apt-get install supercollider-server")
    port = free_port()
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack, SC_JACK_DEFAULT_OUTPUTS="",
               SC_JACK_DEFAULT_INPUTS="")
    name = f"sc-{uuid.uuid4().hex[:6]}"
    process = subprocess.Popen([binary, "-u", str(port), "-i", "0", "-o", "2", "-z", "256",
                                "-S", "48000", "-H", name, "-m", "65536"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    recorder = Recorder(jack, seconds=seconds + 30)
    recorder.start()
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

        sock.sendto(_osc("/d_recv", stem_synthdef()), target)
        for index in range(stems):
            sock.sendto(_osc("/b_allocRead", index, str(directory / f"stem{index:03d}.wav"),
                             0, 0), target)
        sync(1)
        for index in range(stems):
            sock.sendto(_osc("/s_new", "stem", 1000 + index, 0, 0, "bufnum", index,
                             "amp", 0.5), target)
        sync(2)
        recorder.connect(name)
        time.sleep(1.0)

        def send(index: int) -> None:
            sock.sendto(_osc("/n_set", 1000 + index % stems, "amp", (index % 10) / 10),
                        target)

        return measure(process.pid, recorder, seconds, send, rate)
    finally:
        sock.close()
        recorder.stop()
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def spread(values: list[float]) -> list[float]:
    """[min, median, max], rounded: every figure of the report is quoted so."""
    return [round(min(values), 1), round(statistics.median(values), 1), round(max(values), 1)]


def collect(stems_list: list[int], seconds: float, rates: list[int],
            repeats: int) -> dict[str, dict[str, object]]:
    """Per stem count and message rate: both engines, interleaved run by run."""
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp, jack_server() as jack:
        for stems in stems_list:
            directory = Path(tmp) / f"s{stems}"
            directory.mkdir()
            score = make_stem_score(directory, stems, 60.0)
            for rate in rates:
                runs: dict[str, list[Run]] = {"adaptive": [], "scsynth": []}
                for _ in range(repeats):  # interleaved: the machine drifts, both see it
                    runs["adaptive"].append(run_adaptive(jack, score, stems, seconds, rate))
                    runs["scsynth"].append(run_scsynth(jack, directory, stems, seconds, rate))
                key = f"{stems} stems, {rate} msg/s"
                cpu = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
                results[key] = {"stems": stems, "rate": rate, "seconds": seconds,
                                "cpu_ratio_median": round(cpu["adaptive"]
                                                          / max(cpu["scsynth"], 1e-9), 2)}
                for engine, engine_runs in runs.items():
                    results[key][f"{engine}_cpu"] = spread([r[0] for r in engine_runs])
                    results[key][f"{engine}_jack_load"] = spread([r[2] for r in engine_runs])
                    results[key][f"{engine}_xruns"] = [r[1] for r in engine_runs]
                print(json.dumps({key: results[key]}), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stems", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(collect(args.stems, args.seconds, args.rates, args.repeats), indent=2))


if __name__ == "__main__":
    main()
