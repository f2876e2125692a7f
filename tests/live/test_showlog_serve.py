"""The show log of a real `adaptive serve` process without a sound card (`--audio none`):
written where asked, flushed with its `end` line when SIGINT or SIGTERM stops the server,
and never a reason for the show not to play."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from adaptive.live.osc import encode_message
from tests.live.harness import serve_with


def _send(port: int, *messages: tuple[str, list[object]]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for address, args in messages:
            sock.sendto(encode_message(address, args), ("127.0.0.1", port))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_server_leaves_every_command_in_its_log(stem_score: Path, tmp_path: Path,
                                                          sig: signal.Signals) -> None:
    with serve_with(stem_score, "--audio", "none", "--show-log", str(tmp_path)) as served:
        _send(served.osc_port, ("/param/tension", [0.5]), ("/section", ["b"]),
              ("/stinger", ["hit"]), ("/section", ["nowhere"]))  # the last one: refused
        served.wait_log("stinger hit")
        assert served.stop(sig) == 0
    logs = list(tmp_path.glob("score.show-*.jsonl"))
    assert len(logs) == 1, served.log()
    entries = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert entries[0]["kind"] == "show" and entries[-1]["kind"] == "end"
    commands = [e["command"] for e in entries if e["kind"] == "command"]
    assert commands == [{"cmd": "param", "name": "tension", "value": 0.5},
                        {"cmd": "section", "name": "b", "when": None, "bar": 1,
                         "land_after": None},
                        {"cmd": "stinger", "name": "hit", "when": None}]
    assert {"section", "stinger"} <= {e["event"] for e in entries if e["kind"] == "event"}
    assert f"show log: {len(entries)} lines in {logs[0]}" in served.log()


def test_no_log_when_asked_and_a_bad_place_only_warns(stem_score: Path,
                                                      tmp_path: Path) -> None:
    with serve_with(stem_score, "--audio", "none", "--show-log", "none") as served:
        assert served.stop() == 0
    assert "show log" not in served.log()
    blocked = tmp_path / "file"
    blocked.write_text("")
    place = blocked / "show.jsonl"  # a directory that is a file: cannot be made
    with serve_with(stem_score, "--audio", "none", "--show-log", str(place)) as served:
        _send(served.osc_port, ("/stinger", ["hit"]))
        served.wait_log("stinger hit")  # the show goes on
        time.sleep(0.1)
        assert served.stop() == 0
    assert "show_log_failed: cannot write the show log" in served.log()
