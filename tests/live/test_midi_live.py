"""A MIDI controller into the live server on a real JACK server, its output recorded.

A JACK MIDI client of the test's own (`midi_sender`, in a process of its own) is connected
to the server's MIDI in-port by `serve --midi SENDER:out` and plays a controller: faders
(CCs) move the recorded level of the layer they drive, a pad (a note) fires a stinger
heard in the recording, a pad toggles a mute (from what the music has, even when OSC set
it), a CC button fires what a pad armed, and unmapped, malformed and random messages are
counted in /status while the music plays on.
"""

from __future__ import annotations

import json
import math
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket

from adaptive.live.osc import encode_message
from tests.audio import envelope_db, impulses, sine_level_db
from tests.live.harness import (
    PERIOD,
    RATE,
    NoiseReference,
    Recorder,
    Served,
    Window,
    serve,
)

pytestmark = pytest.mark.jack

AMPLITUDE_DB = 20 * math.log10(0.2)  # the stems' sines

MIDI_MAP = """
name = "live test controller"
[[cc]]
cc = 0
param = "tension"          # low (441 Hz): -20 dB at 0, 0 dB at 1
[[cc]]
cc = 7
layer = "mid"              # mid (1003 Hz): its performer gain
db = [-20.0, 0.0]
[[note]]
note = 36
cmd = "stinger"
name = "hit"
[[note]]
note = 37
cmd = "mute"
layer = "mid"              # each press toggles
[[note]]
note = 38
cmd = "arm"
what = "stinger"
name = "hit"
[[cc]]
cc = 41
cmd = "go"                 # a button that sends CCs (127 pressed, 0 released)
"""


class MidiSender:
    """The test's JACK MIDI client: `send` writes one period's events, returns its frame."""

    def __init__(self, jack_server: str) -> None:
        self.name = f"midi-sender-{uuid.uuid4().hex[:6]}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.live.midi_sender", jack_server, self.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line == "ready", line

    @property
    def port(self) -> str:
        return f"{self.name}:out"

    def send(self, *events: bytes) -> int:
        """The JACK frame of the period the events went out in (all at its first frame)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(event.hex() for event in events) + "\n")
        self.process.stdin.flush()
        word, frame, written = self.process.stdout.readline().split()
        assert word == "sent" and int(written) == len(events), (word, written, len(events))
        return int(frame)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def cc(number: int, value: int) -> bytes:
    return bytes([0xB0, number, value])


def note_on(number: int, velocity: int = 100) -> bytes:
    return bytes([0x90, number, velocity])


def note_off(number: int) -> bytes:
    return bytes([0x80, number, 0])


@contextmanager
def _serving(stem_score: Path, jack: str,
             tmp_path: Path) -> Iterator[tuple[Served, Recorder, MidiSender]]:
    midi_map = tmp_path / "controller.toml"
    midi_map.write_text(MIDI_MAP)
    sender = MidiSender(jack)
    recorder = Recorder(jack, seconds=60)
    recorder.start()
    try:
        with serve(stem_score, jack, "--midi", sender.port, "--midi-map",
                   str(midi_map)) as served:
            served.wait_log(f"MIDI: {sender.port} -> {served.jack_name}-midi:in")
            recorder.connect(served.jack_name)
            time.sleep(0.3)
            recorder.xruns = 0  # start-up (client activation, connections) is not the show
            yield served, recorder, sender
            assert served.stop() == 0, served.log()
    finally:
        recorder.stop()
        sender.close()


@pytest.fixture
def live(stem_score: Path, jack: str,
         tmp_path: Path) -> Iterator[tuple[Served, Recorder, MidiSender]]:
    with _serving(stem_score, jack, tmp_path) as both:
        yield both


def level(audio: np.ndarray, frequency: float, at_frame: int) -> float:  # type: ignore[type-arg]
    return sine_level_db(audio, frequency, RATE, at_frame / RATE, 0.2) - AMPLITUDE_DB


def osc(port: int, address: str, *args: object) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(encode_message(address, list(args)), ("127.0.0.1", port))


def status(served: Served) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(encode_message("/status", []), ("127.0.0.1", served.osc_port))
        data, _ = sock.recvfrom(65536)
    reply: dict[str, Any] = json.loads(OscPacket(data).messages[0].message.params[0])
    return reply


def test_faders_move_the_layers_they_drive(live: tuple[Served, Recorder, MidiSender],
                                          noise: Window) -> None:
    served, recorder, sender = live
    time.sleep(0.6)
    param_sent = recorder.recorded_frame(sender.send(cc(0, 127)))  # tension 0 -> 1
    time.sleep(0.6)
    gain_sent = recorder.recorded_frame(sender.send(cc(7, 0)))  # mid's gain 0 -> -20 dB
    time.sleep(0.6)
    # a flood: a fader swept 0..127 and back down in one period, ending at 0
    flood = [cc(0, v) for v in [*range(128), *range(127, -1, -1)]]
    flood_sent = recorder.recorded_frame(sender.send(*flood))
    time.sleep(0.6)
    audio = recorder.audio()
    quarter = RATE // 4
    before, moved = level(audio, 441, param_sent - quarter), level(audio, 441,
                                                                  param_sent + quarter)
    print(f"441 Hz layer around the fader: {before:.2f} -> {moved:.2f} dB")
    assert abs(before - -20.0) < 0.5 and abs(moved) < 0.5
    assert abs(level(audio, 1003, param_sent + quarter) - -20.0) < 0.5  # the other: still
    before, moved = level(audio, 1003, gain_sent - quarter), level(audio, 1003,
                                                                   gain_sent + quarter)
    print(f"1003 Hz layer around the gain fader: {before:.2f} -> {moved:.2f} dB")
    assert abs(before - -20.0) < 0.5 and abs(moved - -40.0) < 1.0
    assert abs(level(audio, 441, gain_sent + quarter)) < 0.5
    # the flood's last value is the one that plays, and the flood was merged
    assert abs(level(audio, 441, flood_sent + quarter) - -20.0) < 0.5
    counters = status(served)["counters"]
    assert counters.get("midi_coalesced", 0) >= 1, counters
    assert status(served)["params"]["tension"] == pytest.approx(0.0)
    noise.judge(recorder.xruns)


def test_a_fader_sounds_within_a_period_or_two(stem_score: Path, jack: str, tmp_path: Path,
                                              noise_reference: NoiseReference) -> None:
    """From the JACK period a CC arrives in to the first changed output frame: the reader
    is woken by the process callback (not polled), so the change is in the next block
    or the one after (a period of 256 frames; the parameter's 5 ms smoothing starts it)."""
    for attempt in noise_reference.attempts(3):
        with attempt, _serving(stem_score, jack, tmp_path) as live:
            _fader_latency(live)


def _fader_latency(live: tuple[Served, Recorder, MidiSender]) -> None:
    _, recorder, sender = live
    time.sleep(0.4)
    sent = []
    for index in range(10):
        sent.append((recorder.recorded_frame(sender.send(cc(0, 127 if index % 2 == 0
                                                                else 0))), index % 2 == 0))
        time.sleep(0.25)
    time.sleep(0.2)
    audio = recorder.audio()[:, 0].astype(np.float64)
    latencies = []
    for frame, rising in sent:
        n = np.arange(frame - 4096, frame + 4096)
        baseband = audio[n] * np.exp(-2j * np.pi * 441.0 * n / RATE)
        amplitude = np.abs(np.convolve(baseband, np.ones(109) / 109, mode="same")) * 2
        before = np.median(amplitude[200:4000])
        moved = amplitude > before * 1.3 if rising else amplitude < before / 1.3
        moved[:4096 - 2 * PERIOD] = False  # only from the send on (and a little before)
        latencies.append(int(n[np.argmax(moved)]) - frame)
    print(f"MIDI CC to sound (samples, 10 moves): {sorted(latencies)}; median "
          f"{np.median(latencies):.0f} ({np.median(latencies) / RATE * 1000:.2f} ms)")
    assert all(0 <= latency <= 3 * PERIOD for latency in latencies), latencies


def test_a_pad_fires_the_stinger(live: tuple[Served, Recorder, MidiSender],
                                            noise: Window) -> None:
    served, recorder, sender = live
    time.sleep(0.6)
    sent = recorder.recorded_frame(sender.send(note_on(36)))
    sender.send(note_off(36))  # a release fires nothing
    sender.send(note_on(36, velocity=0))  # nor a note-on of velocity 0 (a release too)
    time.sleep(1.2)
    heard = impulses(recorder.audio(), threshold=0.3)
    after = heard[heard >= sent]
    print(f"stinger heard {(after[0] - sent) / RATE * 1000:.1f} ms after the note"
          if len(after) else f"no stinger after frame {sent}: {heard}")
    assert len(after) == 1, after
    # by the next beat (120 bpm: within 0.5 s), with the safety margin of a few blocks
    assert 0 < after[0] - sent <= RATE // 2 + 4 * PERIOD, after[0] - sent
    assert not {"midi_unmapped", "midi_malformed"} & set(status(served)["counters"])
    noise.judge(recorder.xruns)


def test_a_pad_toggles_a_mute_and_a_button_fires_what_is_armed(
        live: tuple[Served, Recorder, MidiSender], noise: Window) -> None:
    served, recorder, sender = live
    time.sleep(0.5)
    muted = recorder.recorded_frame(sender.send(note_on(37)))
    sender.send(note_off(37))
    time.sleep(0.5)
    unmuted = recorder.recorded_frame(sender.send(note_on(37)))
    sender.send(note_off(37))
    time.sleep(0.5)
    osc(served.osc_port, "/layer/mid/mute", 1)  # muted elsewhere: the next press unmutes
    time.sleep(0.3)
    toggled = recorder.recorded_frame(sender.send(note_on(37)))
    sender.send(note_off(37))
    time.sleep(0.3)
    armed = recorder.recorded_frame(sender.send(note_on(38)))
    time.sleep(0.8)
    assert status(served)["armed"] is not None
    went = recorder.recorded_frame(sender.send(cc(41, 127), cc(41, 127)))  # held: fires once
    sender.send(cc(41, 0))
    time.sleep(1.0)
    audio = recorder.audio()
    tenth = RATE // 10
    levels = [level(audio, 1003, muted - 3 * tenth), level(audio, 1003, muted + tenth),
              level(audio, 1003, unmuted + tenth), level(audio, 1003, toggled - 2 * tenth),
              level(audio, 1003, toggled + tenth)]
    print("1003 Hz layer: {:.1f} dB, muted {:.1f}, unmuted {:.1f}, muted over OSC {:.1f}, "
          "unmuted by the pad {:.1f}".format(*levels))
    assert abs(levels[0] - -20.0) < 0.5 and levels[1] < -60.0 and abs(levels[2] - -20.0) < 0.5
    assert levels[3] < -60.0 and abs(levels[4] - -20.0) < 0.5
    assert abs(level(audio, 441, muted + tenth) - -20.0) < 0.5  # the other layer plays on
    heard = impulses(audio, threshold=0.3)
    assert not len(heard[(heard >= armed) & (heard < went)]), "arming fired the stinger"
    after = heard[heard >= went]
    print(f"armed stinger heard {(after[0] - went) / RATE * 1000:.1f} ms after GO"
          if len(after) else f"no stinger after GO at {went}: {heard}")
    assert len(after) == 1 and after[0] - went <= RATE // 2 + 4 * PERIOD, after - went
    assert "go_lockout" not in status(served)["counters"]  # the held button fired once
    noise.judge(recorder.xruns)


def test_bad_messages_are_counted_and_the_music_plays_on(
        live: tuple[Served, Recorder, MidiSender], noise: Window) -> None:
    served, recorder, sender = live
    time.sleep(0.5)
    start = recorder.recorded_frame(sender.send(cc(99, 5), note_on(99)))  # unmapped
    sender.send(b"\xb0\x00", b"\x07\x40")  # malformed: too short, no status byte
    sender.send(b"\xf8", b"\xc0\x05", b"\xe0\x00\x40")  # clock, program change, bend
    counters = {}
    for _ in range(20):
        counters = status(served)["counters"]
        if counters.get("midi_unmapped") == 2 and counters.get("midi_malformed") == 2:
            break
        time.sleep(0.05)
    assert counters.get("midi_unmapped") == 2, counters
    assert counters.get("midi_malformed") == 2, counters
    assert counters.get("midi_ignored") == 3, counters
    # then random bytes for a while: whatever arrives, counted or applied, never fatal
    rng = random.Random(11)
    for _ in range(40):
        events = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
                  for _ in range(20)]
        sender.send(*events)
    end = recorder.recorded_frame(sender.send(cc(0, 0), cc(7, 127)))
    time.sleep(0.5)
    after = status(served)
    assert after["section"] == "a" and after["params"]["tension"] == pytest.approx(0.0)
    assert after["counters"]["midi_malformed"] > 2, after["counters"]
    # the music never stopped: no 10 ms window of the recording fell silent
    envelope = envelope_db(recorder.audio()[start:end + RATE // 4], RATE)
    print(f"quietest 10 ms while the bad messages came: {envelope.min():.1f} dBFS")
    assert envelope.min() > -60.0
    assert abs(level(recorder.audio(), 1003, end + RATE // 4) - -20.0) < 0.5  # gain back
    noise.judge(recorder.xruns)
