"""Streamed stems live: `adaptive serve` on a real JACK server, its disk thread feeding them.

Two sections of 60 s stems (streamed: longer than `stream_longer_than`), seeded noise so
the position of any 10 ms of the recording is known. The server plays `a` for 6 s
(well past the 1.4 s resident head: the rest comes from disk), then `/section b` on the
bar, then `b` for 5 s. On the recording, the music's position advances exactly with the
recording (one sample per sample, across the head/disk boundary), `b` enters on its
first frame, `/status` counts no underrun, and the output never holds stale audio.

A seek into 8 streamed stems (the film's player jumping about a reel): after each jump,
every stem sounds at the film's position within a video frame and the entry fade of the
report (the figure for 32 stems, warm and cold, is `bin/bench seek`).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from adaptive.live.osc import encode_message
from tests.bench.seek import _write as write_reel
from tests.bench.seek import play_jumps
from tests.live.harness import RATE, NoiseReference, Recorder, Window, serve
from tests.live.test_first_contact import status

pytestmark = [pytest.mark.jack, pytest.mark.slow]

SCORE = """
[sections.a]
tempo = 120
bars = 30
[sections.a.layers.bed]
stem = "a.wav"
[sections.b]
tempo = 120
bars = 30
[sections.b.layers.bed]
stem = "b.wav"
[[transitions]]
when = "bar"
fade_out = 0.05
"""

Audio = npt.NDArray[np.float32]


def _noise(path: Path, seed: int) -> Audio:
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal(60 * RATE) * 0.05).astype(np.float32)
    soundfile.write(str(path), np.stack([data, data], axis=1), RATE, subtype="FLOAT")
    return data


def _where(recording: Audio, stem: Audio, at: int, near: int | None,
           window: int = 480) -> int | None:
    """The stem frame the recording plays at sample `at` (searched near `near`, or over
    the whole stem), or None if no part of it matches."""
    chunk = recording[at:at + window].astype(np.float64)
    if np.sqrt(np.mean(chunk ** 2)) < 0.02:
        return None
    low = 0 if near is None else max(0, near - 2400)
    high = len(stem) if near is None else min(len(stem), near + 2400 + window)
    region = stem[low:high].astype(np.float64)
    if near is None:  # the whole stem: by FFT
        size = 1 << int(np.ceil(np.log2(len(region) + window)))
        corr = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(chunk, size)),
                            size)[:len(region) - window + 1]
    else:
        corr = np.correlate(region, chunk, mode="valid")
    lag = int(np.argmax(corr))
    norm = np.linalg.norm(chunk) * np.linalg.norm(region[lag:lag + window]) + 1e-12
    return low + lag if corr[lag] / norm > 0.9 else None


def test_streamed_stems_play_live_from_disk(tmp_path: Path, jack: str,
                                           noise_reference: NoiseReference) -> None:
    for attempt in noise_reference.attempts(2):
        with attempt:
            _play_from_disk(tmp_path, jack, attempt.window)


def _play_from_disk(tmp_path: Path, jack: str, noise: Window) -> None:
    stem_a = _noise(tmp_path / "a.wav", 1)
    stem_b = _noise(tmp_path / "b.wav", 2)
    (tmp_path / "score.toml").write_text(SCORE)
    recorder = Recorder(jack, seconds=30.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(tmp_path / "score.toml", jack, "--jack-connect", ports) as served:
            started = recorder.xruns  # the client joining the graph: not the streaming
            time.sleep(6.0)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(encode_message("/section", ["b"]), ("127.0.0.1", served.osc_port))
            time.sleep(5.0)
            streams = status(served.osc_port)["streams"]
            audio = recorder.audio()[:, 0]
            xruns = recorder.xruns
            served.stop()
    finally:
        recorder.stop()
    print("streams:", streams, f"xruns: {started} at start-up, {xruns - started} after")
    assert isinstance(streams, dict)
    assert streams["stems"] == 2 and streams["underruns"] == 0, streams
    assert streams["playing"] >= 1 and streams["resident_mb"] < 20, streams

    step = RATE // 4
    start = next(i for i in range(0, len(audio), RATE // 100)
                 if np.sqrt(np.mean(audio[i:i + 480] ** 2)) > 0.02)

    def run(stem: Audio, first: int, offset: int, seconds: float) -> list[int]:
        """Offsets (stem frame - recording sample) every quarter second from `first`."""
        offsets = []
        for at in range(first, first + round(seconds * RATE), step):
            found = _where(audio, stem, at, at + offset)
            if found is not None:
                offsets.append(found - at)
        return offsets

    # a: from its start, through the head (1.4 s) into what the disk thread read
    origin = _where(audio, stem_a, start + 480, None)
    assert origin is not None
    offset_a = origin - (start + 480)
    offsets_a = run(stem_a, start + 480, offset_a, 4.5)
    assert len(offsets_a) >= 16, offsets_a
    # one sample per sample; an xrun can only shift the recording by whole periods: one the
    # graph missed plays the music later, one the recorder missed shifts the recording
    whole_periods = {k * 256 for k in range(-xruns, xruns + 1)}
    assert {o - offset_a for o in offsets_a} <= whole_periods, (offsets_a, offset_a)
    # b: its first frame found after the transition (by its first 100 ms), then followed
    region = audio[start + 5 * RATE:].astype(np.float64)
    head = stem_b[:RATE // 10].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(region) + len(head))))
    corr = np.fft.irfft(np.fft.rfft(region, size) * np.conj(np.fft.rfft(head, size)),
                        size)[:len(region) - len(head) + 1]
    switch = start + 5 * RATE + int(np.argmax(corr))
    offsets_b = run(stem_b, switch + RATE // 10, -switch, 3.0)
    assert len(offsets_b) >= 10, offsets_b
    assert {o + switch for o in offsets_b} <= whole_periods, (offsets_b, switch)
    noise.judge(xruns - started)


def test_a_seek_into_streamed_stems_sounds_within_a_frame(
        tmp_path: Path, jack: str, noise_reference: NoiseReference) -> None:
    mix = write_reel(tmp_path, 8)
    for attempt in noise_reference.attempts(2):
        with attempt:
            figures = play_jumps(jack, tmp_path, mix, (25.0, 6.0, 33.0, 14.0), False,
                                 noise_reference)
            print("seek into 8 streamed stems (ms):", figures["settle_ms"], "streams:",
                  figures["streams"], "xruns at", figures["xrun_at"])
            settle = figures["settle_ms"]
            assert figures["missed"] == 0, settle
            # a frame at 24 fps and the 20 ms entry fade (as the chase test), from the report
            assert max(v for v in settle.values() if v is not None) <= 1000 / 24 + 20, settle
            assert figures["streams"]["stems"] == 8, figures["streams"]
            attempt.window.judge(figures["xruns"])
