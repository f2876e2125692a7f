"""Offline render speed (× real time) and peak memory, one case per fresh process.

Run by `bin/bench`; prints one line per case. Not part of the test suite: timings belong in
benchmarks, never in assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

SR = 48000


def make_stem_score(directory: Path, stems: int, seconds: float) -> Path:
    """A looping section of `stems` stereo stems, each a distinct sine, with gain curves."""
    tempo, bars = 120.0, math.ceil(seconds / 2.0)
    frames = round(bars * 2.0 * SR) + 16
    t = np.arange(frames) / SR
    lines = ["[parameters.intensity]", "smoothing = 0.5", "[sections.a]",
             f"tempo = {tempo}", f"bars = {bars}"]
    for index in range(stems):
        path = directory / f"stem{index:03d}.wav"
        tone = 0.02 * np.sin(2 * np.pi * (110.0 + 37.0 * index) * t)
        soundfile.write(str(path), np.stack([tone, tone], axis=1).astype(np.float32), SR,
                        subtype="FLOAT")
        low = -30.0 + (index % 7)
        lines += [f"[sections.a.layers.l{index:03d}]", f'stem = "{path.name}"',
                  f"gain = {{ intensity = [[0.0, {low}], [1.0, 0.0]] }}"]
    score = directory / "score.toml"
    score.write_text("\n".join(lines) + "\n")
    return score


def run_case(score: Path, timeline: Path | None, seconds: float) -> dict[str, float]:
    """Render in this process and report speed and peak RSS."""
    from adaptive.commands import parse_command
    from adaptive.render import offline_block, render
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline

    started = time.perf_counter()
    loaded = load_score(score)
    if timeline is not None:
        commands = load_timeline(timeline).at_samples(loaded.sample_rate)
    else:
        commands = [(round(seconds * SR * k / 8), parse_command(
            {"cmd": "param", "name": "intensity", "value": (k % 2) * 1.0})) for k in range(8)]
    # in the block `adaptive render` uses: stems alone at OFFLINE_BLOCK, patches at 256
    result = render(loaded, commands, round(seconds * loaded.sample_rate), keep_audio=False,
                    block=offline_block(loaded))
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "render_speed": result.speed,
            "speed_with_load": seconds / total, "load_s": total - result.seconds,
            "peak_rss_mb": peak_mb}


def collect(stems: list[int], seconds: float, repeats: int = 1
            ) -> dict[str, dict[str, float] | str]:
    """Figures per case (demo, then each stem count), each rendered in a fresh process."""
    from adaptive.cli import demo_paths
    from adaptive.timeline import load_timeline

    cases: list[tuple[str, dict[str, object]]] = []
    demo_score, demo_timeline = demo_paths()
    cases.append(("demo", {"score": str(demo_score), "timeline": str(demo_timeline),
                           "seconds": load_timeline(demo_timeline).duration}))
    results: dict[str, dict[str, float] | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in stems:
            directory = Path(tmp) / f"s{count}"
            directory.mkdir()
            score = make_stem_score(directory, count, seconds)
            cases.append((f"{count} stems", {"score": str(score), "seconds": seconds}))
        for name, spec in cases:
            runs: list[dict[str, float]] = []
            for _ in range(repeats):
                out = subprocess.run([sys.executable, "-m", "tests.bench.render_speed",
                                      "--case", json.dumps(spec)], capture_output=True,
                                     text=True, check=False)
                if out.returncode != 0:
                    results[name] = "failed: " + (out.stderr.strip().splitlines()
                                                  or ["?"])[-1]
                    break
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if runs and name not in results:
                # medians, and the spread of the speed over the runs
                figures = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                speeds = [r["render_speed"] for r in runs]
                figures["render_speed_min"] = min(speeds)
                figures["render_speed_max"] = max(speeds)
                results[name] = figures
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--stems", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.case:
        spec = json.loads(args.case)
        timeline = Path(spec["timeline"]) if spec.get("timeline") else None
        print(json.dumps(run_case(Path(spec["score"]), timeline, spec["seconds"])))
        return
    print(f"{'case':<12} {'audio s':>8} {'render ×RT':>11} {'incl. load ×RT':>15} "
          f"{'load s':>7} {'peak RSS MB':>12}")
    for name, figures in collect(args.stems, args.seconds).items():
        if isinstance(figures, str):
            print(f"{name:<12} {figures}")
            continue
        print(f"{name:<12} {figures['seconds']:>8.1f} {figures['render_speed']:>11.1f} "
              f"{figures['speed_with_load']:>15.1f} {figures['load_s']:>7.2f} "
              f"{figures['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
