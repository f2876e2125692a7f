"""SuperCollider's scsynth in non-real-time mode on the job of our offline renderer.

Job (as in `render_speed.run_case`): N looping stereo stems, each with a smoothed gain, mixed
to stereo for `seconds`, gains flipped between two values 8 times, evenly spaced. scsynth
renders a score of OSC bundles (`scsynth -N`) with the "stem" SynthDef of `scsynth.py`.
Measured per stem count, each run a fresh scsynth process, best of 3: wall time of the whole
command (load included), the same for a 0.1 s version of the score (the load), and the peak
RSS of that child. The output is checked (length, not silent, no NaN): a benchmark of nothing would
flatter scsynth. Not a test: never collected by pytest, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
from pythonosc.osc_message_builder import OscMessageBuilder

from tests.bench.render_speed import SR, make_stem_score
from tests.bench.scsynth import stem_synthdef

BLOCK = 64  # scsynth's default control block: the render may end up to one block late
LOAD_SECONDS = 0.1


def _message(address: str, *args: str | bytes | int | float) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


def _bundle(seconds: float, messages: list[bytes]) -> bytes:
    """An NRT score entry: int32 length, then a bundle timed from 0 (NTP 32.32, no epoch)."""
    body = b"#bundle\0" + struct.pack(">Q", round(seconds * 2**32))
    body += b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return struct.pack(">i", len(body)) + body


def write_score(path: Path, directory: Path, stems: int, seconds: float, changes: int) -> None:
    """Load the SynthDef and stems, start one synth per stem, `changes` gain flips, then end."""
    entries = [_bundle(0.0, [_message("/d_recv", stem_synthdef())])]
    entries += [_bundle(0.0, [_message("/b_allocRead", i, str(directory / f"stem{i:03d}.wav"),
                                       0, 0)]) for i in range(stems)]
    entries.append(_bundle(0.0, [_message("/s_new", "stem", 1000 + i, 0, 0, "bufnum", i,
                                          "amp", 0.5) for i in range(stems)]))
    for k in range(changes):
        amp = 0.5 if k % 2 else 0.05
        entries.append(_bundle(seconds * k / 8, [_message("/n_set", 1000 + i, "amp", amp)
                                                 for i in range(stems)]))
    entries.append(_bundle(seconds, [_message("/c_set", 0, 0)]))
    path.write_bytes(b"".join(entries))


def command(binary: str, score: Path, out: Path, stems: int) -> list[str]:
    return [binary, "-N", str(score), "_", str(out), str(SR), "WAV", "float",
            "-o", "2", "-i", "0", "-b", str(max(1024, stems)), "-n", str(max(1024, 2 * stems)),
            "-D", "0"]


def render(binary: str, score: Path, out: Path, stems: int, seconds: float,
           log: Path) -> tuple[float, float]:
    """Run scsynth once, check its output; wall seconds and peak RSS (MB) of that child."""
    with log.open("w") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command(binary, score, out, stems), stdout=sink,
                                   stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)  # rusage of this child alone
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"scsynth failed ({process.returncode}): {tail}")
    audio, rate = soundfile.read(str(out), dtype="float32", always_2d=True)
    expected = round(seconds * SR)
    if rate != SR or audio.shape[1] != 2 or abs(len(audio) - expected) > BLOCK:
        raise RuntimeError(f"scsynth wrote {audio.shape} at {rate} Hz, wanted {expected} frames")
    if not np.isfinite(audio).all():
        raise RuntimeError("scsynth wrote NaN or inf")
    if float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) < 1e-4:
        raise RuntimeError(f"scsynth rendered silence: {tail}")
    return wall, usage.ru_maxrss / 1024


def collect(stems: list[int], seconds: float, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Figures per stem count, best wall time of `repeats`: whole-command speed, load time
    (the 0.1 s score), render time without it (absent when lost in the noise), peak RSS."""
    binary = shutil.which("scsynth")
    if binary is None:
        raise RuntimeError("scsynth is missing: apt-get install supercollider-server")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in stems:
            directory = Path(tmp) / f"s{count}"
            directory.mkdir()
            make_stem_score(directory, count, seconds)
            full, short = directory / "full.osc", directory / "load.osc"
            write_score(full, directory, count, seconds, changes=8)
            write_score(short, directory, count, LOAD_SECONDS, changes=0)
            log = directory / "scsynth.log"
            loads = [render(binary, short, directory / "load.wav", count, LOAD_SECONDS, log)
                     for _ in range(repeats)]
            runs = [render(binary, full, directory / "out.wav", count, seconds, log)
                    for _ in range(repeats)]
            wall, load = min(w for w, _ in runs), min(w for w, _ in loads)
            figures = {"seconds": seconds, "render_speed": seconds / wall, "wall_s": wall,
                       "load_s": load, "peak_rss_mb": max(p for _, p in runs)}
            if wall > load:
                figures["speed_without_load"] = seconds / (wall - load)
            results[str(count)] = figures
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stems", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(collect(args.stems, args.seconds, args.repeats), indent=2))


if __name__ == "__main__":
    main()
