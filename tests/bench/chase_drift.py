"""The chase over a long stretch: how far the music drifts from the film, and what fixes it.

The set-up of `tests/live/test_chase_live` (a real jackd, the server following OSC
transport reports, a separate JACK client recording): a simulated player plays the film
from 10 s for `--minutes` (default 10), reporting each frame's time from the wall clock,
as a video player's clock does. The music's position is read from every window of the
recording (the reel is seeded noise) against the film time on screen, through the
recorder's JACK frame clock.

The dummy JACK driver's clock runs at its own rate against the wall's (as a sound card's
crystal does against a player's clock): the lock follows it, and the music follows the
lock by varispeed (`--varispeed`, the server's default 0.1 %: nudges of its speed), or,
with `--varispeed 0`, drifts until the chase re-places it on a bar (past half a frame).
Printed: the clock's rate difference in ppm, the position error over time (worst, median,
per minute), the nudges and re-chases the server logged, xruns. Written:
docs/bench/chase_drift.json and .png.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.live.harness import RATE, NoiseReference, Recorder, jack_server, serve
from tests.live.test_chase_live import LOOP, Player, Reference, _position, _write

OUT = Path("docs/bench")
RAW = Path(tempfile.gettempdir()) / "adaptive-chase-drift.npz"
START_FILM = 10.0
EVERY = 1.0  # seconds between position windows


def measure(minutes: float, varispeed: float = 0.1, player_ppm: float = 0.0
            ) -> dict[str, Any]:
    seconds = minutes * 60
    machine = NoiseReference()  # a plain pyo client on a JACK server of its own
    machine.start()
    with tempfile.TemporaryDirectory(prefix="adaptive-drift-") as scratch, \
            jack_server() as jack:
        directory = Path(scratch)
        stem = _write(directory)
        (directory / "sheet.toml").write_text('fps = "24"\nstart = "01:00:00:00"\n')
        recorder = Recorder(jack, seconds=seconds + 20)
        recorder.start()
        try:
            ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
            with serve(directory / "score.toml", jack, "--jack-connect", ports, "--timeline",
                       str(directory / "sheet.toml"), "--follow", "osc",
                       "--varispeed", str(varispeed)) as served:
                player = Player(served.osc_port, recorder.frame_time)
                window = machine.window()
                player.wait(3.0)
                began = time.time()
                print(f"playing {minutes:g} min of film from {START_FILM:g} s ...", flush=True)
                player.play(START_FILM, seconds, speed=1 + player_ppm * 1e-6)
                player.wait(0.5)
                first = recorder.recorded_frame(0)
                audio = np.array(recorder.audio()[:, 0])
                xrun_at = recorder.xrun_frames  # indices in the recording
                blocks = recorder.block_map()
                xruns = recorder.xruns
                plain_xruns = window.xruns
                served.stop()
                lines = list(served.log_lines)
        finally:
            recorder.stop()
            machine.stop()

    np.savez(RAW, audio=audio, clock=np.array(player.clock), began=began, first=first,
             xrun_at=np.array(xrun_at))  # to analyse again without a 10-minute run
    reference = Reference(player, first)
    walls = np.array([w for w, _ in player.clock])
    frames = np.array([f for _, f in player.clock], dtype=np.float64)
    slope = np.polyfit(walls - walls[0], frames, 1)[0]
    ppm = (slope / RATE - 1) * 1e6

    start = reference.frame_of(began) + RATE
    times, errors = [], []
    for at in range(start, start + round((seconds - 2) * RATE), round(EVERY * RATE)):
        if at + RATE // 100 > len(audio):
            break  # the dummy driver's clock lost time to xruns: the recording ends sooner
        # the film on screen when this sample sounded: through JACK's frame time (exact
        # across periods the recorder lost, which shift the recording's indices)
        want = reference.expected(blocks.jack_frame(at) + first)
        if want is None or any(0 <= at - x < RATE // 20 for x in xrun_at):
            continue
        error, rms = _position(audio, stem, at, want % LOOP, search=RATE // 10)
        if np.isfinite(error) and rms > 0.02:
            times.append((at - start) / RATE)
            errors.append(error / RATE * 1000)
    error_ms = np.array(errors)
    rechases = [line for line in lines if "re-chasing" in line]
    nudges = [line for line in lines if "the picture: s" in line]
    per_minute = [float(np.max(np.abs(error_ms[(np.array(times) >= m * 60) &
                                               (np.array(times) < (m + 1) * 60)]), initial=0.0))
                  for m in range(int(np.ceil(seconds / 60)))]
    return {"minutes": minutes, "clock_ppm": float(ppm), "windows": len(errors),
            "windows_planned": int((seconds - 2) / EVERY),
            "worst_ms": float(np.max(np.abs(error_ms))),
            "median_ms": float(np.median(np.abs(error_ms))),
            "first_minute_worst_ms": per_minute[0], "last_minute_worst_ms": per_minute[-1],
            "per_minute_worst_ms": per_minute, "rechases": len(rechases),
            "varispeed_percent": varispeed, "nudges": len(nudges), "player_ppm": player_ppm,
            "nudge_lines": nudges[:20],
            "rechase_lines": rechases[:20], "xruns": xruns, "plain_client_xruns": plain_xruns,
            "series": {"t": times, "error_ms": errors}}


def plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), dpi=110)
    ax = figure.add_subplot(1, 1, 1)
    series = figures["series"]
    ax.plot(np.array(series["t"]) / 60, series["error_ms"], ".", markersize=3, color="#1f77b4")
    half = 1000 / 24 / 2
    for y in (-half, half):
        ax.axhline(y, color="#d62728", linewidth=0.8, linestyle="--")
    ax.text(0.0, half, " half a frame: a re-chase on the next bar", va="bottom", fontsize=8,
            color="#d62728")
    ax.set_xlabel("minutes of film")
    ax.set_ylabel("music - film (ms)")
    ax.set_title(f"chase over {figures['minutes']:g} min: clocks {figures['clock_ppm']:+.1f} "
                 f"ppm apart, player {figures.get('player_ppm', 0):+g} ppm, varispeed "
                 f"{figures.get('varispeed_percent', 0):g} %: "
                 f"{figures.get('nudges', 0)} nudges, {figures['rechases']} re-chases, worst "
                 f"{figures['worst_ms']:.2f} ms, {figures['xruns']} xruns", fontsize=10)
    ax.grid(color="#dcdcdc")
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--varispeed", type=float, default=0.1, metavar="PERCENT",
                        help="the server's --varispeed (0: re-chases only)")
    parser.add_argument("--player-ppm", type=float, default=0.0, metavar="PPM",
                        help="the simulated player's clock against the wall's (on top of "
                        "whatever JACK's dummy clock does)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    figures = measure(args.minutes, args.varispeed, args.player_ppm)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "chase_drift.json").write_text(json.dumps(figures, indent=1) + "\n")
    plot(figures, args.out / "chase_drift.png")
    print(f"clock difference (JACK dummy vs wall): {figures['clock_ppm']:+.1f} ppm; the "
          f"player's against the wall: {args.player_ppm:+g} ppm")
    print(f"position error over {figures['minutes']:g} min: worst {figures['worst_ms']:.3f} ms, "
          f"median {figures['median_ms']:.3f} ms over {figures['windows']} of "
          f"{figures['windows_planned']} windows")
    print("worst per minute (ms):", " ".join(f"{v:.2f}" for v in figures["per_minute_worst_ms"]))
    print(f"varispeed {args.varispeed:g} %: {figures['nudges']} nudges; "
          f"re-chases: {figures['rechases']}; xruns: {figures['xruns']} (a plain pyo client "
          f"on a JACK server of its own, same minutes: {figures['plain_client_xruns']})")
    for line in figures["rechase_lines"] + figures["nudge_lines"][:5]:
        print("  ", line)
    print(f"wrote {args.out / 'chase_drift.json'} and {args.out / 'chase_drift.png'}")


if __name__ == "__main__":
    main()
