"""Hot reload (`--watch`): a changed score takes over at the next bar, a bad one is refused.

The score file, its stems and its own patches are polled for changes. A new version is
loaded and checked off the event loop; if it fails, the playing score goes on and the
failure is logged and shown in the status. If it loads, its graph is built while the old
one plays (Python yields the GIL often, so the audio thread is never starved), then swapped
in on the next bar by `Controller.replace`. A graph that fails to build (a patch raising in
`build()`) is refused the same way: the watcher never ends while the music plays.

What the watcher needs of the session is the `Reloadable` protocol, so this module does not
import `session` (which starts the watcher).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import ModuleType
from typing import Protocol

from adaptive.engine.engine import Engine
from adaptive.errors import AdaptiveError
from adaptive.live.controller import Controller
from adaptive.score.load import LoadedScore, load_score

log = logging.getLogger("adaptive.reload")

POLL_SECONDS = 0.3


class Reloadable(Protocol):
    """What the watcher reads and replaces: the playing score and graph."""

    loaded: LoadedScore
    engine: Engine | None
    controller: Controller | None
    pyo: ModuleType
    seed: int
    sample_rate: int


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


def _refuse(controller: Controller, message: str) -> None:
    controller.reload_error = message
    controller.stats.count("reload_failed", f"kept the playing score: {message}", logging.ERROR)


async def watch_score(session: Reloadable, stop: asyncio.Event) -> None:
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
            loaded = await _reload(session, controller)
        except Exception as error:  # whatever a score or a patch does, the watcher goes on
            log.debug("reload failed", exc_info=True)
            _refuse(controller, f"{type(error).__name__}: {error}")
            continue
        if loaded is not None:
            seen = _mtimes(watched_files(loaded))


async def _reload(session: Reloadable, controller: Controller) -> LoadedScore | None:
    """Load, check and build the changed score; swap it in, or refuse it (None)."""
    try:
        loaded = await asyncio.to_thread(load_score, session.loaded.path)
    except AdaptiveError as error:
        _refuse(controller, str(error))
        return None
    if loaded.sample_rate != session.sample_rate:
        _refuse(controller, "the sample rate cannot change while playing")
        return None
    assert session.engine is not None
    counter = session.engine.counter
    try:
        engine = await asyncio.to_thread(Engine, session.pyo, loaded, session.seed, counter,
                                         session.engine.meters is not None)
    except Exception as error:  # a patch is code: its build() may raise anything
        log.debug("building the reloaded graph failed", exc_info=True)
        _refuse(controller, f"the new graph failed to build: {type(error).__name__}: {error}")
        return None
    engine.output.out()
    engine.streamer.run_in_background()
    at = controller.replace(loaded.score, engine)
    session.loaded, session.engine = loaded, engine
    controller.reload_error = None
    controller.reloads += 1
    log.info("reloaded %s: takes over at sample %d", loaded.path.name, at)
    return loaded
