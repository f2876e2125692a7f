"""What a new user hits first: no sound card, `--audio none`, a busy port, `-v` anywhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive.cli import build_parser
from adaptive.errors import AudioError
from adaptive.live.audio import Devices, check_output_device, list_devices, probe_output_devices
from adaptive.live.osc import encode_message
from tests.live.harness import RATE, free_port, serve_with
from tests.live.harness import osc_status as status

ENV = dict(os.environ, PYO_GUI_WX="0")


def test_no_output_device_is_refused_with_what_to_do() -> None:
    with pytest.raises(AudioError) as error:
        check_output_device(None, lambda: Devices([], [], -1))
    message = str(error.value)
    assert "no audio output device" in message
    assert "--audio jack" in message and "--audio none" in message and "adaptive devices" in message
    with pytest.raises(AudioError, match="--device 7 is not an output device"):
        check_output_device(7, lambda: Devices(["card"], [0], 0))
    assert check_output_device(0, lambda: Devices(["card"], [0], 0)).indexes == [0]

    def crashed() -> Devices:
        raise AudioError("PortAudio failed while listing output devices (signal 11)")

    assert list_devices(crashed)[1] == 1
    assert list_devices(lambda: Devices([], [], -1))[1] == 0


def test_serve_without_a_sound_card_says_so_and_does_not_crash(tmp_path: Path) -> None:
    if probe_output_devices().indexes:
        pytest.skip("this machine has an audio output device")
    done = subprocess.run([sys.executable, "-m", "adaptive.cli", "serve", "--osc",
                           f"127.0.0.1:{free_port()}"], capture_output=True, text=True,
                          timeout=60, env=ENV, check=False)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "no audio output device found" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    devices = subprocess.run([sys.executable, "-m", "adaptive.cli", "devices"],
                             capture_output=True, text=True, timeout=60, env=ENV, check=False)
    assert devices.returncode == 0, devices.stderr
    assert "no PortAudio output device found" in devices.stdout


def test_audio_none_runs_the_clock_in_real_time_and_answers(stem_score: Path) -> None:
    with serve_with(stem_score, "--audio", "none") as served:
        first, started = status(served.osc_port), time.monotonic()
        time.sleep(1.5)
        second, ended = status(served.osc_port), time.monotonic()
        ratio = (int(second["sample"]) - int(first["sample"])) / ((ended - started) * RATE)  # type: ignore[call-overload]
        assert 0.7 < ratio < 1.4, ratio
        assert second["section"] == "a"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(encode_message("/section", ["b"]), ("127.0.0.1", served.osc_port))
        deadline = time.monotonic() + 5
        while status(served.osc_port)["section"] != "b":
            assert time.monotonic() < deadline, status(served.osc_port)
            time.sleep(0.05)
        served.wait_log("section b")  # the music's log line
        assert served.stop() == 0, served.log()
    assert "Traceback" not in served.log()


def test_a_busy_osc_port_is_one_line_and_a_clean_exit(stem_score: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "adaptive.cli", "serve", str(stem_score),
                               "--audio", "none", "--osc", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=60, env=ENV, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "in use" in errors[0], \
        done.stderr


def test_verbose_after_the_subcommand() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve", "-v"]).verbose
    assert parser.parse_args(["-v", "serve"]).verbose
    assert not parser.parse_args(["serve"]).verbose
    assert parser.parse_args(["devices", "--verbose"]).verbose


@pytest.mark.jack
def test_jack_outputs_go_to_the_playback_ports_unless_told_not_to(stem_score: Path,
                                                                  jack: str) -> None:
    import jack as jack_client

    from tests.live.harness import serve

    with serve(stem_score, jack) as served:
        served.wait_log("JACK outputs connected")
        client = jack_client.Client("probe-connections", servername=jack,
                                    no_start_server=True)
        try:
            connected = [[p.name for p in client.get_all_connections(f"{served.jack_name}:"
                                                                     f"output_{i}")]
                         for i in (1, 2)]
        finally:
            client.close()
        assert served.stop() == 0
    assert connected == [["system:playback_1"], ["system:playback_2"]], connected
    assert f"{served.jack_name}:output_1 -> system:playback_1" in served.log()
    with serve(stem_score, jack, "--jack-connect", "none") as served:
        served.wait_log("left unconnected")
        assert served.stop() == 0


def test_a_timeline_plays_into_the_live_server(stem_score: Path, tmp_path: Path) -> None:
    timeline = tmp_path / "cues.toml"
    timeline.write_text('duration = 4.0\n[[cue]]\nat = 0.5\ncmd = "section"\nname = "b"\n'
                        '[[cue]]\nat = 0.5\ncmd = "param"\nname = "tension"\nvalue = 0.75\n')
    with serve_with(stem_score, "--audio", "none", "--timeline", str(timeline)) as served:
        deadline = time.monotonic() + 5
        while status(served.osc_port)["section"] != "b":
            assert time.monotonic() < deadline, status(served.osc_port)
            time.sleep(0.05)
        assert status(served.osc_port)["targets"] == {"tension": 0.75, "arousal": 0.0}
        served.wait_log("why: timeline cues.toml")
        assert served.stop() == 0
    timeline.write_text('[[cue]]\nat = 0.5\ncmd = "section"\nname = "nowhere"\n')
    done = subprocess.run([sys.executable, "-m", "adaptive.cli", "serve", str(stem_score),
                           "--audio", "none", "--osc", f"127.0.0.1:{free_port()}",
                           "--timeline", str(timeline)], capture_output=True, text=True,
                          timeout=60, env=ENV, check=False)
    assert done.returncode == 1 and "nowhere" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.jack
def test_no_jack_server_is_one_line_with_what_to_do() -> None:
    """Before: pyo's and libjack's dozen lines ('Cannot connect to server socket', 'Pyo
    error: Jack unable to create client.', ...) before ours."""
    done = subprocess.run([sys.executable, "-m", "adaptive.cli", "serve", "--audio", "jack",
                           "--jack-server", f"absent-{os.getpid()}", "--osc",
                           f"127.0.0.1:{free_port()}"], capture_output=True, text=True,
                          timeout=60, env=ENV, check=False)
    assert done.returncode == 1
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: no JACK server is running named 'absent-")
    assert "jackd -d dummy" in lines[0] and "--audio none" in lines[0]


def test_a_rehearsal_from_a_timecode_without_a_player(stem_score: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.toml"
    sheet.write_text('fps = "24"\nstart = "01:00:00:00"\n[[cue]]\nat = "01:00:10:00"\n'
                     'label = "1M2"\ncmd = "section"\nname = "b"\n')
    with serve_with(stem_score, "--audio", "none", "--timeline", str(sheet),
                    "--from", "01:00:12:00") as served:
        # asked at once, before the run sounds (it is placed a safety margin ahead): the
        # run's start, never a film time before it (the CI of stop 16 saw 01:00:11:23)
        film = status(served.osc_port)["film"]
        assert isinstance(film, dict)
        assert film["state"] == "free" and film["cue"] == "1M2", film
        assert "01:00:12:00" <= str(film["timecode"]) < "01:00:14:00", film
        deadline = time.monotonic() + 5.0
        while (now := status(served.osc_port))["section"] != "b":
            assert time.monotonic() < deadline, now  # b sounds within the margin
            time.sleep(0.01)
        served.wait_log("running from 01:00:12:00")
        assert served.stop() == 0
    done = subprocess.run([sys.executable, "-m", "adaptive.cli", "serve", str(stem_score),
                           "--audio", "none", "--osc", f"127.0.0.1:{free_port()}",
                           "--timeline", str(sheet), "--from", "01:00:12:40"],
                          capture_output=True, text=True, timeout=60, env=ENV, check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "--from" in lines[-1] and "fix:" in lines[-1], done.stderr
