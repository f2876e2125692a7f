"""A live show and its replay from the show log are the same performance.

`adaptive serve` plays a score on a real JACK server, driven over OSC by parameter moves,
a section change, stingers, a rest and a resume, some at once and some timetagged, and is
stopped with SIGTERM; a separate JACK client records it. `adaptive render --replay` then
renders the show log it wrote (by default, a dated file beside the score) offline. Unlike
test_parity, no command has to be placed mid-beat or read where its ramp is done: the log
holds the sample each command took live, so the replay must give the same onsets (±1
sample) and the same per-layer levels (±0.2 dB) anywhere, ramps included.

Sample 0 of the server is found in the recording from the click on each of section a's
bars, as test_parity does; so is the allowance for xruns (a period lost shifts the rest of
the recording by whole periods: onsets are compared modulo the periods lost before them,
and a level window an xrun falls into is left out).

The second test drives one show from all three inputs at once, as a performance would be:
MQTT through a real mosquitto broker (a parameter and a stinger), the control surface in
a real browser (Debian's chromium driven by Playwright: a layer's gain slider, a section
button and a layer's mute), and OSC (the rest, timetagged bundles included). Its log must
name each command's source, and its replay must sound as the show did, to the same bounds.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from adaptive.cli import main
from adaptive.live.osc import encode_bundle, encode_message
from tests.audio import impulses, sine_level_db
from tests.live.harness import (
    PERIOD,
    RATE,
    NoiseReference,
    Recorder,
    Served,
    Window,
    free_port,
    mosquitto_broker,
    serve,
)
from tests.live.piece import BAR_A, BASE, status_at, write_stems

pytestmark = [pytest.mark.jack, pytest.mark.slow]

TIMETAGGED = True
CHROMIUM = Path("/usr/bin/chromium")


@dataclass(frozen=True)
class Cue:
    """One move of the show: when (seconds after the base), from which input (named as the
    show log names it), the command the log must hold for it, and what the input sends: OSC
    an address and arguments (timetagged: a bundle sent 0.3 s ahead), MQTT a topic under the
    server's prefix and a payload, the web page an action on an element ("click", selector)
    or ("fill", selector, value)."""

    at: float
    source: str
    cmd: str
    what: tuple[Any, ...]
    timetagged: bool = False


CUES = [Cue(1.0, "OSC", "param", ("/param/x", [1.0])),
        Cue(2.2, "OSC", "params", ("/params", ["y", 1.0]), TIMETAGGED),
        Cue(4.1, "OSC", "section", ("/section", ["b"])),
        Cue(7.3, "OSC", "stinger", ("/stinger", ["hit"]), TIMETAGGED),
        Cue(9.0, "OSC", "params", ("/params", ["x", 0.2])),
        Cue(11.7, "OSC", "rest", ("/rest", []), TIMETAGGED),
        Cue(14.1, "OSC", "resume", ("/resume", [])),
        Cue(16.3, "OSC", "section", ("/section", ["a"]), TIMETAGGED),
        Cue(17.1, "OSC", "param", ("/param/y", [0.3]), TIMETAGGED),
        Cue(19.0, "OSC", "stinger", ("/stinger", ["hit"]))]
# the same show with MQTT and the page taking some moves, and two moves of the page's own
MIXED_CUES = [Cue(1.0, "MQTT", "param", ("param/x", "1.0")),
              Cue(2.2, "OSC", "params", ("/params", ["y", 1.0]), TIMETAGGED),
              Cue(3.2, "web", "layer_gain", ("fill", "#gain-a\\.high", "-9")),
              Cue(4.1, "web", "section", ("click", "#sections button[data-name=b]")),
              Cue(7.3, "MQTT", "stinger", ("cmd", json.dumps({"cmd": "stinger",
                                                              "name": "hit"}))),
              Cue(9.0, "OSC", "params", ("/params", ["x", 0.2])),
              Cue(11.7, "OSC", "rest", ("/rest", []), TIMETAGGED),
              Cue(14.1, "OSC", "resume", ("/resume", [])),
              Cue(16.3, "OSC", "section", ("/section", ["a"]), TIMETAGGED),
              Cue(17.1, "OSC", "param", ("/param/y", [0.3]), TIMETAGGED),
              Cue(18.0, "web", "mute", ("click", ".layer[data-layer='a.low'] "
                                                 "button:text-is('mute')")),
              Cue(19.0, "OSC", "stinger", ("/stinger", ["hit"]))]
MIXED_BASE = 6.0  # the page loads and MQTT connects before the server's clock is measured
LAYERS = (220.0, 1003.0, 660.0)  # low, high (section a), tone (section b)


class Publisher:
    """A plain MQTT client (paho) publishing under the server's prefix, ready once the
    server says it is online (it says so only after subscribing)."""

    def __init__(self, port: int, prefix: str) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.prefix = prefix
        self._online = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"show-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = lambda client, *_: client.subscribe(f"{prefix}/online")
        self.client.on_message = lambda _client, _data, message: \
            self._online.set() if message.payload == b"true" else None
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def wait_online(self, timeout: float = 15.0) -> None:
        assert self._online.wait(timeout), f"the server never came online on {self.prefix}"

    def publish(self, suffix: str, payload: str) -> None:
        self.client.publish(f"{self.prefix}/{suffix}", payload).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Inputs:
    """The show's inputs: each cue goes out by the input it names."""

    def __init__(self, osc_port: int, mqtt: Publisher | None = None,
                 page: Any = None) -> None:
        self.osc_port, self.mqtt, self.page = osc_port, mqtt, page

    def send(self, cue: Cue, due: float, sock: socket.socket) -> None:
        if cue.source == "OSC":
            address, args = cue.what
            message = encode_bundle(due, address, args) if cue.timetagged \
                else encode_message(address, args)
            sock.sendto(message, ("127.0.0.1", self.osc_port))
        elif cue.source == "MQTT":
            assert self.mqtt is not None
            self.mqtt.publish(*cue.what)
        else:
            assert cue.source == "web" and self.page is not None, cue
            action, selector, *value = cue.what
            if action == "fill":  # a range input: its value set, its input event fired
                self.page.locator(selector).fill(*value)
            else:
                self.page.locator(selector).click()


Connect = Callable[[Served], AbstractContextManager[Inputs]]


def _osc_only(served: Served) -> AbstractContextManager[Inputs]:
    return nullcontext(Inputs(served.osc_port))


def _play_live(jack: str, directory: Path, cues: list[Cue], base: float, seconds: float,
               extra: tuple[str, ...] = (), connect: Connect = _osc_only
               ) -> tuple[np.ndarray, list[int], int, str]:
    """The recording from the server's sample 0, the samples (on that scale) where the JACK
    server reported an xrun, their count, and the server's log."""
    recorder = Recorder(jack, seconds=seconds + 20.0)
    recorder.start()
    try:
        ports = f"{recorder.name}:in_1,{recorder.name}:in_2"
        with serve(directory / "score.toml", jack, "--jack-connect", ports,
                   *extra) as served, connect(served) as inputs:
            status, frame, wall = status_at(served.osc_port, recorder)
            sample = int(status["sample"])  # type: ignore[call-overload]
            assert sample < (base - 1.0) * RATE, "the server took too long to come up"
            zero_estimate = recorder.recorded_frame(frame) + PERIOD / 2 - sample
            wall_zero = wall - sample / RATE
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for cue in cues:
                    due = wall_zero + base + cue.at
                    ahead = 0.3 if cue.timetagged else 0.0
                    time.sleep(max(0.0, due - ahead - time.time()))
                    inputs.send(cue, due, sock)
            time.sleep(max(0.0, wall_zero + seconds + 0.5 - time.time()))
            audio = recorder.audio()
            xrun_frames, total = recorder.xrun_frames, recorder.xruns
            assert served.stop() == 0  # SIGTERM: the show log is closed with its end
            log = served.log()
    finally:
        recorder.stop()
    clicks = [int(i) for i in impulses(audio, threshold=0.3)]
    first = clicks[0]
    bar = round((first - zero_estimate) / BAR_A)
    origin = first - math.ceil(bar * BAR_A - 1e-6)
    assert abs(origin - zero_estimate) < BAR_A / 4, (origin, zero_estimate)
    assert total <= len(xrun_frames), "more xruns than the recorder keeps frames of"
    return (audio[origin:], [frame - origin for frame in xrun_frames if frame >= origin],
            total, log)


def test_a_replayed_show_log_sounds_as_the_show_did(
        tmp_path: Path, jack: str, noise_reference: NoiseReference,
        capsys: pytest.CaptureFixture[str]) -> None:
    for index, attempt in enumerate(noise_reference.attempts(2)):
        with attempt:
            directory = tmp_path / f"attempt-{index}"
            directory.mkdir()
            write_stems(directory)
            live = _play_live(jack, directory, CUES, BASE, BASE + 24.0)
            _compare(directory, live, CUES, BASE + 24.0, attempt.window, capsys)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium; bin/test "
                    "installs it): the page is driven in a real browser only")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip: .[test])")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.mqtt
def test_a_show_driven_by_osc_mqtt_and_the_page_replays_as_it_sounded(
        tmp_path: Path, jack: str, noise_reference: NoiseReference, browser: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    seconds = MIXED_BASE + 24.0
    with mosquitto_broker() as broker:
        for index, attempt in enumerate(noise_reference.attempts(2)):
            with attempt:
                directory = tmp_path / f"attempt-{index}"
                directory.mkdir()
                write_stems(directory)
                prefix = f"adaptive/show-{uuid.uuid4().hex[:6]}"
                http = free_port(socket.SOCK_STREAM)
                live = _play_live(jack, directory, MIXED_CUES, MIXED_BASE, seconds,
                                  ("--mqtt", f"mqtt://127.0.0.1:{broker.port}",
                                   "--mqtt-prefix", prefix, "--http", f"127.0.0.1:{http}"),
                                  partial(_all_inputs, browser, broker.port, prefix, http))
                entries = _compare(directory, live, MIXED_CUES, seconds, attempt.window,
                                   capsys)
                _the_moves_were_heard(live[0], entries)


@contextmanager
def _all_inputs(browser: Any, mqtt_port: int, prefix: str, http_port: int,
                served: Served) -> Iterator[Inputs]:
    """OSC, MQTT once the server is online there, and the page once it has status."""
    mqtt = Publisher(mqtt_port, prefix)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        mqtt.wait_online()
        page.goto(f"http://127.0.0.1:{http_port}/")
        page.wait_for_function("() => window.adaptive && window.adaptive.pushes > 3",
                               timeout=15000)
        yield Inputs(served.osc_port, mqtt, page)
        assert not errors, errors  # the page's script never threw
    finally:
        page.close()
        mqtt.close()


def _compare(directory: Path, show: tuple[np.ndarray, list[int], int, str],
             cues: list[Cue], seconds: float, noise: Window,
             capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Replay the show's log and compare it with what was recorded; the log's entries."""
    live, xruns, total, server_log = show
    logs = sorted(directory.glob("score.show-*.jsonl"))  # the default: beside the score
    assert len(logs) == 1, (logs, server_log)
    entries = [json.loads(line) for line in logs[0].read_text().splitlines()]
    commands = [e for e in entries if e["kind"] == "command"]
    # each command once, in the order sent, with the input it came from
    assert [(c["source"], c["command"]["cmd"]) for c in commands] == \
        [(cue.source, cue.cmd) for cue in cues], commands
    sources = Counter(c["source"] for c in commands)
    assert entries[-1]["kind"] == "end", entries[-3:]  # flushed at SIGTERM

    replay = directory / "replay.wav"
    code = main(["render", str(directory / "score.toml"), "--replay", str(logs[0]),
                 "-o", str(replay)])
    printed = capsys.readouterr().out
    # what was printed before the render (an earlier attempt's disturbance) is kept
    print("\n".join(line for line in printed.splitlines()
                    if not line.startswith("replaying:")))
    assert code == 0, printed  # 0: every logged event replayed on its live sample
    offline, rate = soundfile.read(str(replay), dtype="float32", always_2d=True)
    assert rate == RATE
    frames = min(round(seconds * RATE), len(offline))
    assert len(live) >= frames - PERIOD

    skip = RATE // 10  # pyo fades a live server's output in over its first ~240 samples
    expected = impulses(offline[skip:frames], threshold=0.3) + skip
    heard = impulses(live[skip:frames], threshold=0.3) + skip
    assert len(expected) >= 8, list(expected)  # clicks, b's mark, both stingers
    assert len(heard) == len(expected), (list(heard), list(expected))
    residuals = []
    for e, h in zip(expected, heard, strict=True):
        periods = round((h - e) / PERIOD)
        assert abs(periods) <= sum(x <= h for x in xruns), (e, h, xruns)
        residuals.append(int(abs(h - e - periods * PERIOD)))
    worst_onset = max(residuals)
    assert worst_onset <= 1, (residuals, xruns)

    # every layer, every half second, ramps and fades included (a layer that is silent in
    # the replay must be silent live too)
    shifts = [(int(e), round((h - e) / PERIOD)) for e, h in zip(expected, heard, strict=True)]
    differences: list[tuple[float, float, float]] = []  # (difference, t, frequency)
    silent, windows = 0, 0
    times = np.arange(0.5, seconds - 0.5, 0.5)
    for t in times:
        start, end = round(t * RATE), round((t + 0.3) * RATE)
        onset, periods = next(((e, k) for e, k in reversed(shifts) if e <= start), (0, 0))
        after = next((k for e, k in shifts if e >= end), None)
        # periods lost only accumulate: the same shift on both sides holds in between;
        # else a window after an xrun since the last onset is left out
        if after != periods and any(onset <= x < end + PERIOD for x in xruns):
            continue
        windows += 1
        heard_at = (start + periods * PERIOD) / RATE
        for f in LAYERS:
            replayed = sine_level_db(offline, f, RATE, t, 0.3)
            played = sine_level_db(live, f, RATE, heard_at, 0.3)
            if replayed < -80.0:
                assert played < -60.0, (t, f, played)
                silent += 1
            else:
                differences.append((played - replayed, float(t), f))
    assert windows >= 0.75 * len(times), (windows, xruns)
    worst = max(differences, key=lambda d: abs(d[0]))
    worst_level = abs(worst[0])
    assert worst_level <= 0.2, (f"{worst[0]:+.2f} dB at {worst[1]} s, {worst[2]} Hz; "
                                f"xruns at {xruns}")
    print(f"replay: worst onset difference {worst_onset} samples over {len(expected)} onsets, "
          f"worst level difference {worst_level:.3g} dB over {len(differences)} layer windows "
          f"({silent} silent in both); {len(commands)} commands logged "
          f"({', '.join(f'{k} {v}' for k, v in sorted(sources.items()))}); xruns at {xruns}")
    noise.judge(total)
    return entries


def _the_moves_were_heard(live: np.ndarray, entries: list[dict[str, Any]]) -> None:
    """MQTT's and the page's moves did what they say, in the recording (a replay that
    matches would not show a move both ignored), and the music names their source."""
    commands = {(e["source"], e["command"]["cmd"]): e for e in entries
                if e["kind"] == "command"}

    def level(frequency: float, entry: dict[str, Any], offset: float) -> float:
        return sine_level_db(live, frequency, RATE, entry["sample"] / RATE + offset, 0.3)

    low, high, tone = LAYERS
    x = commands["MQTT", "param"]  # low: -24 dB -> 0 dB
    assert level(low, x, 0.5) - level(low, x, -0.4) > 20.0
    gain = commands["web", "layer_gain"]  # high: its own gain from the slider
    assert gain["command"]["layer"] == "a.high" and -9.1 < gain["command"]["db"] < -8.9
    drop = level(high, gain, 0.5) - level(high, gain, -0.4)
    assert abs(drop - gain["command"]["db"]) < 0.3, drop
    mute = commands["web", "mute"]
    assert mute["command"] == {"cmd": "mute", "layer": "a.low", "on": True}
    assert level(low, mute, -0.4) > -50.0 and level(low, mute, 0.5) < -60.0
    music = [e for e in entries if e["kind"] == "event"
             and e["event"] in ("section", "stinger", "rest", "resume")]
    assert [(e["event"], e["text"].rpartition("why: ")[2].partition(":")[0])
            for e in music[1:]] == [("section", "web"), ("stinger", "MQTT"), ("rest", "OSC"),
                                    ("resume", "OSC"), ("section", "OSC"),
                                    ("stinger", "OSC")], music
    b = music[1]  # the page's section: b's tone enters on a's bar
    assert level(tone, b, -0.4) < -80.0 < -40.0 < level(tone, b, 0.5)
