"""Onset accuracy of transitions and stingers LIVE, in samples on the server's own grid.

`adaptive serve` plays through a real JACK server (dummy driver) into a separate JACK client
that records it: this is what an audience hears, with pyo's JACK backend, the ticker thread
and OSC in the loop, which the offline benchmark (onsets.py) leaves out. Section `a` is a
looping one-bar marker (+0.4 on each downbeat), `b` the same at -0.2, stinger `x` +0.1 on
the beat; coinciding impulses add up, so each level says what sounded (a transition is
a + b: the source's 3 ms declick fade starts on the sync sample). At seeded random moments
we send `/section b`, `/stinger x`, `/section a`, `/stinger x`, ... (section commands over
a bar apart, so none cancels another). The server starts `a` at its sample 0 with origin
0.0, so bars sound on ceil(k * samples_per_bar) and stingers on ceil(k * samples_per_beat):
heard - ideal should lie in [0, 1), loop repeats included (drift). Sample 0 is located from
the first downbeat heard (its bar number from `/status` against JACK's frame time); lost
samples show as errors of many samples, and xruns after that downbeat mark a case unreliable.
"""

from __future__ import annotations

import json
import math
import random
import socket
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.audio import Audio, impulses, write_marker
from tests.live.harness import PERIOD, RATE, Recorder, Served, jack_server, serve
from tests.live.recorder_process import XRUN_SLOTS

CASES = [(97.0, "4/4"), (133.3, "3/4"), (121.5, "6/8")]
LEVEL = {"a": 0.4, "b": -0.2, "x": 0.1}
COMBOS = {c: sum(LEVEL[m] for m in c) for c in ("a", "b", "x", "ab", "ax", "bx", "abx")}
MIN_EVENTS = 20
SECTION = '[sections.{0}]\ntempo = {1}\nmeter = "{2}"\nbars = 1\n' \
          '[sections.{0}.layers.mark]\nstem = "{0}.wav"\n'
RULES = '[score]\ninitial_section = "a"\n[[transitions]]\nwhen = "bar"\nfade_out = 0.0\n' \
        '[stingers.x]\nstem = "x.wav"\nwhen = "beat"\n'


def zero_estimate(served: Served, recorder: Recorder) -> float:
    """Recording index of the server's sample 0, to within a few periods (from /status)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        before = recorder.frame_time()
        sock.sendto(encode_message("/status", []), ("127.0.0.1", served.osc_port))
        data, _ = sock.recvfrom(65536)
        after = recorder.frame_time()
    status = json.loads(OscPacket(data).messages[0].message.params[0])
    # `sample` is the first sample of the block computed next: the next JACK period
    return recorder.recorded_frame((before + after) // 2) + PERIOD / 2 - float(status["sample"])


def drive(served: Served, bar_seconds: float, seconds: float, seed: int) -> dict[str, int]:
    """Send the commands at random moments; returns how many of each kind were sent."""
    rng = random.Random(seed)
    cycle = [("/section", "b"), ("/stinger", "x"), ("/section", "a"), ("/stinger", "x")]
    sent = {"transition": 0, "stinger": 0}
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while sum(sent.values()) < MIN_EVENTS or time.monotonic() - started < seconds:
            time.sleep(rng.uniform(0.55, 0.9) * bar_seconds)  # sections >= 1.1 bars apart
            address, name = cycle[sum(sent.values()) % len(cycle)]
            sock.sendto(encode_message(address, [name]), ("127.0.0.1", served.osc_port))
            sent["stinger" if address == "/stinger" else "transition"] += 1
    return sent


def measure(audio: Audio, zero: float, beat: float, bar: float
            ) -> tuple[dict[str, list[float]], int, str]:
    """Errors (heard - ideal, samples) per kind, the first downbeat's index, and notes."""
    hits = [int(i) for i in impulses(audio, threshold=0.05)]
    names = list(COMBOS)
    kinds = [names[int(np.argmin([abs(audio[i, 0] - COMBOS[c]) for c in names]))] for i in hits]
    notes = [f"unexplained level {audio[i, 0]:+.3f} at {i}"
             for i, c in zip(hits, kinds, strict=True) if abs(audio[i, 0] - COMBOS[c]) > 0.03]
    first = next((i for i, c in zip(hits, kinds, strict=True) if c == "a"), None)
    if first is None:
        return {}, 0, "no downbeat of section a heard: nothing to measure"
    k0 = round((first - zero) / bar)  # bar number of the first downbeat heard
    origin = first - math.ceil(k0 * bar)  # recording index of server sample 0
    errors: dict[str, list[float]] = {"transition": [], "stinger": [], "loop": []}
    bars = []
    for index, kind in zip(hits, kinds, strict=True):
        at = float(index - origin)
        if "x" in kind:
            errors["stinger"].append(at - round(at / beat) * beat)
        if kind != "x" and index != first:
            errors["transition" if "ab" in kind else "loop"].append(at - round(at / bar) * bar)
            bars.append(round(at / bar))
    if bars and bars[-1] - k0 != len(bars):
        notes.append(f"{bars[-1] - k0 - len(bars)} downbeats missing or extra")
    notes.append(f"first downbeat heard: bar {k0} (/status estimate {origin - zero:+.0f} off); "
                 f"server sample 0 = recording {origin}, "
                 f"first nonzero {np.flatnonzero(audio[:, 0])[0]}")
    return errors, first, "; ".join(notes)


def run_case(jack: str, directory: Path, tempo: float, meter: str, seconds: float
             ) -> list[dict[str, object]]:
    top, bottom = (int(x) for x in meter.split("/"))
    beat = RATE * 60.0 / tempo * 4.0 / bottom
    bar = beat * top
    for name in "abx":
        write_marker(directory / f"{name}.wav", 0.05 if name == "x" else bar / RATE + 0.1,
                     amplitude=LEVEL[name])
    (directory / "score.toml").write_text(
        RULES + "".join(SECTION.format(name, tempo, meter) for name in "ab"))
    recorder = Recorder(jack, seconds=seconds + MIN_EVENTS * bar / RATE + 30.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"  # connected before sample 0
        with serve(directory / "score.toml", jack, "--jack-connect", ports) as served:
            time.sleep(1.5 * bar / RATE)
            zero = zero_estimate(served, recorder)
            sent = drive(served, bar / RATE, seconds, seed=int(tempo * 100))
            time.sleep(1.5 * bar / RATE)
            audio = recorder.audio()
            xrun_frames, total_xruns = recorder.xrun_frames, recorder.xruns
            # recording indexes, not JACK frame times: when the whole graph skips a cycle
            # the frame time jumps and the server's samples do not (measured: mapping
            # through frame times turned exact onsets into +256 errors)
            errors, first, note = measure(audio, zero, beat, bar)
            served.stop()
    finally:
        recorder.stop()
    xruns = sum(first <= f < len(audio) for f in xrun_frames) + max(0, total_xruns - XRUN_SLOTS)
    note += f"; xruns (recording frame: count) {dict(Counter(xrun_frames))}"
    rows: list[dict[str, object]] = []
    for kind in ("transition", "stinger", "loop"):
        found = errors.get(kind, [])
        rows.append({"tempo": tempo, "meter": meter, "kind": kind, "sent": sent.get(kind),
                     "onsets": len(found),
                     "worst_error_samples": max(found, key=abs) if found else math.nan,
                     "median_error_samples": statistics.median(found) if found else math.nan,
                     "xruns": xruns, "reliable": xruns == 0, "note": note})
    return rows


def collect(seconds_per_case: float = 20.0, cases: int = len(CASES)
            ) -> list[dict[str, object]]:
    """One row per case and kind (transition, stinger, loop repeat). A case lasts
    `seconds_per_case`, or as long as MIN_EVENTS commands need (about 36 s at 97 BPM 4/4)."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp, jack_server() as jack:
        for tempo, meter in CASES[:cases]:
            rows.extend(run_case(jack, Path(tmp), tempo, meter, seconds_per_case))
    return rows


def main() -> None:
    rows = collect()
    print(f"{'tempo':>6} {'meter':>5} {'kind':>10} {'sent':>5} {'onsets':>6} {'worst':>8} "
          f"{'median':>8} {'xruns':>5}  reliable")
    for r in rows:
        print(f"{r['tempo']:>6} {r['meter']:>5} {r['kind']:>10} {r['sent'] or '-':>5} "
              f"{r['onsets']:>6} {r['worst_error_samples']:>+8.3f} "
              f"{r['median_error_samples']:>+8.3f} {r['xruns']:>5}  {r['reliable']}")
    for r in rows:
        worst = float(r["worst_error_samples"])  # type: ignore[arg-type]
        if not -0.5 < worst < 1.5:  # NaN too
            print(f"WARNING {r['tempo']} {r['meter']} {r['kind']}: worst error {worst:+.3f}: "
                  "the recording lost samples (an xrun), an event was late, or none was heard")
    for r in rows[::3]:
        print(f"{r['tempo']} {r['meter']}: {r['note']}")
    print("expected: every error in [0, 1) (the graph sounds an event on ceil(ideal)); "
          "a case with xruns after its first downbeat is marked unreliable")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
