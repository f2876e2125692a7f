"""The live server against a real JACK server, driven over OSC, its output recorded."""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_bundle, encode_message
from tests.audio import impulses, sine_level_db
from tests.live.harness import RATE, NoiseReference, Recorder, Served, Window, serve

pytestmark = pytest.mark.jack

AMPLITUDE_DB = 20 * math.log10(0.2)


@contextmanager
def _serving(stem_score: Path, jack: str) -> Iterator[tuple[Served, Recorder]]:
    recorder = Recorder(jack, seconds=60)
    recorder.start()
    try:
        with serve(stem_score, jack) as served:
            recorder.connect(served.jack_name)
            time.sleep(0.3)
            recorder.xruns = 0  # start-up (client activation, connections) is not the show
            yield served, recorder
            assert served.stop() == 0, served.log()
    finally:
        recorder.stop()


@pytest.fixture
def live(stem_score: Path, jack: str) -> Iterator[tuple[Served, Recorder]]:
    with _serving(stem_score, jack) as both:
        yield both


def osc(port: int, address: str, *args: object) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_message(address, list(args)), ("127.0.0.1", port))


def level(audio: np.ndarray, frequency: float, at_frame: int) -> float:  # type: ignore[type-arg]
    return sine_level_db(audio, frequency, RATE, at_frame / RATE, 0.2) - AMPLITUDE_DB


def test_param_moves_the_layer_it_drives(live: tuple[Served, Recorder], noise: Window) -> None:
    served, recorder = live
    time.sleep(0.6)
    sent = recorder.frame_time()
    osc(served.osc_port, "/param/tension", 1.0)
    time.sleep(0.6)
    audio = recorder.audio()
    at = recorder.recorded_frame(sent)
    assert abs(level(audio, 441, at - RATE // 4) - -20.0) < 0.5
    assert abs(level(audio, 441, at + RATE // 4)) < 0.5
    # the other layer did not move
    assert abs(level(audio, 1003, at + RATE // 4) - -20.0) < 0.5
    noise.judge(recorder.xruns)


def test_params_apply_together_in_one_block(live: tuple[Served, Recorder]) -> None:
    served, recorder = live
    time.sleep(0.5)
    sent = recorder.frame_time()
    osc(served.osc_port, "/params", "tension", 1.0, "arousal", 1.0)
    time.sleep(0.5)
    audio = recorder.audio()[:, 0].astype(np.float64)
    start = recorder.recorded_frame(sent) - 2048
    changes = []
    for frequency in (441.0, 1003.0):
        n = np.arange(start, start + 8192)
        baseband = audio[n] * np.exp(-2j * np.pi * frequency * n / RATE)
        width = 480  # the same 10 ms window for both layers
        amplitude = np.abs(np.convolve(baseband, np.ones(width) / width, mode="same")) * 2
        before = np.median(amplitude[width:1024])
        changes.append(int(np.argmax(amplitude > before * 1.5)))
    # both layers start rising within the same audio block
    assert abs(changes[0] - changes[1]) < 64, changes


def test_status_replies_to_the_sender(live: tuple[Served, Recorder]) -> None:
    served, _ = live
    osc(served.osc_port, "/param/arousal", 0.25)
    time.sleep(0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(encode_message("/status", []), ("127.0.0.1", served.osc_port))
        data, _ = sock.recvfrom(65536)
    message = OscPacket(data).messages[0].message
    assert message.address == "/status"
    status = json.loads(message.params[0])
    assert status["section"] == "a"
    assert status["params"]["arousal"] == pytest.approx(0.25)
    assert status["layers"] == ["low", "mid"]


def test_subscribe_sends_beats_with_their_audio_time(
        stem_score: Path, jack: str, noise_reference: NoiseReference) -> None:
    for attempt in noise_reference.attempts(3):  # to a millisecond: see the bundle test
        with attempt, _serving(stem_score, jack) as live:
            _beats_have_their_audio_time(live)


def _beats_have_their_audio_time(live: tuple[Served, Recorder]) -> None:
    served, recorder = live
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2.0)
        sock.sendto(encode_message("/subscribe", []), ("127.0.0.1", served.osc_port))
        osc(served.osc_port, "/section", "b")
        beats: list[tuple[float, list[object]]] = []
        sections: list[str] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            data, _ = sock.recvfrom(65536)
            for timed in OscPacket(data).messages:
                if timed.message.address == "/event/beat":
                    beats.append((timed.time, list(timed.message.params)))
                elif timed.message.address == "/event/section":
                    sections.append(str(timed.message.params[0]))
    assert "b" in sections
    time.sleep(0.3)
    audio = recorder.audio()
    # map wall time to JACK frames (the client's own view of both clocks)
    heard = impulses(audio, threshold=0.3)
    errors = []
    for wall, _ in beats:
        predicted = recorder.recorded_frame(recorder.frame_at(wall))
        if len(heard) and predicted >= heard[0] - RATE // 100:
            errors.append(int(heard[np.argmin(np.abs(heard - predicted))]) - predicted)
    print(f"beat event time errors (samples): {errors}")
    assert len(errors) >= 3, (beats, heard)
    assert max(abs(e) for e in errors) <= RATE // 1000, errors


def test_bundle_with_future_timetag_lands_on_its_sample(
        stem_score: Path, jack: str, noise_reference: NoiseReference) -> None:
    # within a millisecond: an xrun moves the audio a period against the wall until the
    # server's clock steps, so a machine's xrun in the seconds before can fail it
    for attempt in noise_reference.attempts(3):
        with attempt, _serving(stem_score, jack) as live:
            _bundle_lands(live)


def _bundle_lands(live: tuple[Served, Recorder]) -> None:
    served, recorder = live
    time.sleep(0.5)
    timetag = time.time() + 0.4
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_bundle(timetag, "/section", ["b"]), ("127.0.0.1", served.osc_port))
    time.sleep(0.8)
    audio = recorder.audio()
    expected = recorder.recorded_frame(recorder.frame_at(timetag))
    heard = impulses(audio, threshold=0.3)
    assert len(heard) > 0
    error = int(heard[0]) - expected
    print(f"timetag onset error: {error} samples")
    # the server stamps every audio block with the wall clock: within a millisecond
    assert abs(error) <= RATE // 1000, error


def test_timetagged_param_lands_in_its_block(stem_score: Path, jack: str,
                                             noise_reference: NoiseReference) -> None:
    """A parameter change in a future bundle starts at the block boundary nearest its time."""
    for attempt in noise_reference.attempts(3):
        with attempt, _serving(stem_score, jack) as live:
            _param_lands(live)


def _param_lands(live: tuple[Served, Recorder]) -> None:
    served, recorder = live
    time.sleep(0.5)
    timetag = time.time() + 0.3
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_bundle(timetag, "/param/tension", [1.0]),
                    ("127.0.0.1", served.osc_port))
    time.sleep(0.6)
    audio = recorder.audio()[:, 0].astype(np.float64)
    expected = recorder.recorded_frame(recorder.frame_at(timetag))
    n = np.arange(expected - 4096, expected + 4096)
    baseband = audio[n] * np.exp(-2j * np.pi * 441.0 * n / RATE)
    amplitude = np.abs(np.convolve(baseband, np.ones(109) / 109, mode="same")) * 2
    before = np.median(amplitude[200:2048])
    changed = int(n[np.argmax(amplitude > before * 1.3)])
    # at the block boundary nearest its time: within half a block (plus the window)
    assert abs(changed - expected) <= 128 + 120, changed - expected
