"""The chase of a real mpv, heard: `serve --follow mpv:SOCKET` on a real JACK server.

mpv (`--vo=null --ao=null`, so its clock is the system's) plays a 60 s clip made with
ffmpeg; the server follows it through mpv's IPC; a separate JACK client records the music
(the seeded-noise reel of `test_chase_live`, whose position any 10 ms of the recording
shows). The test drives mpv through a second IPC connection (play, seek, pause, resume,
seek back, quit); a third one observes `time-pos` and `pause` as the server does and notes
the JACK frame time each notification arrives at: that is the reference for where the film
is, i.e. where mpv says it is (with no picture, nothing else says).

`time-pos` steps once a frame, so a frame is taken to start when its time arrives; the
first time after a seek or an unpause is skipped (mpv repeats the time shown before it
plays on). Two clients of one socket receive a notification a scheduling delay apart, so
positions are asserted to `REFERENCE` (10 ms), not to the 2 ms of the OSC test whose
player is the test itself.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.live.harness import RATE, NoiseReference, Recorder, Window, less_lost_periods, serve
from tests.live.test_chase_live import FADE, FRAME, LOOP, _position, _write

pytestmark = [pytest.mark.jack, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("mpv") is None or shutil.which("ffmpeg") is None,
                                 reason="needs mpv and ffmpeg (bin/test installs them)")]

REFERENCE = 0.010  # seconds: mpv's time-pos read beside JACK's frame time (see above)
CUE_FILM = 43.0


class Ipc:
    """One connection to mpv's JSON IPC: commands with replies; events are noted."""

    def __init__(self, path: Path, frame_time: Any) -> None:
        deadline = time.time() + 20
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("r")
        self.request = 0
        self.frame_time = frame_time
        self.events: list[tuple[int, str]] = []  # (JACK frame seen, event name)

    def command(self, *args: Any) -> Any:
        self.request += 1
        self.sock.sendall(json.dumps({"command": list(args),
                                      "request_id": self.request}).encode() + b"\n")
        for line in self.file:
            message = json.loads(line)
            if "event" in message:
                self.events.append((self.frame_time(), str(message["event"])))
            elif message.get("request_id") == self.request:
                return message.get("data")
        return None

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class Sampler(threading.Thread):
    """mpv's own `time-pos` and `pause` notifications (observed, as the server does, on a
    connection of its own), each beside the JACK frame time it arrived at."""

    def __init__(self, ipc: Ipc) -> None:
        super().__init__(daemon=True)
        self.ipc = ipc
        self.samples: list[tuple[int, float, bool]] = []
        self.running = True

    def run(self) -> None:
        ipc = self.ipc
        for number, name in ((1, "time-pos"), (2, "pause")):
            ipc.sock.sendall(json.dumps({"command": ["observe_property", number, name]})
                             .encode() + b"\n")
        position: float | None = None
        paused = True
        try:
            for line in ipc.file:
                if not self.running:
                    return
                message = json.loads(line)
                if message.get("event") != "property-change":
                    continue
                data = message.get("data")
                if message.get("name") == "pause" and isinstance(data, bool):
                    paused = data
                elif message.get("name") == "time-pos" and isinstance(data, (int, float)):
                    position = float(data)
                else:
                    continue
                if position is not None:
                    self.samples.append((ipc.frame_time(), position, paused))
        except (OSError, ValueError):
            return

    def film_at(self, frame: int) -> float | None:
        """Film seconds on screen at a JACK frame (None: paused, seeking or not started).

        Samples since the last discontinuity (a pause, or a time off the previous one by
        more than 2 frames: a seek) form a segment; a frame starts at the first sample that
        shows it (the segment's first sample excepted: mpv shows a seek's target before it
        plays); the best such start in the last half second is the reference."""
        best: float | None = None
        previous: tuple[int, float] | None = None
        for at, position, paused in self.samples:
            if at > frame:
                break
            if paused:
                best, previous = None, None
                continue
            if previous is None:
                previous = (at, position)
                continue
            expected = previous[1] + (at - previous[0]) / RATE
            if abs(position - expected) > 2 * FRAME:  # a seek: a new segment
                best, previous = None, (at, position)
                continue
            if position != previous[1] and frame - at <= RATE // 2:
                film = position + (frame - at) / RATE
                best = film if best is None else max(best, film)
            previous = (at, position) if position != previous[1] else previous
        return best


def _clip(directory: Path) -> Path:
    clip = directory / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=24:duration=60", "-c:v", "mpeg4", str(clip)],
                   check=True)
    return clip


def test_serve_chases_a_real_mpv_on_jack(tmp_path: Path, jack: str,
                                         noise_reference: NoiseReference) -> None:
    for attempt in noise_reference.attempts(2):
        with attempt:
            _chase_mpv(tmp_path, jack, attempt.window)


def _chase_mpv(tmp_path: Path, jack: str, noise: Window) -> None:
    stem = _write(tmp_path)
    clip = _clip(tmp_path)
    ipc_path = tmp_path / "mpv.sock"
    recorder = Recorder(jack, seconds=40.0)
    recorder.start()
    marks: dict[str, int] = {}
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(tmp_path / "score.toml", jack, "--jack-connect", ports, "--timeline",
                   str(tmp_path / "sheet.toml"), "--follow", f"mpv:{ipc_path}") as served:
            player = subprocess.Popen(["mpv", "--vo=null", "--ao=null", "--pause",
                                       "--keep-open=yes", f"--input-ipc-server={ipc_path}",
                                       str(clip)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            control = Ipc(ipc_path, recorder.frame_time)
            sampler = Sampler(Ipc(ipc_path, recorder.frame_time))
            try:
                served.wait_log("mpv: following the player", 10)
                sampler.start()
                time.sleep(3.0)  # the audio clock's first window (as in test_chase_live)

                def mark(name: str, *command: Any) -> None:
                    marks[name] = recorder.frame_time()
                    control.command(*command)

                mark("play", "set_property", "pause", False)
                time.sleep(2.5)
                mark("jump", "seek", 40, "absolute")
                time.sleep(4.0)  # through the cue at 43 s
                mark("pause", "set_property", "pause", True)
                time.sleep(1.5)
                mark("resume", "set_property", "pause", False)
                time.sleep(2.0)
                mark("back", "seek", 5, "absolute")
                time.sleep(2.5)
                mark("quit", "quit")
                time.sleep(1.5)
                marks["end"] = recorder.frame_time()
            finally:
                sampler.running = False
                control.close()
                player.wait(10)
                sampler.join(5)
                sampler.ipc.close()
            first = recorder.recorded_frame(0)
            audio = recorder.audio()[:, 0]
            xruns = recorder.xruns
            xrun_at = recorder.xrun_frames  # indices in the recording
            served.stop()
            (tmp_path / "serve.log").write_text("\n".join(served.log_lines))
    finally:
        recorder.stop()

    def at(jack_frame: int) -> int:
        return jack_frame + first  # first: recorded_frame(0), minus the first JACK frame

    def clean(index: int) -> bool:
        return not any(0 <= index - x < RATE // 20 for x in xrun_at)

    def error_at(index: int) -> tuple[float, float] | None:
        film = sampler.film_at(index - first)
        if film is None or not clean(index):
            return None
        error, rms = _position(audio, stem, index, (film * RATE) % LOOP)
        return less_lost_periods(error, sum(x <= index for x in xrun_at)), rms

    # 1. after each move, the music at mpv's position within a frame and the fade of the
    #    moment mpv shows the film again (its first new time-pos after the command)
    settle: dict[str, float] = {}
    for name in ("play", "jump", "resume", "back"):
        shown = next(f for f, position, paused in sampler.samples if f > marks[name]
                     and not paused and sampler.film_at(f) is not None)
        start = at(shown)
        for index in range(start, start + RATE // 4, RATE // 1000):
            found = error_at(index)
            if found is not None and abs(found[0]) <= REFERENCE * RATE and found[1] > 0.02:
                settle[name] = (index - start) / RATE
                break
    print("seconds from mpv showing the film to the music there:", settle)
    assert set(settle) == {"play", "jump", "resume", "back"}, settle
    assert max(settle.values()) <= FRAME + FADE + 0.005, settle

    # 2. once locked, the music stays at mpv's position
    errors = []
    for name, seconds in (("jump", 4.0), ("back", 2.5)):
        begin = at(marks[name]) + RATE // 2
        for index in range(begin, begin + round((seconds - 0.8) * RATE), RATE // 10):
            if np.abs(audio[index:index + 480]).max() > 0.5:
                continue  # the cue's impulse, not the reel
            found = error_at(index)
            if found is not None:
                errors.append(found[0])
    errors_ms = np.abs(np.array(errors)) / RATE * 1000
    good = errors_ms[np.isfinite(errors_ms)]
    print(f"locked against mpv: worst {good.max():.2f} ms, median {np.median(good):.2f} ms "
          f"over {len(good)} of {len(errors)} windows")
    assert len(errors) >= 30 and len(good) >= 0.8 * len(errors), \
        f"{len(good)} of {len(errors)} windows found"
    assert good.max() <= REFERENCE * 1000, (f"worst {good.max():.3f} ms, window "
                                            f"{int(np.argmax(errors_ms))}; xruns at {xrun_at}")

    # 3. the cue at film 43 s against mpv's film time
    region = np.arange(at(marks["jump"]), at(marks["pause"]))
    clicks = region[np.abs(audio[region]) > 0.5]
    assert len(clicks) >= 1
    film = sampler.film_at(int(clicks[0]) - first)
    assert film is not None
    cue_error = less_lost_periods((film - CUE_FILM) * RATE,
                                  sum(x <= int(clicks[0]) for x in xrun_at)) / RATE
    print(f"cue against mpv: {cue_error * 1000:+.2f} ms")
    assert abs(cue_error) <= REFERENCE

    # 4. silent while paused (from a frame and the fade after the command), and after quit
    quiet = audio[at(marks["pause"]) + round((2 * FRAME + FADE) * RATE):at(marks["resume"])]
    assert np.abs(quiet).max() < 1e-3, np.abs(quiet).max()
    after = audio[at(marks["quit"]) + round(0.3 * RATE):at(marks["end"])]
    assert np.abs(after).max() < 1e-3, np.abs(after).max()
    noise.judge(xruns)  # last: the figures above are printed first
