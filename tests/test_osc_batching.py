"""OSC under a flood: the quick parser agrees with python-osc, floods are coalesced, and a
long flood through the controller leaves the last value playing and memory flat."""

from __future__ import annotations

import random
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pythonosc.osc_packet import OscPacket, ParseError

from adaptive.commands import GoToSection, SetParam, SetParams
from adaptive.live.controller import Controller
from adaptive.live.inputs import coalesce
from adaptive.live.osc import (
    OscConfig,
    OscEndpoint,
    encode_bundle,
    encode_message,
    parse_simple_message,
)
from tests.audio import write_sine


def _python_osc(data: bytes) -> tuple[str, list[Any]] | None:
    try:
        messages = OscPacket(data).messages
    except (ParseError, ValueError, IndexError, TypeError, UnicodeDecodeError, OverflowError):
        return None
    if len(messages) != 1:
        return None
    return messages[0].message.address, list(messages[0].message.params)


def test_quick_parser_reads_what_python_osc_reads() -> None:
    for address in ("/a", "/abc", "/abcd", "/param/intensity", "/params"):
        for args in ([], [0.25], [3], [0.5, -7, 1e30], [2**31 - 1, -(2**31)]):
            data = encode_message(address, args)
            assert parse_simple_message(data) == _python_osc(data), (address, args)
    double = b"/d\0\0,d\0\0" + struct.pack(">d", 1e300)
    assert parse_simple_message(double) == _python_osc(double) == ("/d", [1e300])


def test_quick_parser_is_never_looser_than_python_osc() -> None:
    """Mutated packets: whatever the quick parser accepts, python-osc reads the same way."""
    rng = random.Random(7)
    seeds = [encode_message("/param/intensity", [0.5]), encode_message("/x", [1, 2.5]),
             encode_message("/section", ["calm"]), encode_bundle(1.0, "/param/a", [0.1])]
    accepted = 0
    for _ in range(20000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            kind = rng.randrange(3)
            if kind == 0 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif kind == 1 and data:
                del data[rng.randrange(len(data)):]
            else:
                data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        quick = parse_simple_message(bytes(data))
        if quick is not None:
            accepted += 1
            reference = _python_osc(bytes(data))
            assert reference is not None, bytes(data)
            assert quick[0] == reference[0]
            np.testing.assert_array_equal(quick[1], reference[1])
    assert accepted > 100  # the property was exercised, not vacuously true


def test_quick_parser_leaves_strings_bundles_and_bad_padding_to_python_osc() -> None:
    assert parse_simple_message(encode_message("/section", ["calm"])) is None
    assert parse_simple_message(encode_bundle(1.0, "/param/a", [0.1])) is None
    good = encode_message("/param/a", [0.1])
    assert parse_simple_message(good[:-1]) is None
    assert parse_simple_message(good + b"\0\0\0\0") is None
    assert parse_simple_message(b"/param/a\0,f\0\0" + struct.pack(">f", 0.1)) is None


def test_coalesce_keeps_the_last_value_and_the_order_of_events() -> None:
    a = [SetParam(name="x", value=v / 10) for v in range(5)]
    go = GoToSection(name="b")
    merged = coalesce([(a[0], None), (SetParam(name="y", value=1.0), None), (a[1], None),
                       (go, None), (a[2], None), (a[3], 48000), (a[4], None)])
    assert merged == [(SetParams(values={"y": 1.0, "x": 0.1}), None), (go, None),
                      (a[2], None), (a[3], 48000), (a[4], None)]
    assert coalesce([]) == []


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[Any, Controller]]:
    from adaptive.engine.engine import Engine, import_pyo
    from adaptive.render import manual_server
    from adaptive.score.load import load_score

    write_sine(tmp_path / "a.wav", 220.0, 2.0)
    (tmp_path / "score.toml").write_text(
        '[parameters.intensity]\nsmoothing = 0.01\n[sections.a]\ntempo = 120\nbars = 1\n'
        '[sections.a.layers.a]\nstem = "a.wav"\n'
        'gain = { intensity = [[0.0, -40.0], [1.0, 0.0]] }\n')
    loaded = load_score(tmp_path / "score.toml")
    pyo = import_pyo()
    with manual_server(pyo, loaded.sample_rate, 1) as server:
        engine = Engine(pyo, loaded, 1)
        control = Controller(loaded.score, engine, loaded.sample_rate, 256)
        server.start()
        engine.start()
        yield server, control
        del engine, control


def test_a_long_flood_leaves_the_last_value_playing_and_memory_flat(
        controller: tuple[Any, Controller]) -> None:
    server, control = controller
    endpoint = OscEndpoint(OscConfig(host="127.0.0.1", port=0))
    endpoint.start(control)
    try:
        addr = ("127.0.0.1", 9)
        batches = [[(encode_message("/param/intensity", [((b * 7 + i) % 11) / 10]), addr)
                    for i in range(16)] for b in range(100)]

        def flood(rounds: int) -> None:
            for _ in range(rounds):
                for batch in batches:
                    endpoint.datagrams_received(batch)
                    server.process()
                    control.tick()

        flood(2)  # warm up caches and pools
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        flood(20)  # 32,000 messages
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        last = ((99 * 7 + 15) % 11) / 10
        assert control.status()["targets"]["intensity"] == pytest.approx(last)
        for _ in range(20):  # 0.1 s: longer than the smoothing
            server.process()
        control.tick()
        assert control.status()["params"]["intensity"] == pytest.approx(last)
        assert control.engine.bus.signals["intensity"].get() == pytest.approx(last)
        assert control.conductor.released == []
        assert control.stats.snapshot()["osc_coalesced"] == 22 * 100  # one per batch
        assert grown < 200_000, f"{grown} bytes kept after 32,000 messages"
    finally:
        endpoint.close()
