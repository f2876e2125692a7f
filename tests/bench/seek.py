"""A seek into many streamed stems, live: how soon after the player's report the music is
at its new position, with every stem sounding.

The set-up of `tests/live/test_chase_live` (a real jackd, `adaptive serve --follow osc`, a
separate JACK client recording, a plain pyo client on a JACK server of its own counting the
machine's xruns), with a section of `--stems` stereo stems of seeded noise (40 s each, every
one streamed from disk). A simulated player plays the film, then jumps `--jumps` times to
positions spread over the stems, as an editor scrubbing a reel does.

Measured per jump, on the recording: from the report's arrival to the first 10 ms window
where the recording correlates with the whole mix (every stem, at the film's position) by
at least `WHOLE` (one stem of 32 missing would give about 0.984). The target (issue 10): one
video frame (41.7 ms at 24 fps) from a warm page cache. `--cold` drops the page cache
before each jump (root only: /proc/sys/vm/drop_caches), so every stem is read from the disk.
Printed and written to docs/bench/seek.json; what the server logged about the seek's replay
("placed ... ms ahead") is printed too: it is the floor of the figure.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.live.harness import RATE, NoiseReference, Recorder, jack_server, serve
from tests.live.test_chase_live import Player, Reference

OUT = Path("docs/bench")
SECONDS = 40  # each stem: 20 bars at 120 BPM
LOOP = SECONDS * RATE
WHOLE = 0.99
AMPLITUDE = 0.01  # per stem: 32 of them stay well under the master's limiter
JUMPS = (25.0, 6.0, 33.0, 14.0, 29.0, 2.0, 37.0, 19.0)


def _write(directory: Path, stems: int) -> npt.NDArray[np.float64]:
    """The stems and the score; returns the left channel of their mix."""
    mix = np.zeros(LOOP)
    layers = []
    for index in range(stems):
        rng = np.random.default_rng(100 + index)
        data = rng.standard_normal((LOOP, 2)) * AMPLITUDE
        soundfile.write(str(directory / f"stem{index:02d}.wav"), data, RATE, subtype="PCM_24")
        mix += soundfile.read(str(directory / f"stem{index:02d}.wav"))[0][:, 0]
        layers.append(f'[sections.reel.layers.s{index:02d}]\nstem = "stem{index:02d}.wav"\n')
    (directory / "score.toml").write_text(
        "[score]\nstream_longer_than = 0.0\n[sections.reel]\ntempo = 120\nbars = 20\n"
        + "".join(layers))
    (directory / "sheet.toml").write_text('fps = "24"\nstart = "01:00:00:00"\n')
    return mix


def _whole(recording: npt.NDArray[np.float32], mix: npt.NDArray[np.float64], at: int,
           expected: float, window: int = 480, search: int = 960) -> float:
    """The best normalised correlation of 10 ms of the recording with the mix near where
    the film is (a period or two either way: xruns, the clocks)."""
    chunk = recording[at:at + window].astype(np.float64)
    low = int(expected) - search
    region = mix[np.arange(low, low + 2 * search + window) % LOOP]
    corr = np.correlate(region, chunk, mode="valid")
    energy = np.sqrt(np.convolve(region ** 2, np.ones(window), mode="valid"))
    return float(np.max(corr / (energy * np.linalg.norm(chunk) + 1e-12)))


def _drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def measure(stems: int, cold: bool, jumps: int) -> dict[str, Any]:
    machine = NoiseReference()
    machine.start()
    try:
        with tempfile.TemporaryDirectory(prefix="adaptive-seek-") as scratch, \
                jack_server() as jack:
            directory = Path(scratch)
            print(f"writing {stems} stereo stems of {SECONDS} s ...", flush=True)
            return play_jumps(jack, directory, _write(directory, stems), JUMPS[:jumps], cold,
                              machine)
    finally:
        machine.stop()


def play_jumps(jack: str, directory: Path, mix: npt.NDArray[np.float64], plan: Sequence[float],
               cold: bool, machine: NoiseReference) -> dict[str, Any]:
    """Serve the score written by `_write`, play from 10 s, jump to each film time of
    `plan`; the figures (also for tests/live/test_stream_live)."""
    stems = len(list(directory.glob("stem*.wav")))
    recorder = Recorder(jack, seconds=8.0 + 3.0 * len(plan) + 10)
    recorder.start()
    dropped = True
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(directory / "score.toml", jack, "--jack-connect", ports, "--timeline",
                   str(directory / "sheet.toml"), "--follow", "osc") as served:
            started_xruns = recorder.xruns
            window = machine.window()
            player = Player(served.osc_port, recorder.frame_time)
            player.wait(3.0)  # the audio clock's first window
            player.marks["play"] = time.time()
            player.play(10.0, 2.0)
            for index, film in enumerate(plan):
                if cold:
                    player.send("/transport/state", "pause")
                    dropped = _drop_page_cache() and dropped
                    player.wait(0.3)
                player.marks[f"jump {index}"] = time.time()
                player.play(film, 2.5)
            player.wait(0.5)
            player.sock.close()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(2.0)
                sock.sendto(encode_message("/status", []), ("127.0.0.1", served.osc_port))
                data, _ = sock.recvfrom(65536)
            streams = json.loads(OscPacket(data).messages[0].message.params[0])["streams"]
            first = recorder.recorded_frame(0)
            audio = np.array(recorder.audio()[:, 0])
            xruns = recorder.xruns - started_xruns
            xrun_at = recorder.xrun_frames
            plain_xruns = window.xruns
            served.stop()
            lines = list(served.log_lines)
    finally:
        recorder.stop()

    reference = Reference(player, first)
    settle: dict[str, float | None] = {}
    # each mark opens the player's next stretch of play; the music sought is that stretch's
    # alone (read through `Reference.expected`, a sample mapped a hair before the jump
    # found the stretch before it still playing, and a jump read 0 ms)
    for (name, wall), (began, film, _, speed) in zip(player.marks.items(), player.segments,
                                                       strict=True):
        start = reference.frame_of(wall)
        settle[name] = None
        for at in range(start, start + RATE // 2, RATE // 1000):
            want = (film + (reference.wall_of(at) - began) * speed) * RATE
            if _whole(audio, mix, at, want % LOOP) >= WHOLE:
                settle[name] = (at - start) / RATE * 1000
                break
    found = [v for k, v in settle.items() if k != "play" and v is not None]
    placed = [line.split("film: ")[-1] for line in lines if "placed" in line]
    return {"stems": stems, "cold": cold, "page_cache_dropped": cold and dropped,
            "settle_ms": settle, "worst_ms": max(found) if found else None,
            "median_ms": float(np.median(found)) if found else None,
            "missed": sum(v is None for v in settle.values()), "xruns": xruns,
            "xrun_at": xrun_at, "plain_client_xruns": plain_xruns, "streams": streams,
            "replay": placed[:1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stems", type=int, default=32)
    parser.add_argument("--jumps", type=int, default=len(JUMPS))
    parser.add_argument("--cold", action="store_true", help="drop the page cache before "
                        "each jump (root only)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    figures = measure(args.stems, args.cold, min(args.jumps, len(JUMPS)))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"seek_{args.stems}{'_cold' if args.cold else ''}.json"
    (args.out / name).write_text(json.dumps(figures, indent=1) + "\n")
    cache = ("cold (page cache dropped before each jump)" if figures["page_cache_dropped"]
             else "cold asked, but the page cache could not be dropped (not root)"
             if args.cold else "warm page cache")
    print(f"seek into {args.stems} streamed stereo stems, {cache}:")
    for jump, value in figures["settle_ms"].items():
        print(f"  {jump:8s} {'missed' if value is None else f'{value:6.1f} ms'}")
    if figures["worst_ms"] is not None:
        print(f"jumps: worst {figures['worst_ms']:.1f} ms, median {figures['median_ms']:.1f} ms "
              f"(target: one frame, 41.7 ms at 24 fps)")
    print(f"xruns: {figures['xruns']}; the plain pyo client beside it: "
          f"{figures['plain_client_xruns']}")
    print("streams:", figures["streams"])
    for line in figures["replay"]:
        print("server:", line)
    print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
