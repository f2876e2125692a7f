"""The live edge without sockets: OSC addresses and MQTT payloads to commands, or refusals."""

from __future__ import annotations

import json

import pytest

from adaptive.commands import GoToSection, LayerGain, LayerMute, Rest, SetParam, SetParams, Stop
from adaptive.live.inputs import InputRejected
from adaptive.live.osc import OscConfig
from adaptive.live.protocol import command_from_mqtt, command_from_osc


def test_osc_address_space() -> None:
    assert command_from_osc("/param/tension", [0.8]) == SetParam(name="tension", value=0.8)
    assert command_from_osc("/param/tension", [1]) == SetParam(name="tension", value=1.0)
    assert command_from_osc("/params", ["a", 0.1, "b", 2]) == SetParams(
        values={"a": 0.1, "b": 2.0})
    assert command_from_osc("/section", ["chase"]) == GoToSection(name="chase")
    assert command_from_osc("/rest", [4]) == Rest(beats=4.0)
    assert command_from_osc("/transport/stop", []) == Stop()
    assert command_from_osc("/layer/pad/mute", [1]) == LayerMute(layer="pad", on=True)
    assert command_from_osc("/layer/calm.pad/gain", [-6.0]) == LayerGain(layer="calm.pad",
                                                                          db=-6.0)


@pytest.mark.parametrize("address, args, kind", [
    ("/param/tension", [float("nan")], "not_finite"),
    ("/param/tension", [float("-inf")], "not_finite"),
    ("/param/tension", ["high"], "bad_type"),
    ("/param/tension", [True], "bad_type"),
    ("/param/tension", [], "bad_arguments"),
    ("/param/tension", [1, 2], "bad_arguments"),
    ("/params", ["a"], "bad_arguments"),
    ("/section", [3], "bad_type"),
    ("/layer/pad/gain", [99.0], "invalid_command"),
    ("/nothing/here", [], "unknown_address"),
])
def test_osc_refusals_name_their_kind(address: str, args: list[object], kind: str) -> None:
    with pytest.raises(InputRejected) as error:
        command_from_osc(address, args)
    assert error.value.kind == kind


def test_mqtt_payloads() -> None:
    assert command_from_mqtt("param/tension", b"0.5") == SetParam(name="tension", value=0.5)
    assert command_from_mqtt("param/tension", b'{"value": 0.5}') == SetParam(name="tension",
                                                                            value=0.5)
    assert command_from_mqtt("params", json.dumps({"a": 1}).encode()) == SetParams(
        values={"a": 1.0})
    assert command_from_mqtt("cmd", b'{"cmd": "section", "name": "b"}') == GoToSection(
        name="b")


@pytest.mark.parametrize("suffix, payload, kind", [
    ("params", b"\xff\xfe", "bad_utf8"),
    ("params", b"{not json", "bad_json"),
    ("params", b"[1, 2]", "bad_type"),
    ("param/x", b"NaN", "not_finite"),
    ("param/x", b"Infinity", "not_finite"),
    ("cmd", b'{"cmd": "explode"}', "invalid_command"),
    ("cmd", b"x" * 20000, "too_large"),
    ("other", b"1", "unknown_topic"),
])
def test_mqtt_refusals_name_their_kind(suffix: str, payload: bytes, kind: str) -> None:
    with pytest.raises(InputRejected) as error:
        command_from_mqtt(suffix, payload)
    assert error.value.kind == kind


def test_osc_listens_on_loopback_by_default() -> None:
    assert OscConfig().host == "127.0.0.1"
