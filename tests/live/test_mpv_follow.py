"""`serve --follow mpv:SOCKET` against a real mpv playing a clip made with ffmpeg.

The server starts first and waits for mpv's socket; mpv starts paused; the test drives mpv
through its own IPC connection (play, seek, pause, resume, seek back, quit) and reads the
server's `/status`: the lock's film time against mpv's `time-pos` read at the same moment,
and the lock state. `--audio none` (the clock runs in real time): what is asserted here is
the following of the player; the sound of a chase is measured on JACK by
`test_chase_live`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from adaptive.live.mpv import MpvReports
from tests.live.harness import serve_with
from tests.live.test_first_contact import status

pytestmark = [pytest.mark.slow]

SCORE = """
[sections.reel]
tempo = 120
bars = 8
[sections.reel.layers.drone]
patch = "drone"
"""

DRONE = '''"""A quiet sine: something to play."""
from adaptive.engine.patch_api import ControlSpec, PatchContext

CONTROLS: dict[str, ControlSpec] = {}


def build(ctx: PatchContext):
    return ctx.pyo.Sine(freq=220, mul=0.05).mix(2)
'''

SHEET = """
fps = "24"
start = "01:00:00:00"
[[cue]]
at = "01:00:15:00"
label = "1M2"
cmd = "rest"
"""


class Mpv:
    """A second client of mpv's socket: what an operator's keys would do."""

    def __init__(self, path: Path) -> None:
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
                time.sleep(0.1)
        self.file = self.sock.makefile("r")
        self.request = 0

    def command(self, *args: Any) -> Any:
        self.request += 1
        self.sock.sendall(json.dumps({"command": list(args),
                                      "request_id": self.request}).encode() + b"\n")
        for line in self.file:
            message = json.loads(line)
            if message.get("request_id") == self.request:
                return message.get("data")
        return None

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _film(port: int) -> dict[str, Any]:
    film = status(port)["film"]
    assert isinstance(film, dict)
    return film


def _until(port: int, test: Any, seconds: float = 3.0) -> dict[str, Any]:
    deadline = time.time() + seconds
    while True:
        film = _film(port)
        if test(film) or time.time() > deadline:
            return film
        time.sleep(0.05)


def test_mpv_reports_are_a_players_transport() -> None:
    reports = MpvReports()
    feed = reports.feed
    (paused,) = feed('{"event":"property-change","id":2,"name":"pause","data":true}')
    assert (paused.time, paused.state) == (None, "pause")
    assert feed('{"event":"property-change","id":1,"name":"time-pos","data":0.0}') == []
    (play,) = feed('{"event":"property-change","id":2,"name":"pause","data":false}')
    assert (play.time, play.state) == (None, "play")  # the time comes with the next frame
    assert feed('{"event":"property-change","id":1,"name":"time-pos","data":0.0}') == []
    (tick,) = feed('{"event":"property-change","id":1,"name":"time-pos","data":1.5}')
    assert (tick.time, tick.state) == (1.5, None)
    assert feed('{"event":"seek"}')[0].state == "seek"
    assert feed('{"event":"property-change","id":1,"name":"time-pos","data":30.0}') == []
    (restart,) = feed('{"event":"playback-restart"}')
    assert (restart.time, restart.state) == (None, "play")
    assert feed('{"event":"property-change","id":1,"name":"time-pos","data":30.0}') == []
    (shown,) = feed('{"event":"property-change","id":1,"name":"time-pos","data":30.0417}')
    assert (shown.time, shown.state) == (30.0417, None)
    assert feed('{"event":"end-file","reason":"quit"}')[0].state == "stop"
    assert feed("not json") == [] and reports.bad_lines == 1
    assert feed('{"event":"property-change","name":"time-pos","data":null}') == []


@pytest.mark.skipif(shutil.which("mpv") is None or shutil.which("ffmpeg") is None,
                    reason="needs mpv and ffmpeg (bin/test installs them)")
def test_serve_follows_a_real_mpv(tmp_path: Path) -> None:
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "drone.py").write_text(DRONE)
    (tmp_path / "score.toml").write_text(SCORE)
    (tmp_path / "sheet.toml").write_text(SHEET)
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=24:duration=30", "-c:v", "mpeg4", str(clip)],
                   check=True)
    ipc = tmp_path / "mpv.sock"
    with serve_with(tmp_path / "score.toml", "--audio", "none", "--timeline",
                    str(tmp_path / "sheet.toml"), "--follow", f"mpv:{ipc}") as served:
        assert _film(served.osc_port)["state"] == "stopped"  # no player yet: silent, waiting
        player = subprocess.Popen(["mpv", "--vo=null", "--ao=null", "--pause",
                                   "--keep-open=yes", f"--input-ipc-server={ipc}", str(clip)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mpv = Mpv(ipc)
        try:
            served.wait_log("mpv: following the player", 10)
            time.sleep(0.5)
            assert _film(served.osc_port)["state"] == "stopped"  # paused: the music waits

            def following(film: dict[str, Any], low: float, high: float) -> None:
                assert film["state"] in ("waiting", "locked"), film
                position = float(mpv.command("get_property", "time-pos"))
                assert isinstance(film["film_time"], float), film
                # the lock against the player, read a socket round trip apart
                assert abs(film["film_time"] - position) < 0.1, (film, position)
                assert low <= position <= high, position

            mpv.command("set_property", "pause", False)
            film = _until(served.osc_port, lambda f: f["state"] == "locked")
            following(film, 0.0, 3.0)
            time.sleep(1.0)
            following(_film(served.osc_port), 0.5, 4.0)

            mpv.command("seek", 12, "absolute")
            film = _until(served.osc_port, lambda f: f["state"] == "locked"
                          and isinstance(f["film_time"], float) and f["film_time"] > 11.5)
            following(film, 12.0, 14.0)
            assert film["jumps"] >= 0

            mpv.command("set_property", "pause", True)
            film = _until(served.osc_port, lambda f: f["state"] == "stopped")
            assert film["state"] == "stopped", film
            paused_at = float(mpv.command("get_property", "time-pos"))
            assert abs(film["film_time"] - paused_at) < 0.1, (film, paused_at)

            mpv.command("set_property", "pause", False)
            film = _until(served.osc_port, lambda f: f["state"] == "locked")
            following(film, paused_at, paused_at + 2.0)
            assert film["cue"] in (None, "1M2")

            mpv.command("seek", 3, "absolute")
            film = _until(served.osc_port, lambda f: f["state"] == "locked"
                          and isinstance(f["film_time"], float) and f["film_time"] < 6.0)
            following(film, 3.0, 5.0)

            mpv.command("quit")
            film = _until(served.osc_port, lambda f: f["state"] == "stopped")
            assert film["state"] == "stopped", film
            served.wait_log("the player went away", 5)
        finally:
            mpv.close()
            player.kill()
            player.wait(5)
