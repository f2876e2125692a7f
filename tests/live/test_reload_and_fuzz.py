"""Hot reload under --watch, and floods of malformed input, against the real JACK server."""

from __future__ import annotations

import math
import random
import shutil
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from adaptive.live.osc import encode_bundle, encode_message
from tests.audio import sine_level_db
from tests.live.harness import RATE, Recorder, Window, serve
from tests.live.harness import osc_status as status

pytestmark = pytest.mark.jack

AMPLITUDE_DB = 20 * math.log10(0.2)


def test_reload_takes_over_and_a_bad_score_keeps_the_old_one(
        stem_score: Path, jack: str, tmp_path: Path, noise: Window) -> None:
    for item in stem_score.parent.iterdir():
        shutil.copy(item, tmp_path / item.name)
    score = tmp_path / "score.toml"
    recorder = Recorder(jack, seconds=40)
    recorder.start()
    with serve(score, jack, "--watch") as served:
        recorder.connect(served.jack_name)
        time.sleep(0.5)
        recorder.xruns = 0
        edited_at = recorder.frames
        low_curve = "[[0.0, -20.0], [1.0, 0.0]] }\n[sections.a.layers.mid]"
        score.write_text(score.read_text().replace(low_curve, low_curve.replace("-20", "-6")))
        served.wait_log("reloaded")
        line = next(line for line in served.log_lines if "takes over at sample" in line)
        takeover = int(line.rsplit(" ", 1)[1])
        # steady state: half a second past the take-over on the server's own clock (a wall
        # clock's guess is wrong on a busy machine, where the build itself takes seconds)
        deadline = time.monotonic() + 20.0
        while int(status(served.osc_port)["sample"]) < takeover + RATE // 2:  # type: ignore[call-overload]
            assert time.monotonic() < deadline, "the reload never took over"
            time.sleep(0.05)
        reloaded_at = recorder.frames
        score.write_text("[sections.a\nthis is not toml")
        served.wait_log("reload_failed")
        time.sleep(1.0)
        assert "not valid TOML" in str(status(served.osc_port)["reload_error"])
        audio = recorder.audio()
        assert served.stop() == 0
    recorder.stop()
    level_before = sine_level_db(audio, 441.0, RATE, edited_at / RATE - 0.3, 0.2) - AMPLITUDE_DB
    level_after = sine_level_db(audio, 441.0, RATE, reloaded_at / RATE - 0.3, 0.2) - AMPLITUDE_DB
    level_kept = sine_level_db(audio, 441.0, RATE, len(audio) / RATE - 0.4, 0.2) - AMPLITUDE_DB
    assert abs(level_before - -20.0) < 0.5
    assert abs(level_after - -6.0) < 0.5
    assert abs(level_kept - -6.0) < 0.5  # the bad reload left the good score playing
    assert np.all(np.isfinite(audio))
    noise.judge(recorder.xruns)


def _garbage(rng: random.Random) -> tuple[bytes, str]:
    """One hostile packet and the counter it should increment."""
    kind = rng.randrange(9)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))), "osc_malformed"
    if kind == 1:
        return encode_message("/param/tension", [float("nan")]), "not_finite"
    if kind == 2:
        return encode_message("/param/tension", [float("inf")]), "not_finite"
    if kind == 3:
        return encode_message("/param/nope", [0.5]), "unknown_name"
    if kind == 4:
        return encode_message("/param/tension", ["loud"]), "bad_type"
    if kind == 5:
        return encode_message("/params", ["tension"]), "bad_arguments"
    if kind == 6:
        return encode_message("/no/such/thing", [1]), "unknown_address"
    if kind == 7:
        return encode_message("/section", ["nowhere"]), "unknown_name"
    # a bundle whose element claims more bytes than the packet holds
    bundle = encode_bundle(time.time(), "/param/tension", [0.5])
    return bundle[:16] + struct.pack(">i", 999) + bundle[20:28], "osc_malformed"


def test_fuzz_of_malformed_osc_never_stops_the_music(stem_score: Path, jack: str,
                                                     noise: Window) -> None:
    rng = random.Random(7)
    recorder = Recorder(jack, seconds=40)
    recorder.start()
    expected: dict[str, int] = {}
    with serve(stem_score, jack) as served:
        recorder.connect(served.jack_name)
        time.sleep(0.5)
        recorder.xruns = 0
        mark = recorder.frames
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for index in range(3000):
                packet, kind = _garbage(rng)
                expected[kind] = expected.get(kind, 0) + 1
                sock.sendto(packet, ("127.0.0.1", served.osc_port))
                if index % 100 == 0:
                    time.sleep(0.01)  # about 5,000 packets per second, within UDP buffers
            sock.sendto(encode_message("/param/tension", [1.0]), ("127.0.0.1", served.osc_port))
        time.sleep(1.0)
        counters = dict(status(served.osc_port)["counters"])  # type: ignore[arg-type]
        audio = recorder.audio()
        assert served.stop() == 0
    recorder.stop()
    for kind, count in expected.items():
        assert counters.get(kind, 0) == count, (kind, counters, expected)
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) < 1.0
    # still playing: the last valid message took effect, and there was no gap
    assert abs(sine_level_db(audio, 441.0, RATE, len(audio) / RATE - 0.4, 0.2)
               - AMPLITUDE_DB) < 0.5
    window = RATE // 100
    played = audio[mark:, 0]
    rms = np.sqrt(np.mean(played[: len(played) // window * window].reshape(-1, window) ** 2,
                          axis=1))
    assert rms.min() > 0.01, "a gap in the audio"
    noise.judge(recorder.xruns)
