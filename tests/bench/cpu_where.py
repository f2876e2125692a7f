"""Where the live server's CPU goes: per thread, and against a plain pyo client's floor.

`threads`: `adaptive serve` on the 128-stem workload of `bin/bench scsynth` (the same score,
the same `/param/intensity` messages at an even rate), and each of the server's threads'
CPU over the measured seconds, from /proc (100 % = one core). The names say what each
is: adaptive-audio (the first is pyo's JACK callback, a second one with `--streamed`
is the disk thread), adaptive-osc, out-writer (the show log), adaptive-tick.

`floor`: a plain pyo JACK client with the same readers (N stereo `TableIndex` on rings,
each with a gain), summed by a `Mix` or by chaining their `add` as the server's voices
do: what pyo itself costs for the graph, with no Python around it.

    python -m tests.bench.cpu_where threads [--stems 128] [--rate 1000] [--streamed]
    python -m tests.bench.cpu_where floor [--stems 128] [--mix]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from adaptive.live.osc import encode_message
from tests.bench.scsynth import STEM_SECONDS, cpu_seconds, make_stem_score, with_streaming
from tests.live.harness import jack_server, serve

TICK = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[str, int]:
    """CPU ticks (user + system) of each thread of `pid`, by "tid name"."""
    ticks: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        ticks[f"{task.name} {name}"] = int(fields[11]) + int(fields[12])
    return ticks


def threads(stems: int, rate: int, streamed: bool, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, jack_server() as jack:
        score = with_streaming(make_stem_score(Path(tmp), stems, STEM_SECONDS), streamed)
        with serve(score, jack, ready_timeout=180.0) as served:
            time.sleep(2.0)
            pid = served.process.pid
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            messages = [encode_message("/param/intensity", [k / 10]) for k in range(10)]
            before, cpu_before = thread_ticks(pid), cpu_seconds(pid)
            start, sent = time.perf_counter(), 0
            while (elapsed := time.perf_counter() - start) < seconds:
                if sent < elapsed * rate:
                    sock.sendto(messages[sent % 10], ("127.0.0.1", served.osc_port))
                    sent += 1
                else:
                    time.sleep(min(0.5 / rate, 0.05))
            took = time.perf_counter() - start
            after = thread_ticks(pid)
            total = (cpu_seconds(pid) - cpu_before) / took * 100
            print(f"{stems} {'streamed' if streamed else 'RAM'} stems, {rate} msg/s "
                  f"({sent} sent in {took:.1f} s): the server {total:.1f} % of a core")
            shares = {name: (after[name] - before.get(name, 0)) / TICK / took * 100
                      for name in after}
            for name, share in sorted(shares.items(), key=lambda kv: -kv[1]):
                if share >= 0.05:
                    print(f"  {name:28s} {share:5.1f} %")
            sock.close()
            served.stop()


def floor(stems: int, mix: bool, seconds: float) -> None:
    name = f"floor-{uuid.uuid4().hex[:6]}"
    jackd = subprocess.Popen(["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ.setdefault("PYO_GUI_WX", "0")
        import gc

        import numpy as np
        import pyo64 as pyo

        server = pyo.Server(sr=48000, nchnls=2, buffersize=256, audio="jack", duplex=0,
                            jackname="floor")
        server.setJackAuto(False, False)
        server.deactivateMidi()
        server.boot()
        rng = np.random.default_rng(1)
        tables = []
        for _ in range(stems):
            table = pyo.DataTable(size=1 << 16, chnls=2)
            for channel in range(2):
                view = np.frombuffer(table.getBuffer(channel), dtype=np.float64)
                view[:] = rng.random(1 << 16) * 0.01
            tables.append(table)
        index = pyo.Wrap(pyo.Count(pyo.Trig()), 0.0, float(1 << 16))
        gains = [pyo.Sig(0.5) for _ in range(7)]
        readers: list[object] = []
        total: object = 0.0
        for k, table in enumerate(tables):
            reader = pyo.TableIndex(table, [index, index], mul=gains[k % 7],
                                    add=0.0 if mix else total)
            readers.append(reader)
            total = reader
        out = pyo.Mix(readers, voices=2) if mix else total
        out.out()  # type: ignore[attr-defined]
        gc.freeze()
        server.start()
        time.sleep(2.0)
        times = os.times()
        used, start = times.user + times.system, time.perf_counter()
        time.sleep(seconds)
        times = os.times()
        share = (times.user + times.system - used) / (time.perf_counter() - start) * 100
        print(f"plain pyo, {stems} stereo readers, {'Mix' if mix else 'chained'}: "
              f"{share:.1f} % of a core")
        server.stop()
        server.shutdown()
    finally:
        jackd.terminate()
        jackd.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["threads", "floor"])
    parser.add_argument("--stems", type=int, default=128)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--streamed", action="store_true")
    parser.add_argument("--mix", action="store_true", help="floor: sum with a Mix")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.what == "threads":
        threads(args.stems, max(1, args.rate), args.streamed, args.seconds)
    else:
        floor(args.stems, args.mix, args.seconds)


if __name__ == "__main__":
    main()
