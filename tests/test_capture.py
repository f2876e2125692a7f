"""Object capture is confined to its thread, and the private pyo internals we rely on hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from adaptive.actions import RampLayers
from adaptive.engine.capture import captured_objects
from adaptive.engine.engine import Engine, import_pyo
from adaptive.engine.graph import SampleCounter
from adaptive.ramps import Ramp
from adaptive.render import BLOCK, manual_server
from adaptive.score.load import load_score
from tests.audio import write_sine
from tests.conftest import SR


@pytest.fixture
def pyo() -> Iterator[ModuleType]:
    module = import_pyo()
    with manual_server(module, SR, 1):
        yield module


def _contains(objects: list[Any], obj: Any) -> bool:
    return any(o is obj for o in objects)


def test_capture_records_only_the_building_thread(pyo: ModuleType) -> None:
    """A worker builds inside a capture while this thread creates objects: ours stay out."""
    inside, go = threading.Event(), threading.Event()
    built: dict[str, Any] = {}

    def worker() -> None:
        with captured_objects(pyo) as objects:
            built["first"] = pyo.Sig(1.0)
            inside.set()
            go.wait(5)
            built["second"] = pyo.Sig(2.0)
        built["objects"] = objects

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(5)
    ours = [pyo.Sig(3.0), pyo.SigTo(1.0, time=0.02, init=1.0)]
    go.set()
    thread.join(5)
    objects = built["objects"]
    assert _contains(objects, built["first"]) and _contains(objects, built["second"])
    assert not any(_contains(objects, obj) for obj in ours)


def test_captures_nest_and_close(pyo: ModuleType) -> None:
    with captured_objects(pyo) as outer:
        a = pyo.Sig(0.0)
        with captured_objects(pyo) as inner:
            b = pyo.Sig(0.0) * 2.0
        c = pyo.Sig(0.0)
    after = pyo.Sig(0.0)
    assert _contains(outer, a) and _contains(outer, b) and _contains(outer, c)
    assert _contains(inner, b) and not _contains(inner, a) and not _contains(inner, c)
    assert not _contains(outer, after)


PAUSING_PATCH = '''"""Blocks in build() until the test lets it go: a reload caught mid-build."""
import threading

CONTROLS = {}
BUILDING = threading.Event()
GO = threading.Event()


def build(ctx):
    BUILDING.set()
    GO.wait(10)
    return ctx.pyo.Sig([0.0, 0.0])
'''


def test_override_made_while_a_reload_builds_stays_with_the_playing_engine(
        pyo: ModuleType, tmp_path: Path) -> None:
    """The issue's race: a reload builds a new engine in a worker thread while the playing
    engine creates a performer override; silencing the new engine's objects (as a later
    reload does) must not stop the playing engine's override."""
    write_sine(tmp_path / "s.wav", 441.0, 3.0)
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "pausing.py").write_text(PAUSING_PATCH)
    score = tmp_path / "score.toml"
    score.write_text('[sections.a]\ntempo = 120\nbars = 1\n'
                     '[sections.a.layers.s]\nstem = "s.wav"\n'
                     '[sections.a.layers.p]\npatch = "pausing"\n')
    loaded = load_score(score)
    from adaptive.engine.patch_api import load_patch

    module: Any = load_patch(loaded.patches["pausing"])
    module.GO.set()
    playing = Engine(pyo, loaded)
    module.GO.clear()
    module.BUILDING.clear()
    built: dict[str, Engine] = {}
    worker = threading.Thread(target=lambda: built.setdefault(
        "engine", Engine(pyo, loaded, counter=playing.counter)))
    worker.start()
    try:
        assert module.BUILDING.wait(10)
        playing.apply(RampLayers(0, {("a", "s"): Ramp(0, 960, 1.0, 0.5)}))
    finally:
        module.GO.set()
        worker.join(10)
    override = playing.overrides[("a", "s")].signal
    assert not _contains(built["engine"]._objects, override)
    assert _contains(playing._objects, override)
    built["engine"].silence_all()
    assert override.isPlaying()


def test_private_pyo_internals_we_rely_on() -> None:
    """graph.py reads C streams (`_base_objs[0]._getStream().getValue()`) and writes through
    the C setter (`_base_objs[0].setValue`): if a pyo release renames them, fail here."""
    pyo = import_pyo()
    with manual_server(pyo, SR, 1) as server:
        server.start()
        sig = pyo.Sig(0.0)
        stream = sig._base_objs[0]._getStream()
        sig._base_objs[0].setValue(0.625)
        server.process()
        assert stream.getValue() == 0.625
        assert sig.get() == 0.625
        counter = SampleCounter(pyo)  # the graph's clock reads its stream the same way
        counter.start()
        for _ in range(3):
            server.process()
        assert counter.now() == 3 * BLOCK - 1  # the last sample of the last block
