"""The piece both offline = live tests play (test_parity, test_showlog_live): two
sections at different tempi with parameter-driven layers, a click on each of a's bars to
find the server's sample 0 in a recording, a stinger with ducking, rests."""

from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path

from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.audio import write_marker, write_sine
from tests.live.harness import RATE, Recorder

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


def write_stems(directory: Path) -> None:
    write_sine(directory / "low.wav", 220.0, 20.0, amplitude=0.05)
    write_sine(directory / "high.wav", 1003.0, 20.0, amplitude=0.05)
    write_sine(directory / "tone.wav", 660.0, 9.0, amplitude=0.05)
    write_marker(directory / "click.wav", 20.0, amplitude=0.5,
                 positions=tuple(math.ceil(k * BAR_A) for k in range(8)))
    write_marker(directory / "mark.wav", 9.0, amplitude=0.5)
    write_marker(directory / "hit.wav", 0.5, amplitude=0.5)
    (directory / "score.toml").write_text(SCORE)


def status_at(port: int, recorder: Recorder) -> tuple[dict[str, object], int, float]:
    """The server's status, the JACK frame time and wall time at which it was answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        before, wall_before = recorder.frame_time(), time.time()
        sock.sendto(encode_message("/status", []), ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
        after, wall_after = recorder.frame_time(), time.time()
    status = json.loads(OscPacket(data).messages[0].message.params[0])
    return status, (before + after) // 2, (wall_before + wall_after) / 2
