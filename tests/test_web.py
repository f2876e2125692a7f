"""The control surface without a browser or a network: its rules (token, address, frames),
its meters measured in an offline graph, its metrics moving with commands, and its app
through Starlette's in-process client against a real controller."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from adaptive.commands import LayerGain, SetParam
from adaptive.live.controller import Controller, Event
from adaptive.live.inputs import InputRejected
from adaptive.web.metrics import Metrics, source_label
from adaptive.web.server import Surface
from adaptive.web.surface import (
    HttpConfig,
    HttpConfigError,
    command_names,
    is_loopback,
    parse_message,
    score_view,
    status_view,
    token_ok,
)
from tests.audio import write_sine

RATE = 48000
BLOCK = 256


# ------------------------------------------------------------------ pure rules

def test_http_values_parse_or_say_what_is_wrong() -> None:
    assert HttpConfig.parse("127.0.0.1:8080") == HttpConfig("127.0.0.1", 8080)
    assert HttpConfig.parse("8081") == HttpConfig("127.0.0.1", 8081)
    assert HttpConfig.parse(":8082") == HttpConfig("127.0.0.1", 8082)
    assert HttpConfig.parse("[::1]:8083") == HttpConfig("::1", 8083)
    assert HttpConfig.parse("0.0.0.0:80", "s3cret").token == "s3cret"
    for bad in ("host:port", "127.0.0.1:", "1.2.3.4:70000", ""):
        with pytest.raises(HttpConfigError, match="--http"):
            HttpConfig.parse(bad)
    with pytest.raises(HttpConfigError, match="empty"):
        HttpConfig.parse("0.0.0.0:80", " ")


def test_a_token_is_needed_beyond_loopback_only() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host)
        assert not HttpConfig(host, 1).needs_token
        assert HttpConfig(host, 1).with_token().token is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "stage.local"):
        assert HttpConfig(host, 1).needs_token
    made = HttpConfig("0.0.0.0", 1).with_token()
    assert made.token is not None and len(made.token) >= 16
    assert HttpConfig("0.0.0.0", 1, "mine").with_token().token == "mine"


def test_token_check() -> None:
    assert token_ok(None, None) and token_ok(None, "anything")
    assert token_ok("abc", "abc")
    assert not token_ok("abc", None)
    assert not token_ok("abc", "abd")
    assert not token_ok("abc", "")


def test_frames_parse_like_mqtt_cmd() -> None:
    assert parse_message('{"cmd": "param", "name": "x", "value": 0.5}') == \
        SetParam(name="x", value=0.5)
    assert parse_message(b'{"cmd": "layer_gain", "layer": "a.b", "db": -6}') == \
        LayerGain(layer="a.b", db=-6.0)
    for frame, kind in (("nope", "bad_json"), ("[1, 2]", "bad_type"),
                        ('{"cmd": "param", "name": "x"}', "invalid_command"),
                        ('{"cmd": "param", "name": "x", "value": NaN}', "not_finite"),
                        ('{"cmd": "warp"}', "invalid_command"),
                        (b"\xff\xfe", "bad_utf8"), ("x" * 20000, "too_large")):
        with pytest.raises(InputRejected) as caught:
            parse_message(frame)
        assert caught.value.kind == kind, frame


def test_the_page_offers_what_the_vocabulary_has() -> None:
    names = command_names()
    assert {"param", "section", "stinger", "rest", "resume", "mute", "layer_gain"} <= set(names)


def test_status_view_carries_levels_and_error_ages() -> None:
    view = status_view({"section": "a"}, {"a.low": (-6.0, -9.0)},
                       [(10.0, "bad_json", "web: invalid JSON")], 2, now=12.5)
    assert view["levels"] == {"a.low": {"peak_db": -6.0, "rms_db": -9.0}}
    assert view["errors"] == [{"age": 2.5, "kind": "bad_json", "message": "web: invalid JSON"}]
    assert view["clients"] == 2 and view["type"] == "status"


def test_source_labels() -> None:
    assert source_label("OSC ") == "osc"
    assert source_label("MQTT ") == "mqtt"
    assert source_label("web ") == "web"
    assert source_label("") == "internal"


# ------------------------------------------------------ an offline graph and controller

SCORE = """
[parameters.tension]
smoothing = 0.0
[sections.a]
tempo = 120
bars = 2
[sections.a.layers.low]
stem = "low.wav"
gain = { tension = [[0.0, -20.0], [1.0, 0.0]] }
[sections.a.layers.mid]
stem = "mid.wav"
[stingers.hit]
stem = "mid.wav"
when = "beat"
"""


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[Any, Controller]]:
    from adaptive.engine.engine import Engine, import_pyo
    from adaptive.render import manual_server
    from adaptive.score.load import load_score

    write_sine(tmp_path / "low.wav", 441.0, 4.0, amplitude=0.5)
    write_sine(tmp_path / "mid.wav", 1003.0, 4.0, amplitude=0.5)
    (tmp_path / "score.toml").write_text(SCORE)
    loaded = load_score(tmp_path / "score.toml")
    pyo = import_pyo()
    with manual_server(pyo, loaded.sample_rate, 1) as server:
        engine = Engine(pyo, loaded, 1, meters=True)
        control = Controller(loaded.score, engine, loaded.sample_rate, BLOCK)
        control.tick()
        server.start()
        engine.start()
        yield server, control
        control.bus.close()
        del engine, control


def _run(server: Any, control: Controller, seconds: float) -> None:
    for _ in range(round(seconds * RATE / BLOCK)):
        server.process()
        control.tick()


def test_meters_measure_each_layer_in_the_graph(controller: tuple[Any, Controller]) -> None:
    server, control = controller
    _run(server, control, 0.5)
    levels = control.levels()
    assert set(levels) == {"a.low", "a.mid"}
    sine_rms = 20 * math.log10(0.5 / math.sqrt(2))
    # low: tension 0 puts it at -20 dB; mid at 0 dB
    assert abs(levels["a.mid"][1] - sine_rms) < 0.3, levels
    assert abs(levels["a.low"][1] - (sine_rms - 20)) < 0.3, levels
    assert abs(levels["a.mid"][0] - 20 * math.log10(0.5)) < 0.3, levels  # the peak
    control.submit(LayerGain(layer="a.mid", db=-12.0), source="test ")
    _run(server, control, 0.5)
    after = control.levels()
    assert abs(after["a.mid"][1] - (sine_rms - 12)) < 0.3, after
    assert abs(after["a.low"][1] - levels["a.low"][1]) < 0.1, after  # the other one did not move


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_move_with_commands_and_events(controller: tuple[Any, Controller]) -> None:
    server, control = controller
    metrics = Metrics(control, clients=lambda: 3, xruns=lambda: 7)
    detach = metrics.attach()
    _run(server, control, 0.1)
    control.submit(SetParam(name="tension", value=0.5), source="OSC ")
    control.submit(SetParam(name="tension", value=0.6), source="OSC ")
    control.submit(SetParam(name="nope", value=0.6), source="OSC ")  # refused
    control.submit_batch([(LayerGain(layer="a.low", db=-3.0), None)], "web ", "web_coalesced")
    metrics.on_event(Event("stinger", ("hit",), 0))
    metrics.on_event(Event("rest", (), 0))
    samples = _samples(metrics.text().decode())
    assert samples[("adaptive_commands_total", (("kind", "param"), ("source", "osc")))] == 2
    assert samples[("adaptive_commands_total",
                    (("kind", "layer_gain"), ("source", "web")))] == 1
    assert samples[("adaptive_rejections_total", (("kind", "unknown_name"),))] == 1
    assert samples[("adaptive_control_latency_seconds_count", (("source", "osc"),))] == 2
    assert samples[("adaptive_stingers_total", (("name", "hit"),))] == 1
    assert samples[("adaptive_rests_total", ())] == 1
    assert samples[("adaptive_websocket_clients", ())] == 3
    assert samples[("adaptive_xruns_total", ())] == 7
    assert samples[("adaptive_stream_underruns_total", ())] == 0
    assert ("adaptive_chase_locked", ()) not in samples  # no cue sheet
    # latency: never more than one block ahead of the clock's "now" (a ManualClock-free
    # offline graph: the mapping comes from the counter read now)
    total = samples[("adaptive_control_latency_seconds_sum", (("source", "osc"),))]
    assert 0 <= total <= 2 * (2 * BLOCK / RATE)
    detach()
    control.submit(SetParam(name="tension", value=0.7), source="OSC ")
    again = _samples(metrics.text().decode())
    assert again[("adaptive_commands_total", (("kind", "param"), ("source", "osc")))] == 2


# ------------------------------------------------------- the app, in process

def test_page_socket_and_metrics_without_a_token_on_loopback(
        controller: tuple[Any, Controller]) -> None:
    _, control = controller
    surface = Surface(control, HttpConfig("127.0.0.1", 0))
    with TestClient(surface.app) as client:
        page = client.get("/")
        assert page.status_code == 200 and "/static/app.js" in page.text
        assert client.get("/static/app.js").status_code == 200
        with client.websocket_connect("/ws") as ws:
            score = json.loads(ws.receive_text())
            assert score["type"] == "score"
            assert [p["name"] for p in score["parameters"]] == ["tension"]
            assert score["layers"] == ["a.low", "a.mid"] and score["stingers"] == ["hit"]
            ws.send_text(json.dumps({"cmd": "param", "name": "tension", "value": 0.75}))
            ws.send_text("not json")
            ws.send_bytes(b'{"cmd": "param", "name": "tension", "value": 0.75}')
            ws.send_bytes(b"\xff")
        assert client.get("/metrics").status_code == 200
    assert control.status()["targets"]["tension"] == pytest.approx(0.75)
    counts = control.stats.snapshot()
    assert counts.get("bad_json") == 1 and counts.get("bad_utf8") == 1
    assert "web_error" not in counts  # a binary frame is read like a text one


def test_beyond_loopback_a_wrong_token_is_refused(controller: tuple[Any, Controller]) -> None:
    _, control = controller
    surface = Surface(control, HttpConfig("0.0.0.0", 0, "right"))
    with TestClient(surface.app) as client:
        assert client.get("/").status_code == 403
        assert client.get("/?token=wrong").status_code == 403
        assert client.get("/metrics").status_code == 403
        assert client.get("/?token=right").status_code == 200
        assert client.get("/metrics", headers={"Authorization": "Bearer right"}
                          ).status_code == 200
        for query in ("", "?token=wrong"):
            with pytest.raises(WebSocketDisconnect) as refused, \
                    client.websocket_connect(f"/ws{query}"):
                pass
            assert refused.value.code == 1008
        with client.websocket_connect("/ws?token=right") as ws:
            assert json.loads(ws.receive_text())["type"] == "score"
    assert control.stats.snapshot()["web_refused"] == 5
    assert surface.refused == 5


def test_score_view_lists_states_and_sections(controller: tuple[Any, Controller]) -> None:
    _, control = controller
    view = score_view(control.score)
    assert view["sections"] == ["a"] and view["states"] == []
    assert view["parameters"][0] == {"name": "tension", "min": 0.0, "max": 1.0, "default": 0.0}


# ------------------------------------------------ the endpoint on a loopback socket

def test_a_busy_port_is_one_line() -> None:
    import socket

    from adaptive.live.endpoint import StartupError
    from adaptive.web.server import WebEndpoint

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = WebEndpoint(HttpConfig("127.0.0.1", taken.getsockname()[1]))
        with pytest.raises(StartupError, match="cannot listen there: Address already in use"):
            endpoint.open()


def test_a_bad_http_value_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    from adaptive.cli import main

    assert main(["serve", "--audio", "none", "--http", "127.0.0.1:eighty"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--http '127.0.0.1:eighty'" in err, err


def test_the_endpoint_serves_pushes_and_stops(controller: tuple[Any, Controller]) -> None:
    import urllib.request

    import websockets.sync.client

    from adaptive.web.server import WebEndpoint

    _, control = controller
    endpoint = WebEndpoint(HttpConfig("127.0.0.1", 0))
    endpoint.open()
    endpoint.start(control)
    try:
        base = endpoint.url.rstrip("/")
        with urllib.request.urlopen(base + "/", timeout=5) as page:
            assert b"app.js" in page.read()
        with websockets.sync.client.connect(base.replace("http", "ws") + "/ws") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "score"
            kinds = {json.loads(ws.recv(timeout=5))["type"] for _ in range(3)}
            assert "status" in kinds
            ws.send(json.dumps({"cmd": "param", "name": "tension", "value": 0.25}))
            for _ in range(200):  # applied by the endpoint's thread
                if control.status()["targets"]["tension"] == pytest.approx(0.25):
                    break
                time.sleep(0.01)
            with urllib.request.urlopen(base + "/metrics", timeout=5) as scraped:
                text = scraped.read().decode()
            assert "adaptive_websocket_clients 1.0" in text
    finally:
        endpoint.stop()
    assert control.status()["targets"]["tension"] == pytest.approx(0.25)
