"""Performer commands on the live server against a real JACK server, over OSC, recorded:
arm + GO lands on the bar (also from a timetagged bundle), panic gives silence, resume
brings the music back.

Each section's stem marks its bar lines with single-sample impulses of its own height (a:
0.3, b: 0.6), so the recording itself shows the grid a move must land on: a GO is on the bar
when the destination's first marker falls one bar after the source's last one.
"""

from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_bundle, encode_message
from tests.audio import impulses, sine_level_db
from tests.live.harness import RATE, Recorder, Window, less_lost_periods, serve

pytestmark = pytest.mark.jack

BAR = 96000  # 120 bpm, 4/4
MARK = 960
"""Markers sit 20 ms after each bar line: clear of a fade-out (10 ms) and of the fades in
at the start and on a re-entry, which soften the first samples."""

SCORE = """
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.bed]
stem = "a.wav"
[sections.b]
tempo = 120
bars = 1
[sections.b.layers.bed]
stem = "b.wav"
[[transitions]]
when = "bar"
fade_out = 0.01
"""


def _stem(path: Path, frequency: float, bars: int, marker: float) -> None:
    """A quiet sine (whole cycles per bar) with a marker `MARK` after every bar line."""
    t = np.arange(bars * BAR + 16) / RATE
    data = 0.05 * np.sin(2 * np.pi * frequency * t)
    data[np.arange(bars) * BAR + MARK] += marker
    soundfile.write(str(path), data.astype(np.float32), RATE, subtype="FLOAT")


def _osc(port: int, address: str, *args: object) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_message(address, list(args)), ("127.0.0.1", port))


def _status(port: int) -> dict[str, object]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(encode_message("/status", []), ("127.0.0.1", port))
        data, _ = sock.recvfrom(65536)
    status: dict[str, object] = json.loads(OscPacket(data).messages[0].message.params[0])
    return status


def _markers(audio: npt.NDArray[np.float32]) -> tuple[list[int], list[int]]:
    """Bar lines heard of a (markers 0.3 high) and of b (0.6 high)."""
    heard = impulses(audio, threshold=0.2)
    left = np.abs(audio[:, 0])
    a = [int(i) - MARK for i in heard if left[i] < 0.45]
    b = [int(i) - MARK for i in heard if left[i] >= 0.45]
    return a, b


def _peak_db(audio: npt.NDArray[np.float32]) -> float:
    return 20 * math.log10(max(float(np.max(np.abs(audio))), 1e-12))


def test_go_lands_on_the_bar_panic_silences_and_resume_brings_it_back(
        tmp_path: Path, jack: str, noise: Window) -> None:
    _stem(tmp_path / "a.wav", 441.0, 4, 0.3)
    _stem(tmp_path / "b.wav", 660.0, 1, 0.6)
    (tmp_path / "score.toml").write_text(SCORE)
    recorder = Recorder(jack, seconds=60)
    recorder.start()
    try:
        with serve(tmp_path / "score.toml", jack) as served:
            recorder.connect(served.jack_name)
            time.sleep(0.6)
            recorder.xruns = 0  # start-up is not the show
            port = served.osc_port
            time.sleep(2.2)  # a bar line of a recorded before the GO

            _osc(port, "/arm", "section", "b")
            time.sleep(0.1)
            armed = _status(port)["armed"]
            assert isinstance(armed, dict) and armed["what"] == "section", armed
            assert 0 < float(armed["in"]) <= 2.0, armed  # the next bar, within a bar
            go = recorder.frame_time()
            _osc(port, "/go")
            time.sleep(0.05)
            _osc(port, "/go")  # a double press: within the lockout
            time.sleep(2.6)
            status = _status(port)
            assert status["armed"] is None and status["go_ignored"] == 1, status
            assert status["section"] == "b", status

            # a timetagged GO fires on the first bar after its time: more than a bar
            # ahead, so a GO taken on arrival would land before it
            _osc(port, "/arm", "section", "a")
            time.sleep(0.1)
            timetag = time.time() + 2.2
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(encode_bundle(timetag, "/go", []), ("127.0.0.1", port))
            tagged = recorder.frame_at(timetag)
            time.sleep(4.6)

            panic = recorder.frame_time()
            _osc(port, "/panic", 0.2)
            time.sleep(1.5)
            resume = recorder.frame_time()
            _osc(port, "/resume")
            time.sleep(2.8)
            audio = recorder.audio()
            xrun_at = recorder.xrun_frames  # indices in the recording
            go_at, tagged_at = recorder.recorded_frame(go), recorder.recorded_frame(tagged)
            panic_at, resume_at = recorder.recorded_frame(panic), recorder.recorded_frame(resume)
            assert served.stop() == 0, served.log()
    finally:
        recorder.stop()
    a_marks, b_marks = _markers(audio)
    print(f"a's bar lines {a_marks}, b's {b_marks}; GO sent at {go_at}")

    before = [m for m in a_marks if m < go_at + BAR]
    first_b = b_marks[0]
    last_a = max(m for m in before if m < first_b)
    raw = first_b - (last_a + BAR)
    # a period the graph missed (or the recorder lost) between the two bar lines moves
    # the recording by a period: that is an xrun (judged below), not the GO's timing
    error = less_lost_periods(raw, sum(last_a < x <= first_b for x in xrun_at))
    print(f"GO onset against the bar: {error:g} samples (recorded {raw}); "
          f"{(first_b - go_at) / RATE:.3f} s after the GO was sent")
    assert abs(error) <= 1, (error, before, b_marks[:3])
    assert 0 < first_b - go_at <= BAR + RATE // 20
    assert len([m for m in b_marks if first_b <= m < first_b + BAR // 2]) == 1  # once

    back_to_a = next(m for m in a_marks if m > first_b)
    last_b = max(m for m in b_marks if m < back_to_a)
    tag_error = less_lost_periods(back_to_a - (last_b + BAR),
                                  sum(last_b < x <= back_to_a for x in xrun_at))
    print(f"timetagged GO: a's first bar line {back_to_a - tagged_at} samples after the "
          f"timetag, {tag_error:g} from b's bar line")
    assert abs(tag_error) <= 1
    assert 0 <= back_to_a - tagged_at <= BAR + RATE // 100  # the first bar after its time

    silent = _peak_db(audio[panic_at + round(0.3 * RATE): resume_at])
    print(f"panic: peak {silent:.1f} dBFS from 0.3 s after it until the resume")
    assert silent < -90.0
    assert sine_level_db(audio, 441.0, RATE, (panic_at - RATE // 2) / RATE, 0.3) > -30
    back = next(m for m in a_marks if m > resume_at)
    assert back - resume_at <= BAR + RATE // 20  # on the next bar
    assert sine_level_db(audio, 441.0, RATE, (back + RATE // 10) / RATE, 0.3) > -30
    if back - RATE // 100 > resume_at:  # silent until that bar
        assert _peak_db(audio[resume_at: back - RATE // 100]) < -90.0
    noise.judge(recorder.xruns)
