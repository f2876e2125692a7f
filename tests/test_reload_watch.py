"""`--watch` without audio hardware: a patch that raises in build() is refused, the
watcher goes on, the old score keeps playing, and a fixed patch then takes over."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from adaptive.engine.engine import Engine, import_pyo
from adaptive.live import reload
from adaptive.live.clock import ManualClock
from adaptive.live.controller import Controller
from adaptive.render import manual_server
from adaptive.score.load import LoadedScore, load_score

SCORE = """
[sections.a]
tempo = 120
bars = 1
[sections.a.layers.tone]
patch = "tone"
"""

PATCH = '''"""tone: a quiet sine."""
from adaptive.engine.patch_api import PatchContext

CONTROLS = {}


def build(ctx: PatchContext):
    {body}
    return ctx.pyo.Sine([220.0, 220.0], mul=0.1)
'''


@dataclass
class Playing:
    """The part of a session the watcher uses (`reload.Reloadable`)."""

    loaded: LoadedScore
    engine: Engine | None
    controller: Controller | None
    pyo: ModuleType
    seed: int
    sample_rate: int


def write_patch(path: Path, body: str, version: int) -> None:
    path.write_text(PATCH.replace("{body}", body))
    stamp = time.time() + version  # a distinct mtime even within the filesystem's resolution
    os.utime(path, (stamp, stamp))


def test_a_patch_raising_in_build_is_refused_and_the_watcher_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "patches").mkdir()
    patch = tmp_path / "patches" / "tone.py"
    write_patch(patch, "pass", 0)
    (tmp_path / "score.toml").write_text(SCORE)
    loaded = load_score(tmp_path / "score.toml")
    pyo = import_pyo()
    monkeypatch.setattr(reload, "POLL_SECONDS", 0.05)
    with manual_server(pyo, loaded.sample_rate, 1) as server:
        engine = Engine(pyo, loaded, 1)
        clock = ManualClock(loaded.sample_rate, 256)
        control = Controller(loaded.score, engine, loaded.sample_rate, 256, clock=clock)
        session = Playing(loaded, engine, control, pyo, 1, loaded.sample_rate)
        server.start()
        engine.start()

        async def scenario() -> None:
            stop = asyncio.Event()
            watcher = asyncio.create_task(reload.watch_score(session, stop))

            async def until(condition: object, what: str) -> None:
                for _ in range(200):
                    for _ in range(4):
                        server.process()
                        clock.advance(256)
                    control.tick()
                    if condition():  # type: ignore[operator]
                        return
                    await asyncio.sleep(0.02)
                raise AssertionError(f"{what}: {control.status()}")

            await asyncio.sleep(0.1)
            write_patch(patch, "raise RuntimeError('patch exploded')", 10)
            await until(lambda: control.stats.snapshot().get("reload_failed", 0) >= 1,
                        "the failed build was not counted")
            assert not watcher.done(), "the watcher ended"
            assert "failed to build" in str(control.reload_error)
            assert "patch exploded" in str(control.reload_error)
            assert session.engine is engine and control.reloads == 0  # the old one plays on
            write_patch(patch, "pass", 20)
            await until(lambda: control.reloads == 1, "the fixed patch did not take over")
            assert control.reload_error is None and session.engine is not engine
            stop.set()
            await asyncio.wait_for(watcher, 2.0)

        try:
            asyncio.run(scenario())
        finally:
            control.bus.close()
