"""The protocol tables are the one definition: parsing, `adaptive send` and the README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adaptive.commands import SetParam
from adaptive.live.client import check_osc
from adaptive.live.protocol import (
    MQTT_TOPICS,
    OSC_ADDRESSES,
    QUERIES,
    command_from_mqtt,
    command_from_osc,
    mqtt_subscriptions,
    mqtt_table,
    osc_address,
    osc_table,
)

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_the_readme_tables_are_the_protocol_tables() -> None:
    assert osc_table() in README
    assert mqtt_table() in README


def test_every_row_parses_what_it_documents() -> None:
    examples = {"/param/<name>": [0.5], "/params": ["a", 1.0], "/state": ["x"],
                "/section": ["x"], "/stinger": ["x"], "/rest": [], "/resume": [],
                "/transport/play": [], "/transport/stop": [], "/layer/<name>/mute": [1],
                "/layer/<name>/solo": [0], "/layer/<name>/gain": [-3.0],
                "/layer/<name>/auto": [], "/transport/time": [12.5],
                "/transport/timecode": ["01:00:00:00"], "/transport/state": ["pause"],
                "/arm": ["section", "x"], "/go": [], "/disarm": [], "/vamp": [2],
                "/devamp": ["beat"], "/panic": [0.0]}
    for row in OSC_ADDRESSES:
        address = row.pattern.replace("<name>", "pad")
        found = osc_address(address)
        assert found is not None and found[0] is row
        if row.build is None:
            assert row.pattern in QUERIES
            continue
        command = command_from_osc(address, examples[row.pattern])
        assert command is not None
    assert {"/status", "/subscribe", "/unsubscribe"} == QUERIES
    assert osc_address("/param") is None and osc_address("/param//x") is None
    assert command_from_mqtt("param/x", b"0.25") == SetParam(name="x", value=0.25)
    assert mqtt_subscriptions("p") == ["p/param/+", "p/params", "p/cmd", "p/transport"]
    assert {t.pattern for t in MQTT_TOPICS if t.build is None} == {"status", "event/<kind>",
                                                                   "online"}


def test_send_checks_a_message_against_the_table() -> None:
    assert check_osc("/param/tension", [0.5]) is None
    assert check_osc("/status", []) is None
    assert "no such OSC address" in str(check_osc("/paramz/tension", [0.5]))
    assert "expected a number" in str(check_osc("/param/tension", ["loud"]))
    done = subprocess.run([sys.executable, "-m", "adaptive.cli", "send", "/section"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2 and "expected 1 argument" in done.stderr, done.stderr
    helped = subprocess.run([sys.executable, "-m", "adaptive.cli", "send", "--help"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert all(row.pattern in helped.stdout for row in OSC_ADDRESSES)


def test_transport_reports_parse_and_bad_ones_are_refused() -> None:
    from adaptive.commands import Transport
    from adaptive.live.inputs import InputRejected

    assert command_from_osc("/transport/time", [12]) == Transport(time=12.0)
    assert command_from_osc("/transport/state", ["play"]) == Transport(state="play")
    assert command_from_mqtt("transport", b'{"time": 3.5, "state": "pause"}') == \
        Transport(time=3.5, state="pause")
    assert command_from_mqtt("transport", b'{"timecode": "01:00:00:00"}') == \
        Transport(timecode="01:00:00:00")
    for address, args in (("/transport/time", [-1.0]), ("/transport/time", [float("nan")]),
                          ("/transport/time", [1e9]), ("/transport/time", ["soon"]),
                          ("/transport/state", ["dance"]), ("/transport/state", [])):
        with pytest.raises(InputRejected):
            command_from_osc(address, args)
    for payload in (b"12", b'{"tempo": 1}', b'{"time": "x"}', b"{not json"):
        with pytest.raises(InputRejected):
            command_from_mqtt("transport", payload)
