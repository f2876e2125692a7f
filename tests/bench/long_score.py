"""A feature-length score: memory, start-up and render speed with streamed stems.

The score of issue 10: 40 sections x 6 stereo stems x 3 min (720 stem-minutes, 8.3 GB of
16-bit WAV), a timeline that plays every section in turn for two hours. Generated once
into a temporary directory (reused while its parameters match), never committed.

Measured, each in a process of its own: `adaptive render` of the two hours (peak RSS,
wall time, x real time, underruns) and `adaptive serve --audio none` (time to "ready",
peak RSS after entering a few sections over OSC). In RAM the same stems would need
720 x 60 x 48,000 x 2 x 8 bytes = 33 GB of tables: not run, the machine has 24 GB.

    python -m tests.bench.long_score [--sections 40] [--minutes 3] [--layers 6]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from adaptive.live.osc import encode_message

RATE = 48000
ROOT = Path(tempfile.gettempdir()) / "adaptive-long-score"


def generate(sections: int, layers: int, minutes: float) -> Path:
    key = {"sections": sections, "layers": layers, "minutes": minutes, "rate": RATE}
    stamp = ROOT / "made.json"
    if stamp.exists() and json.loads(stamp.read_text()) == key:
        return ROOT
    ROOT.mkdir(parents=True, exist_ok=True)
    frames = round(minutes * 60 * RATE)
    rng = np.random.default_rng(7)
    block = (rng.standard_normal((10 * RATE, 2)) * 0.02 * 32767).astype(np.int16)
    started = time.perf_counter()
    lines = ['[score]\nname = "feature"\n']
    bars = round(minutes * 60 / 2)  # 120 BPM, 4/4: 2 s a bar
    for s in range(sections):
        lines.append(f"[sections.s{s:02d}]\ntempo = 120\nbars = {bars}\n")
        for layer in range(layers):
            name = f"s{s:02d}_{layer}.wav"
            path = ROOT / name
            if not path.exists():
                shift = (s * layers + layer) * 977  # every file different
                reps = -(-frames // len(block)) + 1
                data = np.tile(np.roll(block, shift, axis=0), (reps, 1))[:frames]
                soundfile.write(str(path), data, RATE, subtype="PCM_16")
            lines.append(f'[sections.s{s:02d}.layers.l{layer}]\nstem = "{name}"\n')
        print(f"\rstems: section {s + 1}/{sections} ({time.perf_counter() - started:.0f} s)",
              end="", flush=True)
    print()
    lines.append('[[transitions]]\nwhen = "bar"\nfade_out = 2.0\n')
    (ROOT / "score.toml").write_text("\n".join(lines))
    cues = [f'[[cue]]\nat = {s * minutes * 60:.1f}\ncmd = "section"\nname = "s{s:02d}"\n'
            for s in range(sections)]
    (ROOT / "sheet.toml").write_text(f"duration = {sections * minutes * 60:.1f}\n"
                                     + "\n".join(cues))
    stamp.write_text(json.dumps(key))
    return ROOT


def _peak_rss_mb(usage: Any) -> float:
    return float(usage.ru_maxrss) / 1024  # Linux: kilobytes


def measure_render(root: Path) -> dict[str, Any]:
    out = Path(tempfile.gettempdir()) / "adaptive-long-render.wav"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "adaptive.cli", "render",
                                str(root / "score.toml"), "--timeline", str(root / "sheet.toml"),
                                "-o", str(out), "--format", "16"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, PYO_GUI_WX="0"))
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail, line.rstrip()][-5:]
        if line.startswith("rendering"):
            print("\r" + line.strip()[:90], end="", flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    print()
    seconds = time.perf_counter() - started
    size = out.stat().st_size if out.exists() else 0
    out.unlink(missing_ok=True)
    if status != 0:
        raise SystemExit("render failed:\n" + "\n".join(tail))
    return {"wall_s": seconds, "peak_rss_mb": _peak_rss_mb(usage), "output_bytes": size,
            "log": tail}


def measure_serve(root: Path, sections: int) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "adaptive.cli", "serve",
                                str(root / "score.toml"), "--audio", "none", "--osc",
                                f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, PYO_GUI_WX="0", PYTHONUNBUFFERED="1"))
    assert process.stdout is not None
    ready = None
    for line in process.stdout:
        if "ready" in line:
            ready = time.perf_counter() - started
            break
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (1, sections // 2, sections - 1):
        sock.sendto(encode_message("/section", [f"s{s:02d}"]), ("127.0.0.1", port))
        time.sleep(5.0)
    sock.close()
    status = Path(f"/proc/{process.pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines()
               if line.startswith("VmHWM")) / 1024
    process.terminate()
    process.wait(20)
    return {"ready_s": ready, "peak_rss_mb": hwm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=40)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    root = generate(args.sections, args.layers, args.minutes)
    stem_minutes = args.sections * args.layers * args.minutes
    print(f"score: {args.sections} sections x {args.layers} stereo stems x {args.minutes:g} min "
          f"= {stem_minutes:.0f} stem-minutes in {root}")
    serve = measure_serve(root, args.sections)
    print(f"serve: ready after {serve['ready_s']:.2f} s, peak RSS {serve['peak_rss_mb']:.0f} MB")
    render = measure_render(root)
    seconds = args.sections * args.minutes * 60
    print(f"render: {seconds / 3600:.2f} h in {render['wall_s']:.0f} s "
          f"({seconds / render['wall_s']:.1f}x real time), peak RSS "
          f"{render['peak_rss_mb']:.0f} MB")
    ram = stem_minutes * 60 * RATE * 2 * 8 / 1e9
    print(f"the same stems as RAM tables: {ram:.1f} GB")
    figures = {"stem_minutes": stem_minutes, "serve": serve, "render": render,
               "render_speed": seconds / render["wall_s"], "ram_tables_gb": ram}
    Path("docs/bench").mkdir(parents=True, exist_ok=True)
    Path("docs/bench/long_score.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
