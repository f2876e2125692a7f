"""The chase on a real JACK server: a player's OSC transport reports move the music.

`adaptive serve --timeline SHEET` plays a score whose one section is a 20 s stem of
seeded noise, so the position the music is at can be read from any 10 ms of the recording
(by correlation with the stem), and a cue plays an impulse stinger at a film time. A
simulated player sends `/transport/time` every frame (the time of the frame on screen)
and `/transport/state`, as a video player does: play from 10 s, jump to 40 s, pause,
resume, jump back to 5 s, then fall silent (a crashed player).

Measured on the recording, against the film time the player was at (from its reports'
wall-clock times, through the recorder's JACK frame clock): the time from each jump's
report to the music at the right position; silence during the pause; the position error
once locked; the cue's impulse against its film time; freewheel then silence on loss.

Tolerated noise: an xrun shifts the recording by a period (5.3 ms) against the frame
clock, and a period the server's graph missed plays the music a period late from then on
(less than half a frame: the chase does not re-chase for it). So errors are read less the
whole periods the xruns counted before them can explain, and windows within 50 ms after an
xrun are left out. A plain pyo client on
a JACK server of its own counts the machine's xruns in the same seconds: a failure while
it had none is final; while it had some, the scenario runs once more, then the test is
skipped with the counts (`harness.NoiseReference.attempts`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from adaptive.live.osc import encode_message
from tests.live.harness import RATE, NoiseReference, Recorder, Window, less_lost_periods, serve

pytestmark = [pytest.mark.jack, pytest.mark.slow]

FPS = 24
FRAME = 1 / FPS
LOOP = 20 * RATE  # the reel: 10 bars at 120 BPM
FADE = 0.02
CUE_FILM = 43.0  # the impulse stinger's film time
CLOCKS = 0.002
"""Seconds the reference may be off: film time on the recording is read through the
recorder's JACK frame clock and the server's through its own audio clock (the median of
block stamps); the two were measured up to 1.7 ms apart in one segment, 0.05 ms in the
next, so positions and the cue are asserted to 2 ms, and printed."""

SCORE = """
[sections.reel]
tempo = 120
bars = 10
[sections.reel.layers.noise]
stem = "reel.wav"
[stingers.click]
stem = "click.wav"
when = "immediate"
"""

SHEET = f"""
fps = "24"
start = "01:00:00:00"
[[cue]]
at = {CUE_FILM}
label = "1M3"
cmd = "stinger"
name = "click"
"""


def _write(directory: Path) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(11)
    noise = (rng.standard_normal(LOOP) * 0.05).astype(np.float32)
    soundfile.write(str(directory / "reel.wav"), np.stack([noise, noise], axis=1), RATE,
                    subtype="FLOAT")
    click = np.zeros(RATE // 2, dtype=np.float32)
    click[0] = 0.9
    soundfile.write(str(directory / "click.wav"), click, RATE, subtype="FLOAT")
    (directory / "score.toml").write_text(SCORE)
    (directory / "sheet.toml").write_text(SHEET)
    return noise


class Player:
    """Sends what a video player sends: the time of the frame on screen, each frame."""

    def __init__(self, port: int, frame_time: Callable[[], int]) -> None:
        self.port = port
        self.frame_time = frame_time
        self.clock: list[tuple[float, int]] = []  # (wall, JACK frame time) read together
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.segments: list[tuple[float, float, float, float]] = []
        """(wall from, film, wall to, speed) of each stretch of play."""
        self.marks: dict[str, float] = {}  # wall time of each scripted moment

    def send(self, address: str, *args: object) -> None:
        self.sock.sendto(encode_message(address, list(args)), ("127.0.0.1", self.port))

    def play(self, film: float, seconds: float, speed: float = 1.0) -> None:
        """Play from `film` for `seconds` of the wall clock; `speed`: the player's clock
        against the wall's (a drifting player: 1.002 runs 2,000 ppm fast)."""
        start = time.time()
        self.send("/transport/time", float(film))
        self.send("/transport/state", "play")
        shown = -1
        while (now := time.time()) < start + seconds:
            frame = int((film + (now - start) * speed) * FPS)
            if frame != shown:
                shown = frame
                self.send("/transport/time", frame / FPS)
                self.clock.append((time.time(), self.frame_time()))
            time.sleep(0.001)
        self.segments.append((start, film, time.time(), speed))

    def wait(self, seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            self.clock.append((time.time(), self.frame_time()))
            time.sleep(FRAME)

    def film_at(self, wall: float) -> float | None:
        """The film time on screen at a wall time (None while not playing)."""
        for start, film, end, speed in self.segments:
            if start <= wall < end:
                return film + (wall - start) * speed
        return None


class Reference:
    """Film time on the recording: the player's wall-clock times through the recorder's
    JACK frame clock, read beside them all along (the dummy driver's clock drifts from the
    wall's by up to ~100 ppm here, as the server's clock follows)."""

    def __init__(self, player: Player, first: int) -> None:
        self.player = player
        self.first = first  # the JACK frame of the recording's sample 0
        self.walls = np.array([wall for wall, _ in player.clock])
        offsets = np.array([frame - wall * RATE for wall, frame in player.clock])
        self.smooth = np.array([np.median(offsets[max(0, i - 12):i + 13])
                                for i in range(len(offsets))])

    def frame_of(self, wall: float) -> int:
        """The recording's sample at a wall time."""
        return round(wall * RATE + float(np.interp(wall, self.walls, self.smooth))) + self.first

    def wall_of(self, at: int) -> float:
        """The wall time of the recording's sample `at`."""
        jack_frame = at - self.first
        wall = jack_frame / RATE
        for _ in range(3):  # invert frame_of (its offset varies slowly with the wall time)
            wall = (jack_frame - float(np.interp(wall, self.walls, self.smooth))) / RATE
        return wall

    def expected(self, at: int) -> float | None:
        """Film samples on screen at the recording's sample `at` (None: not playing)."""
        film = self.player.film_at(self.wall_of(at))
        return None if film is None else film * RATE


def _position(recording: npt.NDArray[np.float32], stem: npt.NDArray[np.float32], at: int,
              expected: float, window: int = 480, search: int = 9600) -> tuple[float, float]:
    """(error in samples of the music's position against `expected`, the window's RMS)."""
    chunk = recording[at:at + window].astype(np.float64)
    rms = float(np.sqrt(np.mean(chunk ** 2)))
    low = int(expected) - search
    indexes = np.arange(low, low + 2 * search + window) % LOOP
    region = stem[indexes].astype(np.float64)
    corr = np.correlate(region, chunk, mode="valid")
    lag = int(np.argmax(corr))
    peak = corr[lag] / (np.linalg.norm(chunk) * np.linalg.norm(region[lag:lag + window]) + 1e-12)
    if peak < 0.5:
        return float("inf"), rms
    return float(low + lag - expected), rms


def test_osc_transport_play_jump_pause_resume_jump_back_and_loss(
        tmp_path: Path, jack: str, noise_reference: NoiseReference) -> None:
    for attempt in noise_reference.attempts(2):
        with attempt:
            _play_the_scenario(tmp_path, jack, attempt.window)


def _play_the_scenario(tmp_path: Path, jack: str, noise: Window) -> None:
    stem = _write(tmp_path)
    recorder = Recorder(jack, seconds=40.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(tmp_path / "score.toml", jack, "--jack-connect", ports, "--timeline",
                   str(tmp_path / "sheet.toml"), "--follow", "osc") as served:
            player = Player(served.osc_port, recorder.frame_time)
            # the audio clock's first window (512 blocks, 2.7 s: session.ClockSampling) sets
            # the wall/sample mapping; before it closes, the median of the stamps so far was
            # measured up to 60 samples (1.3 ms) off, which would move the whole lock
            player.wait(3.0)
            player.marks["play"] = time.time()
            player.play(10.0, 2.5)
            player.send("/transport/state", "seek")
            player.marks["jump"] = time.time()
            player.play(40.0, 4.0)  # through the cue at 43 s
            player.send("/transport/state", "pause")
            player.marks["pause"] = time.time()
            player.wait(1.5)
            player.marks["resume"] = time.time()
            player.play(44.0, 2.0)
            player.marks["back"] = time.time()
            player.play(5.0, 2.5)
            player.marks["loss"] = time.time()
            player.wait(1.5)
            player.marks["end"] = time.time()
            player.sock.close()
            first = recorder.recorded_frame(0)
            audio = recorder.audio()[:, 0]
            xruns = recorder.xruns
            xrun_at = recorder.xrun_frames  # indices in the recording
            served.stop()
            (tmp_path / "serve.log").write_text("\n".join(served.log_lines))  # to read a failure
    finally:
        recorder.stop()

    reference = Reference(player, first)
    frame_of, expected = reference.frame_of, reference.expected

    def clean(at: int) -> bool:
        return not any(0 <= at - x < RATE // 20 for x in xrun_at)

    def error_at(at: int, want: float) -> tuple[float, float]:
        """The position error at `at` less the periods xruns before it can explain."""
        error, rms = _position(audio, stem, at, want % LOOP)
        return less_lost_periods(error, sum(x <= at for x in xrun_at)), rms

    # 1. each jump: the music is at the right position within a frame plus the fade
    report = {"play": player.marks["play"], "jump": player.marks["jump"],
              "resume": player.marks["resume"], "back": player.marks["back"]}
    settle: dict[str, float] = {}
    for name, wall in report.items():
        start = frame_of(wall)
        for at in range(start, start + RATE // 4, RATE // 1000):
            want = expected(at)
            if want is None or not clean(at):
                continue
            error, rms = error_at(at, want)
            if abs(error) <= CLOCKS * RATE and rms > 0.02:
                settle[name] = (at - start) / RATE
                break
    print("seconds from report to the right position:", settle)
    assert set(settle) == set(report), settle
    assert max(settle.values()) <= FRAME + FADE + 0.005, settle

    # 2. once locked, the position error stays within 1 ms
    errors = []
    for name, seconds in (("jump", 4.0), ("back", 2.5)):
        begin = frame_of(report[name]) + RATE // 2
        for at in range(begin, begin + round((seconds - 0.7) * RATE), RATE // 10):
            want = expected(at)
            clicked = np.abs(audio[at:at + 480]).max() > 0.5  # the cue's impulse, not noise
            if want is not None and clean(at) and not clicked:
                errors.append(error_at(at, want)[0])
    errors_ms = np.abs(np.array(errors)) / RATE * 1000
    found = errors_ms[np.isfinite(errors_ms)]
    print(f"locked position error: worst {found.max():.3f} ms, median "
          f"{np.median(found):.3f} ms over {len(found)} of {len(errors)} windows")
    # the rest: a re-chase's cross-fade
    assert len(found) >= 0.8 * len(errors), f"{len(found)} of {len(errors)} windows found"
    assert found.max() <= CLOCKS * 1000, (f"worst {found.max():.3f} ms, window "
                                          f"{int(np.argmax(errors_ms))}; xruns at {xrun_at}")

    # 3. the cue at film 43 s: its impulse against the film time
    region = np.arange(frame_of(player.marks["jump"]), frame_of(player.marks["pause"]))
    clicks = region[np.abs(audio[region]) > 0.5]
    assert len(clicks) >= 1
    lost = sum(x <= int(clicks[0]) for x in xrun_at)
    cue_error = less_lost_periods((expected(int(clicks[0])) or 0.0) - CUE_FILM * RATE,
                                  lost) / RATE
    print(f"cue error {cue_error * 1000:+.3f} ms")
    assert abs(cue_error) <= CLOCKS, cue_error

    # 4. the pause: silent from a frame after the report until the resume
    quiet = audio[frame_of(player.marks["pause"]) + round((FRAME + FADE) * RATE):
                  frame_of(player.marks["resume"])]
    print(f"pause: peak {20 * np.log10(np.abs(quiet).max() + 1e-12):.1f} dBFS")
    assert np.abs(quiet).max() < 1e-3, np.abs(quiet).max()  # -60 dB: the master's DC
    # filter still lets the cue's full-scale impulse of a second before decay (-71 dB seen)

    # 5. loss: rolling through the freewheel time (8 frames), silent after twice that
    loss = frame_of(player.marks["loss"])
    rolling = audio[loss + round(0.05 * RATE):loss + round(8 * FRAME * RATE)]
    assert np.sqrt(np.mean(rolling ** 2)) > 0.02
    after = audio[loss + round((16 * FRAME + FADE + 0.1) * RATE):frame_of(player.marks["end"])]
    assert np.abs(after).max() < 1e-4
    noise.judge(xruns)  # last: the figures above are printed first


DRIFT = 0.002
"""The drifting player's clock against the wall's: 2,000 ppm (a real one is off by tens;
this is half a frame in 10 s, so the test sees a handful of nudges in 24 s)."""


def test_a_drifting_player_is_followed_by_varispeed_without_a_re_chase(
        tmp_path: Path, jack: str, noise_reference: NoiseReference) -> None:
    """A player whose clock runs 2,000 ppm fast for 24 s (48 ms: past a frame): without
    varispeed the music would re-chase on a bar twice; with it (`--varispeed 0.5`), the
    server logs nudges and no re-chase, and the music's position on the recording stays
    within 5 ms of the picture once the nudges have learnt the drift."""
    for attempt in noise_reference.attempts(2):
        with attempt:
            _follow_the_drift(tmp_path / f"attempt-{attempt.index}", jack, attempt.window)


def _follow_the_drift(directory: Path, jack: str, noise: Window) -> None:
    directory.mkdir()
    stem = _write(directory)
    recorder = Recorder(jack, seconds=40.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(directory / "score.toml", jack, "--jack-connect", ports, "--timeline",
                   str(directory / "sheet.toml"), "--follow", "osc",
                   "--varispeed", "0.5") as served:
            player = Player(served.osc_port, recorder.frame_time)
            player.wait(3.0)  # the audio clock's first window (see the scenario above)
            player.marks["play"] = time.time()
            player.play(10.0, 24.0, speed=1 + DRIFT)
            player.send("/transport/state", "pause")
            player.wait(0.5)
            player.sock.close()
            first = recorder.recorded_frame(0)
            audio = recorder.audio()[:, 0]
            xruns = recorder.xruns
            xrun_at = recorder.xrun_frames
            status = served.status()
            served.stop()
            lines = list(served.log_lines)
            (directory / "serve.log").write_text("\n".join(lines))
    finally:
        recorder.stop()

    nudges = [line for line in lines if "the picture: s" in line]  # speeding or slowing
    rechases = [line for line in lines if "re-chasing" in line]
    print(f"{len(nudges)} nudges, {len(rechases)} re-chases; first: "
          f"{nudges[0] if nudges else None}")
    assert rechases == [] and len(nudges) >= 3, (nudges, rechases)
    assert status["film"]["nudges"] == len(nudges)  # type: ignore[index]

    reference = Reference(player, first)
    # from 15 s: the first lock (a report up to a frame late) is nudged onto the settled
    # one once the nudges' 4-s window is full, and the nudges learn the drift's rate
    # over two windows more (before, they trail a drift this fast by up to 9 ms)
    begin = reference.frame_of(player.marks["play"]) + 15 * RATE
    errors = []
    for at in range(begin, begin + 8 * RATE, RATE // 4):
        want = reference.expected(at)
        if want is None or any(0 <= at - x < RATE // 20 for x in xrun_at):
            continue
        error, rms = _position(audio, stem, at, want % LOOP)
        if rms > 0.02:  # the music sounds (not a fade)
            errors.append(less_lost_periods(error, sum(x <= at for x in xrun_at)) / RATE * 1000)
    found = np.abs(np.array(errors))
    found = found[np.isfinite(found)]
    print(f"position against the drifting picture: worst {found.max():.2f} ms, median "
          f"{np.median(found):.2f} ms over {len(found)} of {len(errors)} windows")
    # a window read while a nudge runs (0.5 %: 2.4 samples over its 10 ms) no longer
    # matches white noise at one lag: a fifth of them may go unread (seen: 26 of 32)
    assert len(found) >= 0.6 * len(errors), f"{len(found)} of {len(errors)} windows found"
    assert found.max() <= 5.0, found.max()
    noise.judge(xruns)
