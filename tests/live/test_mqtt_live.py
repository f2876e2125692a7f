"""MQTT in and out against a real mosquitto broker, the music playing through real JACK."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as paho
import pytest

from tests.audio import sine_level_db
from tests.live.harness import RATE, Broker, Recorder, Window, mosquitto_broker, serve

pytestmark = [pytest.mark.jack, pytest.mark.mqtt]

AMPLITUDE_DB = 20 * math.log10(0.2)


class Watcher:
    """A plain MQTT client (paho) that records what the server publishes."""

    def __init__(self, port: int, prefix: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.prefix = prefix
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=f"watcher-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self._lock = threading.Lock()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        client.subscribe(f"{self.prefix}/#")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def publish(self, suffix: str, payload: str | bytes) -> None:
        self.client.publish(f"{self.prefix}/{suffix}", payload).wait_for_publish(5)

    def last(self, suffix: str) -> bytes | None:
        topic = f"{self.prefix}/{suffix}"
        found = [payload for t, payload, _ in self.messages if t == topic]
        return found[-1] if found else None

    def wait_for(self, suffix: str, predicate: Any, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            payload = self.last(suffix)
            if payload is not None and predicate(payload):
                return payload
            time.sleep(0.05)
        raise AssertionError(f"no {suffix} matching within {timeout} s: {self.last(suffix)!r}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker() -> Iterator[Broker]:
    with mosquitto_broker() as running:
        yield running


def test_mqtt_params_status_events_and_offline(stem_score: Path, jack: str,
                                               broker: Broker, noise: Window) -> None:
    prefix = f"adaptive/test-{uuid.uuid4().hex[:6]}"
    watcher = Watcher(broker.port, prefix)
    recorder = Recorder(jack, seconds=30)
    recorder.start()
    with serve(stem_score, jack, "--mqtt", f"mqtt://127.0.0.1:{broker.port}",
               "--mqtt-prefix", prefix) as served:
        recorder.connect(served.jack_name)
        watcher.wait_for("online", lambda p: p == b"true")
        time.sleep(0.5)
        recorder.xruns = 0
        before = recorder.frames
        watcher.publish("param/tension", "1.0")
        sent = subprocess.run([sys.executable, "-m", "adaptive.cli", "send", "--mqtt",
                               f"mqtt://127.0.0.1:{broker.port}", "--mqtt-prefix", prefix,
                               "params", json.dumps({"arousal": 1.0})], capture_output=True,
                              text=True, timeout=30, check=False)
        assert sent.returncode == 0, sent.stderr
        watcher.publish("cmd", json.dumps({"cmd": "stinger", "name": "hit"}))
        watcher.publish("params", b"\xff\xfe not utf-8")
        watcher.publish("cmd", json.dumps({"cmd": "param", "name": "tension", "value": 9}))
        watcher.publish("param/tension", "NaN")
        status = json.loads(watcher.wait_for(
            "status", lambda p: json.loads(p)["counters"].get("not_finite", 0) >= 1))
        # a client that subscribes late gets the status and the online flag at once, as
        # retained messages (a live delivery would not carry the retain flag)
        late = Watcher(broker.port, prefix)
        late.wait_for("status", lambda p: True)
        late.wait_for("online", lambda p: True)
        first = {t: retained for t, _, retained in reversed(late.messages)}
        late.close()
        assert first[f"{prefix}/status"] and first[f"{prefix}/online"], late.messages[:3]
        time.sleep(0.5)
        audio = recorder.audio()
        assert served.stop() == 0
    watcher.wait_for("online", lambda p: p == b"false")
    recorder.stop()
    watcher.close()
    assert status["params"] == {"tension": 1.0, "arousal": 1.0}
    counters = status["counters"]
    assert counters["bad_utf8"] == 1 and counters["clamped"] == 1 and counters["not_finite"] == 1
    events = [t for t, _, _ in watcher.messages if "/event/" in t]
    assert f"{prefix}/event/beat" in events and f"{prefix}/event/stinger" in events
    beat = json.loads(watcher.last("event/beat") or b"{}")
    assert set(beat) >= {"args", "sample", "time", "wall"}
    end = len(audio) / RATE - 0.3
    assert abs(sine_level_db(audio, 441.0, RATE, end, 0.2) - AMPLITUDE_DB) < 0.5
    assert abs(sine_level_db(audio, 1003.0, RATE, end, 0.2) - AMPLITUDE_DB) < 0.5
    assert sine_level_db(audio, 441.0, RATE, before / RATE - 0.3, 0.2) - AMPLITUDE_DB < -19
    noise.judge(recorder.xruns)


def test_broker_lost_and_back_mid_show(stem_score: Path, jack: str, broker: Broker,
                                       noise: Window) -> None:
    prefix = f"adaptive/test-{uuid.uuid4().hex[:6]}"
    recorder = Recorder(jack, seconds=40)
    recorder.start()
    with serve(stem_score, jack, "--mqtt", f"mqtt://127.0.0.1:{broker.port}",
               "--mqtt-prefix", prefix) as served:
        recorder.connect(served.jack_name)
        watcher = Watcher(broker.port, prefix)
        watcher.wait_for("online", lambda p: p == b"true")
        watcher.close()
        time.sleep(0.3)
        recorder.xruns = 0
        mark = recorder.frames
        broker.stop()
        time.sleep(2.0)
        broker.start()
        watcher = Watcher(broker.port, prefix)
        # reconnected: online again and the status republished (with the disconnection counted)
        watcher.wait_for("online", lambda p: p == b"true", timeout=20)
        status = json.loads(watcher.wait_for("status", lambda p: True, timeout=10))
        watcher.publish("param/tension", "1.0")
        time.sleep(0.8)
        audio = recorder.audio()
        assert served.stop() == 0
    watcher.close()
    recorder.stop()
    assert status["counters"].get("mqtt_disconnected", 0) >= 1
    played = audio[mark:, 0]
    window = RATE // 100
    rms = np.sqrt(np.mean(played[: len(played) // window * window].reshape(-1, window) ** 2,
                          axis=1))
    assert rms.min() > 0.01, "the music stopped while the broker was away"
    assert abs(sine_level_db(audio, 441.0, RATE, len(audio) / RATE - 0.3, 0.2)
               - AMPLITUDE_DB) < 0.5
    noise.judge(recorder.xruns)


def test_mqtts_with_a_password(stem_score: Path, jack: str, tmp_path: Path) -> None:
    from tests.live.harness import free_port, make_tls_files

    tls = make_tls_files(tmp_path)
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "show", "s3cret"],
                   check=True, capture_output=True)
    broker = Broker(free_port(socket.SOCK_STREAM), anonymous=False, extra_config=(
        f"cafile {tls['ca']}\ncertfile {tls['cert']}\nkeyfile {tls['key']}\n"
        f"password_file {passwords}\n"))
    broker.start()
    prefix = f"adaptive/test-{uuid.uuid4().hex[:6]}"
    try:
        with serve(stem_score, jack, "--mqtt", f"mqtts://show:s3cret@127.0.0.1:{broker.port}",
                   "--mqtt-ca", str(tls["ca"]), "--mqtt-prefix", prefix) as served:
            client = paho.Client(paho.CallbackAPIVersion.VERSION2)
            client.tls_set(ca_certs=str(tls["ca"]))
            client.username_pw_set("show", "s3cret")
            received: list[tuple[str, bytes]] = []
            client.on_message = lambda c, u, m: received.append((m.topic, bytes(m.payload)))
            connected = threading.Event()
            client.on_connect = lambda c, u, f, r, p: connected.set()
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            assert connected.wait(10)
            client.subscribe(f"{prefix}/#")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (f"{prefix}/online", b"true") not in received:
                time.sleep(0.05)  # the server is subscribed once it says it is online
            client.publish(f"{prefix}/param/tension", "0.5", qos=1).wait_for_publish(5)
            deadline = time.monotonic() + 10
            tension = None
            while time.monotonic() < deadline and tension != 0.5:
                statuses = [p for t, p in received if t.endswith("/status")]
                if statuses:
                    tension = json.loads(statuses[-1])["params"]["tension"]
                time.sleep(0.05)
            client.loop_stop()
            client.disconnect()
            assert tension == 0.5
            assert served.stop() == 0
        # a wrong password: refused by the broker, counted, and the music plays on
        with serve(stem_score, jack, "--mqtt", f"mqtts://show:wrong@127.0.0.1:{broker.port}",
                   "--mqtt-ca", str(tls["ca"]), "--mqtt-prefix", prefix) as served:
            served.wait_log("mqtt_disconnected")
            assert served.process.poll() is None
            assert served.stop() == 0
    finally:
        broker.stop()


def test_broker_down_at_start_and_a_second_signal(stem_score: Path, jack: str) -> None:
    from tests.live.harness import free_port

    port = free_port(socket.SOCK_STREAM)
    prefix = f"adaptive/test-{uuid.uuid4().hex[:6]}"
    with serve(stem_score, jack, "--mqtt", f"mqtt://127.0.0.1:{port}",
               "--mqtt-prefix", prefix) as served:
        served.wait_log("mqtt_disconnected")  # no broker yet: the music plays regardless
        broker = Broker(port)
        broker.start()
        try:
            watcher = Watcher(port, prefix)
            watcher.wait_for("online", lambda p: p == b"true", timeout=20)
            watcher.close()
        finally:
            broker.stop()
        # a second Ctrl-C during the fade-out exits at once
        served.process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        served.process.send_signal(signal.SIGINT)
        assert served.process.wait(5) == 130
