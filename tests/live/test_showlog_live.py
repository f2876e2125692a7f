"""A live show and its replay from the show log are the same performance.

`adaptive serve` plays a score on a real JACK server, driven over OSC by parameter moves,
a section change, stingers, a rest and a resume, some at once and some timetagged, and is
stopped with SIGTERM; a separate JACK client records it. `adaptive render --replay` then
renders the show log it wrote (by default, a dated file beside the score) offline. Unlike
test_parity, no command has to be placed mid-beat or read where its ramp is done: the log
holds the sample each command took live, so the replay must give the same onsets (±1
sample) and the same per-layer levels (±0.2 dB) anywhere, ramps included.

Sample 0 of the server is found in the recording from the click on each of section a's
bars, as test_parity does; so is the allowance for xruns (a period lost shifts the rest of
the recording by whole periods: onsets are compared modulo the periods lost before them,
and a level window an xrun falls into is left out).
"""

from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from pythonosc.osc_packet import OscPacket

from adaptive.cli import main
from adaptive.live.osc import encode_bundle, encode_message
from tests.audio import impulses, sine_level_db, write_marker, write_sine
from tests.live.harness import PERIOD, RATE, NoiseReference, Recorder, Window, serve

pytestmark = [pytest.mark.jack, pytest.mark.slow]

BAR_A = RATE * 60 / 97 * 4
SCORE = """
[score]
initial_section = "a"
[parameters.x]
smoothing = 0.3
[parameters.y]
smoothing = 0.3
default = 0.5
[sections.a]
tempo = 97
bars = 8
[sections.a.layers.low]
stem = "low.wav"
gain = { x = [[0.0, -24.0], [1.0, 0.0]] }
[sections.a.layers.high]
stem = "high.wav"
gain = { y = [[0.0, -24.0], [1.0, 0.0]] }
[sections.a.layers.click]
stem = "click.wav"
[sections.b]
tempo = 120
bars = 4
[sections.b.layers.tone]
stem = "tone.wav"
gain = { x = [[0.0, -12.0], [1.0, 0.0]] }
[sections.b.layers.mark]
stem = "mark.wav"
[[transitions]]
when = "bar"
fade_out = 0.2
[stingers.hit]
stem = "hit.wav"
when = "beat"
duck = -3.0
duck_attack = 0.02
duck_release = 0.2
[rests]
when = "beat"
release = 0.3
reenter = "bar"
"""
BASE = 4.0  # seconds: the server is up and measured before the first cue
TIMETAGGED = True
# (seconds after BASE, OSC address, arguments, timetagged)
CUES = [(1.0, "/param/x", [1.0], False),
        (2.2, "/params", ["y", 1.0], TIMETAGGED),
        (4.1, "/section", ["b"], False),
        (7.3, "/stinger", ["hit"], TIMETAGGED),
        (9.0, "/params", ["x", 0.2], False),
        (11.7, "/rest", [], TIMETAGGED),
        (14.1, "/resume", [], False),
        (16.3, "/section", ["a"], TIMETAGGED),
        (17.1, "/param/y", [0.3], TIMETAGGED),
        (19.0, "/stinger", ["hit"], False)]
SECONDS = BASE + 24.0
LAYERS = (220.0, 1003.0, 660.0)  # low, high (section a), tone (section b)


def _write_stems(directory: Path) -> None:
    write_sine(directory / "low.wav", 220.0, 20.0, amplitude=0.05)
    write_sine(directory / "high.wav", 1003.0, 20.0, amplitude=0.05)
    write_sine(directory / "tone.wav", 660.0, 9.0, amplitude=0.05)
    write_marker(directory / "click.wav", 20.0, amplitude=0.5,
                 positions=tuple(math.ceil(k * BAR_A) for k in range(8)))
    write_marker(directory / "mark.wav", 9.0, amplitude=0.5)
    write_marker(directory / "hit.wav", 0.5, amplitude=0.5)
    (directory / "score.toml").write_text(SCORE)


def _status(port: int, recorder: Recorder) -> tuple[dict[str, object], int, float]:
    """The server's status, the JACK frame time and wall time at which it was answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        before, wall_before = recorder.frame_time(), time.time()
        sock.sendto(encode_message("/status", []), ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
        after, wall_after = recorder.frame_time(), time.time()
    status = json.loads(OscPacket(data).messages[0].message.params[0])
    return status, (before + after) // 2, (wall_before + wall_after) / 2


def _play_live(jack: str, directory: Path) -> tuple[np.ndarray, list[int], int, str]:
    """The recording from the server's sample 0, the samples (on that scale) where the JACK
    server reported an xrun, their count, and the server's log."""
    recorder = Recorder(jack, seconds=SECONDS + 20.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(directory / "score.toml", jack, "--jack-connect", ports) as served:
            status, frame, wall = _status(served.osc_port, recorder)
            sample = int(status["sample"])  # type: ignore[call-overload]
            assert sample < (BASE - 1.0) * RATE, "the server took too long to come up"
            zero_estimate = recorder.recorded_frame(frame) + PERIOD / 2 - sample
            wall_zero = wall - sample / RATE
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for at, address, args, timetagged in CUES:
                    due = wall_zero + BASE + at
                    if timetagged:
                        time.sleep(max(0.0, due - 0.3 - time.time()))
                        message = encode_bundle(due, address, args)
                    else:
                        time.sleep(max(0.0, due - time.time()))
                        message = encode_message(address, args)
                    sock.sendto(message, ("127.0.0.1", served.osc_port))
            time.sleep(max(0.0, wall_zero + SECONDS + 0.5 - time.time()))
            audio = recorder.audio()
            xrun_frames, total = recorder.xrun_frames, recorder.xruns
            assert served.stop() == 0  # SIGTERM: the show log is closed with its end
            log = served.log()
    finally:
        recorder.stop()
    clicks = [int(i) for i in impulses(audio, threshold=0.3)]
    first = clicks[0]
    bar = round((first - zero_estimate) / BAR_A)
    origin = first - math.ceil(bar * BAR_A - 1e-6)
    assert abs(origin - zero_estimate) < BAR_A / 4, (origin, zero_estimate)
    assert total <= len(xrun_frames), "more xruns than the recorder keeps frames of"
    return (audio[origin:], [frame - origin for frame in xrun_frames if frame >= origin],
            total, log)


def test_a_replayed_show_log_sounds_as_the_show_did(
        tmp_path: Path, jack: str, noise_reference: NoiseReference,
        capsys: pytest.CaptureFixture[str]) -> None:
    for index, attempt in enumerate(noise_reference.attempts(2)):
        with attempt:
            directory = tmp_path / f"attempt-{index}"
            directory.mkdir()
            _compare(directory, jack, attempt.window, capsys)


def _compare(directory: Path, jack: str, noise: Window,
             capsys: pytest.CaptureFixture[str]) -> None:
    _write_stems(directory)
    live, xruns, total, server_log = _play_live(jack, directory)
    logs = sorted(directory.glob("score.show-*.jsonl"))  # the default: beside the score
    assert len(logs) == 1, (logs, server_log)
    entries = [json.loads(line) for line in logs[0].read_text().splitlines()]
    commands = [e for e in entries if e["kind"] == "command"]
    assert [c["command"]["cmd"] for c in commands] == \
        ["param", "params", "section", "stinger", "params", "rest", "resume", "section",
         "param", "stinger"], commands
    assert all(c["source"] == "OSC" for c in commands)
    assert entries[-1]["kind"] == "end", entries[-3:]  # flushed at SIGTERM

    replay = directory / "replay.wav"
    code = main(["render", str(directory / "score.toml"), "--replay", str(logs[0]),
                 "-o", str(replay)])
    printed = capsys.readouterr().out
    assert code == 0, printed  # 0: every logged event replayed on its live sample
    offline, rate = soundfile.read(str(replay), dtype="float32", always_2d=True)
    assert rate == RATE
    frames = min(round(SECONDS * RATE), len(offline))
    assert len(live) >= frames - PERIOD

    skip = RATE // 10  # pyo fades a live server's output in over its first ~240 samples
    expected = impulses(offline[skip:frames], threshold=0.3) + skip
    heard = impulses(live[skip:frames], threshold=0.3) + skip
    assert len(expected) >= 8, list(expected)  # clicks, b's mark, both stingers
    assert len(heard) == len(expected), (list(heard), list(expected))
    residuals = []
    for e, h in zip(expected, heard, strict=True):
        periods = round((h - e) / PERIOD)
        assert abs(periods) <= sum(x <= h for x in xruns), (e, h, xruns)
        residuals.append(int(abs(h - e - periods * PERIOD)))
    worst_onset = max(residuals)
    assert worst_onset <= 1, (residuals, xruns)

    # every layer, every half second, ramps and fades included (a layer that is silent in
    # the replay must be silent live too)
    shifts = [(int(e), round((h - e) / PERIOD)) for e, h in zip(expected, heard, strict=True)]
    differences, silent, windows = [], 0, 0
    times = np.arange(0.5, SECONDS - 0.5, 0.5)
    for t in times:
        start, end = round(t * RATE), round((t + 0.3) * RATE)
        onset, periods = next(((e, k) for e, k in reversed(shifts) if e <= start), (0, 0))
        after = next((k for e, k in shifts if e >= end), None)
        # periods lost only accumulate: the same shift on both sides holds in between;
        # else a window after an xrun since the last onset is left out
        if after != periods and any(onset <= x < end + PERIOD for x in xruns):
            continue
        windows += 1
        heard_at = (start + periods * PERIOD) / RATE
        for f in LAYERS:
            replayed = sine_level_db(offline, f, RATE, t, 0.3)
            played = sine_level_db(live, f, RATE, heard_at, 0.3)
            if replayed < -80.0:
                assert played < -60.0, (t, f, played)
                silent += 1
            else:
                differences.append(played - replayed)
    assert windows >= 0.75 * len(times), (windows, xruns)
    worst_level = max(abs(d) for d in differences)
    assert worst_level <= 0.2, differences
    print(f"replay: worst onset difference {worst_onset} samples over {len(expected)} onsets, "
          f"worst level difference {worst_level:.4f} dB over {len(differences)} layer windows "
          f"({silent} silent in both); {len(commands)} commands logged; xruns at {xruns}")
    noise.judge(total)
