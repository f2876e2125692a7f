"""Control latency and throughput of the live server, measured outside it.

A separate JACK client records the server's output and reads JACK's frame time just before
each message is sent; the latency is the first changed output frame minus that frame. The
score plays a 12 kHz sine whose gain a parameter switches between -40 dB and 0 dB, so the
first changed sample is found within a few samples. Throughput floods `/param` at rising
rates and counts xruns (JACK's xrun callback) and checks the last value sent is playing.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from adaptive.live.osc import encode_message
from tests.audio import write_sine
from tests.live.harness import PERIOD, RATE, Recorder, jack_server, mosquitto_broker, serve

SCORE = """
[parameters.level]
smoothing = 0.005
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.tone]
stem = "tone.wav"
gain = { level = [[0.0, -40.0], [0.05, 0.0]] }  # a step: the ramp crosses at once
"""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def measure(recorder: Recorder, send: object, trials: int) -> list[float]:
    """Latencies (ms) of `trials` switches low → high, each sent at a random phase."""
    rng = random.Random(1)
    sent_frames = []
    for _ in range(trials):
        send(0.0)  # type: ignore[operator]
        time.sleep(0.04 + rng.random() * 0.02)
        frame = recorder.frame_time()
        send(1.0)  # type: ignore[operator]
        sent_frames.append(recorder.recorded_frame(frame))
        time.sleep(0.03)
    send(0.0)  # type: ignore[operator]
    time.sleep(0.2)
    audio = np.abs(recorder.audio()[:, 0])
    latencies = []
    for start in sent_frames:
        window = audio[start:start + RATE // 10]
        loud = np.nonzero(window > 0.05)[0]
        if len(loud):
            latencies.append(loud[0] * 1000.0 / RATE)
    return latencies


def flood(recorder: Recorder, port: int, rate: int, seconds: float) -> tuple[int, bool]:
    """Send /param at `rate` messages per second; xruns meanwhile and whether the last
    value (1.0) ends up playing."""
    recorder.xruns = 0
    total = int(rate * seconds)
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index in range(total):
            value = 0.25 if index < total - 1 else 1.0
            sock.sendto(encode_message("/param/level", [value]), ("127.0.0.1", port))
            lag = started + index / rate - time.perf_counter()
            if lag > 0.001:
                time.sleep(lag)
    time.sleep(0.3)
    audio = recorder.audio()
    final = float(np.max(np.abs(audio[-RATE // 10:, 0])))
    return recorder.xruns, final > 0.4


def collect(trials: int, rates: list[int], flood_seconds: float) -> dict[str, object]:
    """Latency figures (with the raw samples) and flood results."""
    args = argparse.Namespace(trials=trials, rates=rates, flood_seconds=flood_seconds)
    report: dict[str, object] = {"period_ms": PERIOD * 1000 / RATE}
    with tempfile.TemporaryDirectory() as tmp, jack_server() as jack, mosquitto_broker() as broker:
        directory = Path(tmp)
        write_sine(directory / "tone.wav", 12000.0, 9.0, amplitude=0.5)
        (directory / "score.toml").write_text(SCORE)
        prefix = f"adaptive/bench-{uuid.uuid4().hex[:6]}"
        seconds = args.trials * 0.12 * 2 + len(args.rates) * (args.flood_seconds + 2) + 30
        recorder = Recorder(jack, seconds=seconds)
        recorder.start()
        with serve(directory / "score.toml", jack, "--mqtt",
                   f"mqtt://127.0.0.1:{broker.port}", "--mqtt-prefix", prefix) as served:
            recorder.connect(served.jack_name)
            time.sleep(1.0)
            recorder.xruns = 0
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

            def osc_send(value: float) -> None:
                sock.sendto(encode_message("/param/level", [value]), ("127.0.0.1",
                                                                       served.osc_port))

            osc = measure(recorder, osc_send, args.trials)
            import paho.mqtt.client as paho

            client = paho.Client(paho.CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", broker.port)
            client.loop_start()

            def mqtt_send(value: float) -> None:
                client.publish(f"{prefix}/param/level", str(value))

            time.sleep(0.5)
            mqtt = measure(recorder, mqtt_send, args.trials)
            client.loop_stop()
            client.disconnect()
            report["xruns_during_latency_runs"] = recorder.xruns
            report["raw_ms"] = {"osc": osc, "mqtt": mqtt}
            for name, values in (("osc", osc), ("mqtt", mqtt)):
                report[name] = {"trials": len(values), "p50_ms": percentile(values, 50),
                                "p99_ms": percentile(values, 99), "max_ms": max(values),
                                "p99_over_period": percentile(values, 99) / (PERIOD * 1000
                                                                             / RATE)}
            floods = {}
            for rate in args.rates:
                xruns, correct = flood(recorder, served.osc_port, rate, args.flood_seconds)
                floods[str(rate)] = {"xruns": xruns, "final_value_playing": correct}
                time.sleep(1.0)
            report["osc_flood"] = floods
            sock.close()
            served.stop()
        recorder.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--rates", type=int, nargs="*", default=[1000, 5000, 10000, 20000])
    parser.add_argument("--flood-seconds", type=float, default=5.0)
    args = parser.parse_args()
    report = collect(args.trials, args.rates, args.flood_seconds)
    report.pop("raw_ms")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
