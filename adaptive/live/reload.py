"""Hot reload (`--watch`): a changed score takes over at the next bar, a bad one is refused.

The score file, its stems and its own patches are polled for changes. A new version is
loaded and checked off the event loop; if it fails, the playing score goes on and the
failure is logged and shown in the status. If it loads, its graph is built while the old
one plays (Python yields the GIL often, so the audio thread is never starved), then swapped
in on the next bar by `Controller.replace`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from adaptive.engine.engine import Engine
from adaptive.errors import AdaptiveError
from adaptive.score.load import LoadedScore, load_score

if TYPE_CHECKING:
    from adaptive.live.session import Session

log = logging.getLogger("adaptive.reload")

POLL_SECONDS = 0.3


def watched_files(loaded: LoadedScore) -> list[Path]:
    files = [loaded.path, *(info.path for info in loaded.stems.values())]
    files += [path for path in loaded.patches.values()
              if loaded.directory in path.parents]
    return files


def _mtimes(files: list[Path]) -> dict[Path, float]:
    times = {}
    for path in files:
        try:
            times[path] = path.stat().st_mtime
        except OSError:
            times[path] = -1.0
    return times


async def watch_score(session: Session, stop: asyncio.Event) -> None:
    controller = session.controller
    assert controller is not None
    seen = _mtimes(watched_files(session.loaded))
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
            return
        except TimeoutError:
            pass
        current = _mtimes(list(seen))
        if current == seen:
            continue
        await asyncio.sleep(POLL_SECONDS)  # let an editor finish writing
        seen = _mtimes(list(seen))
        try:
            loaded = await asyncio.to_thread(load_score, session.loaded.path)
        except AdaptiveError as error:
            controller.reload_error = str(error)
            controller.stats.count("reload_failed", f"kept the playing score: {error}",
                                   logging.ERROR)
            continue
        if loaded.sample_rate != session.sample_rate:
            controller.reload_error = "the sample rate cannot change while playing"
            controller.stats.count("reload_failed", controller.reload_error, logging.ERROR)
            continue
        assert session.engine is not None
        counter = session.engine.counter
        engine = await asyncio.to_thread(Engine, session.pyo, loaded, session.config.seed,
                                         counter)
        engine.output.out()
        at = controller.replace(loaded.score, engine)
        session.loaded, session.engine = loaded, engine
        controller.reload_error = None
        controller.reloads += 1
        seen = _mtimes(watched_files(loaded))
        log.info("reloaded %s: takes over at sample %d", loaded.path.name, at)
