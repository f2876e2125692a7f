"""`bin/bench` (and `bin/bench --quick`): every benchmark, then a Markdown report with plots.

Writes docs/bench/report.md and PNGs beside it: the machine and versions, the commands,
each figure, and the targets with how far they are. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.bench import (
    live_latency,
    live_onsets,
    onsets,
    render_speed,
    scsynth,
    scsynth_nrt,
    state_at,
)

OUT = Path("docs/bench")
"""The committed report of a full run; a quick run writes to OUT/quick (not committed), so
a smoke check never overwrites the figures the README quotes."""
PERIOD = 256  # frames per JACK period in every live benchmark


def _version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": f"{cpu} ({os.cpu_count()} cores)", "python": platform.python_version(),
            "pyo": metadata.version("pyo"), "jackd": _version(["jackd", "--version"]),
            "scsynth": _version(["scsynth", "-v"]),
            "mosquitto": _version(["mosquitto", "-h"]), "date": time.strftime("%Y-%m-%d")}


def plots(latency: dict[str, Any], versus: dict[str, Any], renders: dict[str, Any],
          nrt: dict[str, Any], streamed: dict[str, Any] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    raw = latency["raw_ms"]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=110, sharey=True)
    bins = [i * 0.25 for i in range(0, 45)]
    for axis, protocol in zip(axes, ("OSC", "MQTT"), strict=True):
        for key, values in raw.items():
            if key.startswith(protocol + " "):
                axis.hist([min(v, 11.0) for v in values], bins=bins, alpha=0.45, label=key)
        axis.axvline(latency["period_ms"], color="k", linestyle="--", label="one period")
        axis.set_xlabel(f"{protocol} → audio latency (ms; >11 ms drawn at 11)")
        axis.legend(fontsize=7)
    axes[0].set_ylabel("trials")
    figure.suptitle("Control latency, measured outside the server (JACK frame time)")
    figure.tight_layout()
    figure.savefig(OUT / "latency.png")
    plt.close(figure)

    if versus or streamed:
        figure, axis = plt.subplots(figsize=(8, 4), dpi=110)
        ticks: set[int] = set()
        colours = {"adaptive": "tab:blue", "scsynth": "tab:orange"}
        for table, kind, marker in ((versus, "RAM", "o"), (streamed or {}, "streamed", "^")):
            for rate in sorted({f["rate"] for f in table.values()}):
                rows = sorted((f for f in table.values() if f["rate"] == rate),
                              key=lambda f: f["stems"])
                counts = [f["stems"] for f in rows]
                ticks.update(counts)
                line = {"RAM": "-", "streamed": ":"}[kind]
                for engine in ("adaptive", "scsynth"):
                    axis.plot(counts, [f[f"{engine}_cpu"][1] for f in rows],
                              line + marker, color=colours[engine],
                              alpha=1.0 if rate == 1000 else 0.55,
                              label=f"{engine}, {kind}, {rate} msg/s")
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted(ticks), [str(c) for c in sorted(ticks)])
        axis.set_xlabel("stereo stems")
        axis.set_ylabel("CPU, median (% of one core)")
        axis.legend(fontsize=8)
        axis.set_title("Live DSP load: adaptive vs scsynth, same workload, interleaved")
        figure.tight_layout()
        figure.savefig(OUT / "cpu_vs_stems.png")
        plt.close(figure)

    names = [n for n, f in renders.items() if isinstance(f, dict)]
    figure, axis = plt.subplots(figsize=(8, 4), dpi=110)
    positions = list(range(len(names)))
    # like with like: the whole job (load and render) for both, and adaptive's render alone
    axis.bar([p - 0.27 for p in positions], [renders[n]["render_speed"] for n in names],
             width=0.27, label="adaptive, once loaded", color="#9ecae1")
    axis.bar(positions, [renders[n]["speed_with_load"] for n in names], width=0.27,
             label="adaptive (with load)", color="#1f77b4")
    axis.bar([p + 0.27 for p in positions],
             [nrt.get(n.split()[0], {}).get("render_speed", 0) for n in names], width=0.27,
             label="scsynth -N (with load)", color="#ff7f0e")
    axis.set_xticks(positions, names)
    axis.axhline(40, color="k", linestyle="--", label="target at 32 stems")
    axis.set_ylabel("× real time")
    axis.set_title("Offline render speed")
    axis.legend()
    figure.tight_layout()
    figure.savefig(OUT / "render_speed.png")
    plt.close(figure)


def _spread(values: list[float], unit: str = "") -> str:
    low, middle, high = values
    return f"**{middle:.1f}**{unit} ({low:.1f}–{high:.1f})"


def _meets(value: float, target: float, lower_is_better: bool = True) -> str:
    ok = value <= target if lower_is_better else value >= target
    if ok:
        return "met"
    if value <= 0:
        return "missed"
    ratio = value / target if lower_is_better else target / max(value, 1e-9)
    return f"missed by {ratio:.2f}×"


PARTS = ("render", "nrt", "onsets", "live_onsets", "latency", "scsynth", "scsynth_streamed",
         "state")
STREAMED_STEMS = [32, 128]  # issue 10: streamed stems live beside scsynth's DiskIn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a smoke check in minutes")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per live CPU workload (60 s each) and per render")
    parser.add_argument("--redo", nargs="+", choices=PARTS, default=[],
                        help="measure only these parts again; the rest comes from the "
                        "previous run's docs/bench/figures.json")
    args = parser.parse_args()
    quick = args.quick
    global OUT
    if quick:
        OUT = OUT / "quick"
    OUT.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    if args.redo:
        previous = json.loads((OUT / "figures.json").read_text())
        if previous.get("quick", False) != quick:
            raise SystemExit("--redo mixes a quick run with a full one")
    started = time.perf_counter()
    stems = [8, 32] if quick else [8, 32, 128]
    have_scsynth = shutil.which("scsynth") is not None
    repeats = 1 if quick else args.repeats
    render_seconds = 10.0 if quick else 60.0

    def part(name: str, key: str, measure: Any) -> Any:
        if args.redo and name not in args.redo and key in previous:
            return previous[key]
        print(f"== {name}", flush=True)
        return measure()

    renders = part("render", "renders",
                   lambda: render_speed.collect(stems, render_seconds, repeats))
    nrt = part("nrt", "scsynth_nrt", lambda: scsynth_nrt.collect(
        stems, render_seconds, repeats) if have_scsynth else {})
    onset_rows = part("onsets", "onsets", onsets.collect)
    live_rows = part("live_onsets", "live_onsets", lambda: live_onsets.collect(
        8.0 if quick else 20.0, 1 if quick else 3))
    if quick:
        latency = part("latency", "latency", lambda: live_latency.collect(
            30, [1], 1000, [5000, 10000], [1000, 2000], 2.0, 1))
    else:
        latency = part("latency", "latency", lambda: live_latency.collect(
            200, [1, 32, 128], 1000, [1000, 2000, 5000, 10000, 20000],
            [500, 1000, 2000, 5000, 10000], 5.0, 32))
    versus = part("scsynth", "versus_scsynth", lambda: scsynth.collect(
        stems, 8.0 if quick else 60.0, [100] if quick else [100, 1000], repeats)
        if have_scsynth else {})
    streamed = part("scsynth_streamed", "versus_scsynth_streamed", lambda: scsynth.collect(
        [8] if quick else STREAMED_STEMS, 8.0 if quick else 60.0,
        [100] if quick else [100, 1000], repeats, streamed=True) if have_scsynth else {})
    state = part("state", "state_at", state_at.collect)
    elapsed = time.perf_counter() - started
    how = f"Written by `bin/bench{' --quick' if quick else ''}`"
    if args.redo:
        how = (f"{', '.join(args.redo)} measured again by `bin/bench --redo "
               f"{' '.join(args.redo)}` in {elapsed / 60:.1f} min; the rest from the run before "
               f"({previous.get('how', '?')})")
    else:
        how += f" in {elapsed / 60:.1f} min"
    write_outputs({"quick": quick, "how": how, "renders": renders, "scsynth_nrt": nrt,
                   "onsets": onset_rows, "live_onsets": live_rows, "latency": latency,
                   "versus_scsynth": versus, "versus_scsynth_streamed": streamed,
                   "state_at": state})


def write_outputs(figures: dict[str, Any]) -> None:
    """The plots, report.md and figures.json, all from `figures`."""
    streamed = figures.get("versus_scsynth_streamed", {})
    plots(figures["latency"], figures["versus_scsynth"], figures["renders"],
          figures["scsynth_nrt"], streamed)
    (OUT / "report.md").write_text("\n".join(write_report(
        figures["quick"], figures["how"], figures["renders"], figures["scsynth_nrt"],
        figures["onsets"], figures["live_onsets"], figures["latency"],
        figures["versus_scsynth"], figures["state_at"], streamed)) + "\n")
    (OUT / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"wrote {OUT / 'report.md'}: {figures['how']}")


def merge_versus(results: dict[str, Any], streamed: bool) -> None:
    """Cases measured by `python -m tests.bench.scsynth ... --write` into the full report's
    figures (a case of the same stems and rate is replaced, the others kept), then the
    report written again: a few cases measured again without the rest."""
    figures = json.loads((OUT / "figures.json").read_text())
    key = "versus_scsynth_streamed" if streamed else "versus_scsynth"
    figures.setdefault(key, {}).update(results)
    command = "python -m tests.bench.scsynth " + " ".join(sys.argv[1:])
    figures["how"] = (f"live vs scsynth, {'streamed' if streamed else 'RAM'}, "
                      f"{len(results)} cases measured again by `{command}` on "
                      f"{time.strftime('%Y-%m-%d')}; " + figures.get("how", "?"))
    write_outputs(figures)


def write_report(quick: bool, how: str, renders: dict[str, Any], nrt: dict[str, Any],
                 onset_rows: list[dict[str, Any]], live_rows: list[dict[str, Any]],
                 latency: dict[str, Any], versus: dict[str, Any],
                 state: dict[str, Any], streamed: dict[str, Any] | None = None) -> list[str]:
    streamed = streamed or {}
    worst = max(abs(float(r["error"])) for r in onset_rows)
    live_worst = max((abs(float(r["worst_error_samples"])) for r in live_rows
                      if r["reliable"]), default=float("nan"))
    lines = [f"# Benchmarks{' (quick)' if quick else ''}", "",
             f"{how}. JACK: `jackd -d dummy -r 48000 -p 256` (one period = 5.33 ms). "
             "Figures are min–max with the **median**; the two engines are run interleaved. "
             "`docs/bench/figures.json` has every number.",
             "", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine().items()]

    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    lat = latency["latency"]
    for protocol, target in (("OSC", 5.5), ("MQTT", 7.0)):
        for key, f in lat.items():
            if f["protocol"] == protocol.lower():
                lines.append(f"| {protocol} → audio p99 ≤ {target} ms, {key} | "
                             f"{f['p99_ms']:.2f} ms ({f['p99_over_period']:.2f} periods) | "
                             f"{_meets(f['p99_ms'], target)} |")
    streamed_latency = _read("latency_streamed.json")  # `bin/bench latency --streamed`
    if streamed_latency is not None:
        for key, f in streamed_latency["latency"].items():
            if f["protocol"] == "osc":
                over = (f["p99_ms"] - 5.5) * RATE_KHZ  # samples: what the latency is read in
                verdict = _meets(f["p99_ms"], 5.5) if not 0 < over < 1 else \
                    f"at the target ({over:.2f} of a sample over)"
                lines.append(f"| OSC → audio p99 ≤ 5.5 ms, {key} streamed, {f['trials']} "
                             f"trials | {f['p99_ms']:.3f} ms ({f['p99_ms'] * RATE_KHZ:.2f} "
                             f"samples), {f['xruns']} xruns | {verdict} |")
    for table, kind in ((versus, "RAM"), (streamed, "streamed")):
        lines += _versus_targets(table, kind)
    if isinstance(renders.get("32 stems"), dict):
        speed = renders["32 stems"]["render_speed"]
        lines.append(f"| offline ≥ 40× real time at 32 stems | {speed:.1f}× | "
                     f"{_meets(speed, 40.0, lower_is_better=False)} |")
    lines.append(f"| state_at ≤ 100 ms, {state['hours']:.0f} h timeline of {state['cues']} cues "
                 f"(`bin/bench state`) | {state['max_ms']:.1f} ms worst, "
                 f"{state['median_ms']:.1f} ms median | {_meets(state['max_ms'], 100.0)} |")
    for protocol, target in (("osc", 10000), ("mqtt", 2000)):
        highest = live_latency.highest_clean(latency[f"{protocol}_flood"])
        lines.append(f"| sustained ≥ {target} {protocol.upper()} msg/s, 0 xruns | {highest} "
                     f"msg/s | {_meets(highest, target, lower_is_better=False)} |")

    lines += ["", "## Offline render speed (`bin/bench render`, scsynth: "
              "`tests/bench/scsynth_nrt.py`)", "",
              "Same job for both: N looping stereo stems (float WAV, 48 kHz), a gain per stem "
              "changed 8 times. adaptive: `render` in a fresh process (load excluded, then "
              "included); scsynth: `scsynth -N` (whole command, load included).", "",
              "| case | audio s | adaptive × RT | adaptive incl. load | adaptive peak RSS MB | "
              "scsynth -N × RT | scsynth peak RSS MB |", "|---|---|---|---|---|---|---|"]
    for name, f in renders.items():
        if not isinstance(f, dict):
            lines.append(f"| {name} | {f} | | | | | |")
            continue
        other = nrt.get(name.split()[0], {}) if name != "demo" else {}
        lines.append(f"| {name} | {f['seconds']:.0f} | **{f['render_speed']:.1f}** "
                     f"({f['render_speed_min']:.1f}–{f['render_speed_max']:.1f}) | "
                     f"{f['speed_with_load']:.1f} | {f['peak_rss_mb']:.0f} | "
                     f"{other.get('render_speed', float('nan')):.1f} | "
                     f"{other.get('peak_rss_mb', float('nan')):.0f} |")
    lines += ["", "![render speed](render_speed.png)", ""]

    lines += ["## Transition accuracy (`bin/bench onsets`, `tests/bench/live_onsets.py`)", "",
              f"Offline: worst error over {len(onset_rows)} transitions and stingers at "
              f"fractional tempi and odd meters: **{worst:.3f} samples** (an event sounds on "
              "ceil(ideal), so errors lie in [0, 1)).", "",
              f"Live, recorded through JACK and compared with the bar/beat grid from the "
              f"server's first downbeat: worst **{live_worst:.3f} samples** over the "
              "cases without xruns. An xrun that costs the recorder a period shifts every "
              "later onset by whole periods (256 samples), so such a case shows itself; "
              "the next column removes whole periods, leaving the engine's placement "
              "error. `reliable` is false when any xrun was reported after the first "
              "downbeat.", "",
              "| tempo | meter | kind | onsets | worst | worst, whole periods removed | "
              "median | xruns | reliable |", "|---|---|---|---|---|---|---|---|---|"]
    for r in live_rows:
        worst_error = float(r["worst_error_samples"])
        within = (worst_error + PERIOD / 2) % PERIOD - PERIOD / 2
        lines.append(f"| {r['tempo']} | {r['meter']} | {r['kind']} | {r['onsets']} | "
                     f"{worst_error:+.3f} | {within:+.3f} | "
                     f"{float(r['median_error_samples']):+.3f} | {r['xruns']} | "
                     f"{r['reliable']} |")

    lines += ["", "## Control latency (`bin/bench latency`)", "",
              "A separate JACK client records the output and reads JACK's frame time just "
              "before each message; latency = first changed output frame − that frame, found "
              "on the 12 kHz tone's second difference (blind to the background stems), with "
              "the recorder's per-block JACK frame times so a period it loses to an xrun does "
              "not shift the rest (`unmeasured`: trials whose frames it lost). "
              "Background traffic: a second process sending `intensity` changes over the "
              "same protocol to 1–127 quiet background stems. The bench's broker runs with "
              "`set_tcp_nodelay true` (see below).", "",
              "| path | trials | p50 ms | p99 ms | max ms | p99 / period | xruns | "
              "unmeasured |", "|---|---|---|---|---|---|---|---|"]
    for key, f in lat.items():
        lines.append(f"| {key} | {f['trials']} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | "
                     f"{f['max_ms']:.2f} | {f['p99_over_period']:.2f} | {f['xruns']} | "
                     f"{f.get('unmeasured', '?')} |")
    lines += ["", "![latency](latency.png)", "",
              f"## Throughput (one sender, `/param` at {latency['flood_stems']} stems)", "",
              "| protocol | msg/s asked | msg/s sent | xruns | last value playing |",
              "|---|---|---|---|---|"]
    for protocol in ("osc", "mqtt"):
        for rate, f in latency[f"{protocol}_flood"].items():
            lines.append(f"| {protocol.upper()} | {rate} | {f['sent_per_s']} | {f['xruns']} | "
                         f"{f['final_value_playing']} |")
    lines += ["", "Highest rate that ran with 0 xruns and its last value playing: OSC "
              f"**{live_latency.highest_clean(latency['osc_flood'])}** msg/s, MQTT "
              f"**{live_latency.highest_clean(latency['mqtt_flood'])}** msg/s. Lower rates "
              "with a few xruns are this VM's sporadic ones (scsynth had 3-46 per 60 s in "
              "the CPU runs below), not load: the rate doubles and the count does not.", ""]

    lines += ["## Live DSP load, adaptive vs scsynth (`bin/bench scsynth`)", "",
              "N looping stereo stems (60 s float WAV) with a smoothed gain each; adaptive "
              "plays a score whose gains follow a parameter, scsynth one loop per stem with a "
              "`Lag`ged gain set by `/n_set`. CPU: the engine process (100 % = one core); "
              "JACK load: JACK's `cpu_load()`. xruns: counted by a JACK client with an xrun "
              "callback and no process callback (not in the graph), with the recorder that "
              "checks the engine is sounding attached only just before and after the "
              "measured seconds; earlier rows (no plain-client column) were counted by that "
              "recorder, attached throughout. *plain*: the xruns of a plain pyo client (one "
              "sine) on a JACK server of its own in the same seconds, the machine's share "
              "(`tests/live/harness.py` `NoiseReference`).", ""]
    if versus or streamed:
        for table, kind, how_read in (
                (versus, "In RAM", "scsynth: `PlayBuf` on a buffer read whole "
                 "(`/b_allocRead`); adaptive: the stems as tables."),
                (streamed, "Streamed from disk (`bin/bench --redo scsynth_streamed`)",
                 "The same files, every one streamed: adaptive with `[score] "
                 "stream_longer_than = 0.0` (its disk threads, past a resident head of "
                 "1.37 s); scsynth with `DiskIn.ar(2, bufnum, loop: 1)` on a cue buffer of "
                 "65,536 frames left open (`/b_alloc`, `/b_read ... 0 65536 0 1`). *read*: "
                 "MB/s the engine process read (`rchar` in /proc; a stereo float stem is "
                 "0.38 MB/s), *underruns*: adaptive's layers faded out for a late disk.")):
            if table:
                lines += [f"### {kind}", "", how_read, "", *_versus_table(table), ""]
        lines += ["![cpu](cpu_vs_stems.png)"]
    else:
        lines.append("scsynth is not installed (`bin/bench` installs supercollider-server).")
    lines += _feature_length()
    lines += ["", "## What limits the figures", "", NOTES]
    return lines


def _read(name: str) -> dict[str, Any] | None:
    path = OUT / name
    return json.loads(path.read_text()) if path.exists() else None


RATE_KHZ = 48.0  # samples per millisecond at the bench's 48 kHz
FRAME_MS = 1000 / 24
"""One video frame at 24 fps: the seek target (issue 10)."""


def _feature_length() -> list[str]:
    """The two-hour score and the seek into streamed stems, from the files their own
    benches write (`bin/bench long`, `bin/bench seek [--cold]`), with a plot."""
    long, warm, cold = (_read("long_score.json"), _read("seek_32.json"),
                        _read("seek_32_cold.json"))
    if long is None and warm is None:
        return []
    lines = ["", "## Feature-length scores (`bin/bench long`, `bin/bench seek`)", ""]
    if long is not None:
        lines += [
            f"A generated two-hour score: 40 sections × 6 stereo stems × 3 min "
            f"({long['stem_minutes']:.0f} stem-minutes, every stem streamed). In RAM tables "
            f"it would need {long['ram_tables_gb']:.1f} GB (pyo's float64 tables) before "
            "the first note.", "",
            "| | peak RSS | time |", "|---|---|---|",
            f"| `adaptive serve` (ready) | {long['serve']['peak_rss_mb']:.0f} MB | "
            f"{long['serve']['ready_s']:.1f} s to ready (target < 5 s) |",
            f"| `adaptive render`, the whole 2 h | {long['render']['peak_rss_mb']:.0f} MB | "
            f"{long['render']['wall_s']:.0f} s: **{long['render_speed']:.1f}×** real time "
            "(target ≥ 40×) |", ""]
    for figures, kind in ((warm, "warm page cache"), (cold, "page cache dropped before "
                                                         "each jump")):
        if figures is None:
            continue
        settle = figures["settle_ms"]
        lines += [f"Seek into {figures['stems']} streamed stems, {kind}: from the player's "
                  f"report to every stem sounding at its new position, worst "
                  f"**{figures['worst_ms']:.0f} ms**, median {figures['median_ms']:.0f} ms "
                  f"over {len(settle)} reports (target: one frame, {FRAME_MS:.1f} ms); "
                  f"{figures['missed']} missed; xruns {figures['xruns']} (plain client "
                  f"{figures['plain_client_xruns']}); {'; '.join(figures['replay'])}.", ""]
    if warm is not None:
        _plot_seek(warm, cold)
        lines += ["The floor: the seek is placed ahead of the report (the logged \"placed "
                  "... ms ahead\" above) and cross-fades over 20 ms, in which the mix is not "
                  "yet whole; with the page cache dropped, the first reads of each stem come "
                  "from the disk.", "", "![seek](seek.png)"]
    return lines


def _plot_seek(warm: dict[str, Any], cold: dict[str, Any] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 3.5), dpi=110)
    names = list(warm["settle_ms"])
    positions = list(range(len(names)))
    axis.bar([p - 0.2 for p in positions], [warm["settle_ms"][n] for n in names],
             width=0.4, label="warm page cache")
    if cold is not None:
        axis.bar([p + 0.2 for p in positions], [cold["settle_ms"].get(n, 0) for n in names],
                 width=0.4, label="page cache dropped")
    axis.axhline(FRAME_MS, color="k", linestyle="--", label="one frame at 24 fps")
    axis.set_xticks(positions, names, fontsize=8)
    axis.set_ylabel("report → every stem sounding (ms)")
    axis.set_title(f"Seek into {warm['stems']} streamed stems, live")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(OUT / "seek.png")
    plt.close(figure)


def _versus_targets(table: dict[str, Any], kind: str) -> list[str]:
    """The CPU and xrun targets at the table's largest stem count."""
    lines = []
    for key, f in table.items():
        if f["stems"] != max(v["stems"] for v in table.values()):
            continue
        lines.append(f"| CPU ≤ 1.0× scsynth, {kind}, {key} | {f['cpu_ratio_median']:.2f}× | "
                     f"{_meets(f['cpu_ratio_median'], 1.0)} |")
        xruns = max(f["adaptive_xruns"])
        plain = (f"; plain client {f['adaptive_plain_xruns']}"
                 if "adaptive_plain_xruns" in f else "")
        lines.append(f"| 0 xruns, {kind}, {key}, {f['seconds']:.0f} s | adaptive "
                     f"{f['adaptive_xruns']}, scsynth {f['scsynth_xruns']}{plain} | "
                     f"{'met' if xruns == 0 else 'missed'} |")
    return lines


def _versus_table(table: dict[str, Any]) -> list[str]:
    """One row per workload: CPU, JACK load, xruns with the plain client's beside them."""
    streamed = any(f.get("streamed") for f in table.values())
    head = ("| workload | s | adaptive CPU % | scsynth CPU % | ratio | adaptive JACK load % | "
            "scsynth JACK load % | adaptive xruns (plain) | scsynth xruns (plain) |")
    if streamed:
        head += " read MB/s adaptive, scsynth | adaptive underruns |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]

    def xruns(f: dict[str, Any], engine: str) -> str:
        plain = f.get(f"{engine}_plain_xruns")
        return f"{f[f'{engine}_xruns']}" + (f" ({plain})" if plain is not None else "")

    for key, f in table.items():
        row = (f"| {key} | {f['seconds']:.0f} | {_spread(f['adaptive_cpu'])} | "
               f"{_spread(f['scsynth_cpu'])} | **{f['cpu_ratio_median']:.2f}×** | "
               f"{_spread(f['adaptive_jack_load'])} | {_spread(f['scsynth_jack_load'])} | "
               f"{xruns(f, 'adaptive')} | {xruns(f, 'scsynth')} |")
        if streamed:
            row += (f" {f.get('adaptive_read_mb_s', '?')}, {f.get('scsynth_read_mb_s', '?')} | "
                    f"{f.get('adaptive_underruns', '?')} |")
        lines.append(row)
    return lines


NOTES = """\
- **The instrument, checked.** The recorder that checks an engine is sounding is itself a
  Python JACK client in the graph. Kept attached (`python -m tests.bench.scsynth --stems 128
  --seconds 30 --rates 1000 --repeats 1 --streamed --recorder-during`, 2026-12-03), JACK's
  DSP load was 17.2 % with adaptive and 7.7 % with scsynth, with 15 and 12 xruns while the
  plain pyo client on a JACK server of its own had 4 and 3 in the same seconds; detached
  (now the default) the same case measured 9.6-12.2 % and 3.6-7.6 % in three runs. The
  recorder costs about 4-6 % of each period and adds xruns of its own: the rows without a
  plain-client column (2026-12-01) include it. xruns are now counted by a JACK client with
  an xrun callback and no process callback (outside the cycle), the plain client's count
  beside them: where it had tens or hundreds (other sessions' live tests and renders on
  the same two cores), both engines had about as many.
- **`bin/bench scsynth` "in RAM" had streamed adaptive's stems since streaming came
  (2026-12-02)**: its one-minute stems are past the default `stream_longer_than` (30 s).
  The bench now writes the threshold into the score either way and refuses a run whose
  `/status` says otherwise; the bytes each engine read (`rchar`) are in the figures.
- **Where adaptive's CPU goes** (2026-12-04, per thread from /proc, the method of
  `python -m tests.bench.cpu_where threads`, 128 stems, 30 s runs): pyo's audio callback
  7.9-11.7 % of a core (idle or not), the OSC thread 3.2-3.5 % at 100 msg/s and 9.1-11.4 %
  at 1,000 msg/s (about 100 µs of Python a message on this VM's cold caches; the same
  path back to back in one thread costs 27 µs, a bare Python UDP receiver 7 µs), the show
  log's writer 0.7-2.1 %, the ticker 0.4-1.0 %, and streamed the disk thread 3.7-3.8 %
  (its floor is the data: 12.3 M samples a second decoded to float32 and cast to the
  float64 rings, about 3 %). scsynth's whole process in the tables above: 10.9-13.0 % in
  RAM, 6.1-8.4 % streamed. JACK's DSP load (the graph's share of each period) is at
  parity in RAM (adaptive 11.8 and 10.6 %, scsynth 11.4 and 11.7 % at 100 and 1,000 msg/s)
  and 1.7-1.9× streamed (10.2 and 10.8 % vs 6.1 and 5.6 %): in RAM the gap is the Python
  around the graph; streamed, it is also pyo reading 128 rings against scsynth's `DiskIn`
  copying.
- **The graph itself.** A plain pyo JACK client with the same 128 stereo readers and gains
  and nothing else (`python -m tests.bench.cpu_where floor [--mix]`) measured 5.7 and 4.8 %
  of a core chained, 7.7 and 6.8 % with a `Mix` (two runs): pyo's `Mix` asks each input
  for its stream through a Python method call inside the audio callback, so the voices
  now chain their layers'
  `add` instead (bit-identical, tested). The rest of adaptive's callback is its counter,
  envelopes, master bus (limiter, DC filter) and the GIL the callback takes every block.
  Parity needs a native streaming mixer (one C loop over the stems) and the parameter
  path out of Python (values written into the graph by a C-level receiver, Python only
  for rules and events); pyo's own `OscReceive` polls in the callback and adds a period
  of latency (measured with plain pyo: p99 10.7 ms), which breaks the latency target.
- **Since the last report** (2026-12-03: RAM 1.88× and 3.25×, streamed 5.04× and 6.23×):
  the chained sum, the show log's writer without a bus thread in between and yielding the
  GIL every 0.2 ms instead of after each line (its thread 3.7-4.3 % → 1.8-2.1 % at 1,000
  msg/s), float32 decoding straight into the fill's buffer, chunks of 32,768 frames and
  one validity product per voice (disk thread 4.2 → 3.7 %). Per stem, tables stay
  float64 (pyo's double build, needed for the exact sample counter): twice scsynth's
  memory in RAM and its load time.
- **Offline** (one-minute stems stream by default since issue 10, and a score of stems
  alone renders 1,024 frames a block, the same samples as 256): adaptive renders 8, 32 and
  128 stems at 118, 62 and 23× real time once loaded against `scsynth -N`'s 300, 73 and
  16×, and with loading at 96, 52 and 19× against 150, 42 and 8×: a streamed stem has
  nothing to load (0.1-0.45 s in all) and the render holds 189-466 MB against scsynth's
  190-2,827 MB. In RAM tables (a score's choice) adaptive rendered 32 stems at 101-108×
  once loaded (2026-12-04), but loads them 7-8× slower than scsynth (float64 tables).
- **A wake-up on this VM is expensive, for both engines.** The same `/param` took 16 µs of
  CPU back to back and 258 µs when it came 10 ms after the one before (a nonblocking
  `recvmsg` alone: 3 µs and 70 µs): a halted vCPU comes back with cold caches (haltpoll
  idle driver, Firecracker). Holding `/dev/cpu_dma_latency` at 0 (the CPUs poll instead
  of halting, as Ardour's "CPU DMA latency" option does) cut that call to 80 µs, `adaptive
  serve` at 128 stems and 100 msg/s from 14.1 to 8.9 % of a core and the OSC p99 to 5.40
  ms (200 trials), but scsynth gained more (RAM, 30 s: 9.6 vs 6.0 % and 16.0 vs 7.1 % at
  100 and 1,000 msg/s, ratios 1.61× and 2.25×), and both had more xruns (8 and 25, 4 and
  22 in 30 s; the plain client as many): on this VM it is not a fix, and `adaptive` does
  not ask for it.
- **MQTT latency needs the broker's `set_tcp_nodelay true`.** With mosquitto's default
  (Nagle on), a message sent behind a flood waited 40-95 ms (measured: MQTT p99 95 ms under
  1,000 msg/s without the option, 5.7 ms with it). The README says so.
- **xruns on this 2-core VM are mostly not the engine's.** scsynth had 3-46 per 60 s run
  in the same conditions; they come in bursts (one late wake-up makes several clients
  late), and their count does not grow with the message rate. Latency is measured with
  the recorder's per-block JACK frame times, so a period it loses does not shift what
  follows; live onsets are measured on the recording (when the whole graph skips a cycle,
  JACK's frame time jumps and the server's samples do not), with whole lost periods shown.
  At 128 streamed stems and 1,000 msg/s (2026-12-04, four repeats of 60 s) adaptive had
  0, 0, 2 and 3 xruns and scsynth 0, 0, 2 and 0. In the second pair, jackd's log named
  adaptive's client late 5 times (3 still in its cycle, 2 not yet woken by the scheduler)
  and scsynth's 5 times (3 and 2), and the dummy driver itself once woke 875 µs late: the
  target of 0 in every repeat is missed, by both engines alike.
"""


if __name__ == "__main__":
    main()
