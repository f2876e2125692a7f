"""The driver: one policy for what reaches the engine when, shared by render and serve.

Theory of operation
-------------------
The caller tells the driver where the audio is: `now`, the first sample of the block the
graph computes next. The driver asks the conductor for everything planned before
``now + horizon`` and hands it to the engine:

- *Events* (voice starts and stops, stingers, rests) are placed in the graph by comparing
  the sample counter with a start sample, so they are written as soon as they are
  released: ahead of time, they sound on their sample.
- *Controls* (parameter and override ramps) are ramps computed in the graph from their
  start sample, so they too sound on their sample once written — but writing a ramp
  replaces the one in progress. A control is therefore written as soon as every ramp it
  replaces is complete (then the value in between is exactly the old target), and at the
  latest in the block that holds its start sample (then only the samples of that block
  before the start can differ, and only while the old ramp still moves).

Offline the caller is the render loop, block by block; live it is the controller, from
the input threads and the ticker. The horizon only decides how early things are written,
never when they sound, so a render and a live performance of the same commands agree.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Protocol

from adaptive.actions import CONTROL_ACTIONS, Action, ControlAction, NudgeClock, StartRest
from adaptive.commands import Command
from adaptive.conductor import Conductor
from adaptive.score.model import Score

SEEK_FADE_SECONDS = 0.02
"""A seek cross-fades from what was playing over 20 ms: short, and never a click."""


class Sink(Protocol):
    """Where actions go: the engine (or a test's recorder)."""

    def apply(self, action: Action) -> None: ...


def _keys(action: ControlAction) -> Iterable[Hashable]:
    return action.ramps.keys()


def _ends(action: ControlAction) -> Iterable[tuple[Hashable, int]]:
    return ((key, ramp.end) for key, ramp in action.ramps.items())


class Driver:
    def __init__(self, conductor: Conductor, sink: Sink, block: int, horizon_blocks: int,
                 on_applied: Callable[[Action], None] | None = None) -> None:
        self.conductor = conductor
        self.sink = sink
        self.block = block
        self.horizon = block * horizon_blocks
        self.on_applied = on_applied
        self._held: list[ControlAction] = []
        self._moving_until: dict[Hashable, int] = {}
        """Per control key, the last sample of the ramp last written."""
        self.released_until = 0
        """The conductor driving now has released everything before this sample (a command
        then cannot replace a plan released before it: the show log keeps it, for a
        faithful replay)."""

    def pump(self, now: int, until: int | None = None) -> list[Action]:
        """Release what is due before `now + horizon` (or `until`: a replay releases no
        further than the live show had); returns what was written."""
        written: list[Action] = []
        block_end = now + self.block
        until = now + self.horizon if until is None else until
        self.released_until = max(self.released_until, until)
        for action in self.conductor.advance(until):
            if not isinstance(action, CONTROL_ACTIONS):
                self._write(action, written)
            elif not self._held and action.at < block_end:
                # the common case, kept quick (a flood): due in the coming block
                self._write(action, written)
                self._moving_until.update(_ends(action))
            else:
                self._held.append(action)
        if self._held:
            self._write_controls(now, written)
        return written

    def _write_controls(self, now: int, written: list[Action]) -> None:
        waiting: set[Hashable] = set()
        held: list[ControlAction] = []
        for action in self._held:
            keys = list(_keys(action))
            free = all(self._moving_until.get(key, -1) < now for key in keys) and \
                not waiting.intersection(keys)
            if free or action.at < now + self.block:
                self._write(action, written)
                self._moving_until.update(_ends(action))
            else:
                held.append(action)
                waiting.update(keys)
        self._held = held

    def _write(self, action: Action, written: list[Action]) -> None:
        self.sink.apply(action)
        written.append(action)
        if self.on_applied is not None:
            self.on_applied(action)

    @property
    def holding(self) -> bool:
        """Whether a control waits for its block (a live ticker then ticks every block)."""
        return bool(self._held)

    def halt(self, score: Score, at: int, fade_seconds: float = SEEK_FADE_SECONDS,
             why: str = "halt") -> Conductor:
        """From sample `at`, fade everything (bed, stingers, tails) to silence and hold it:
        a film's pause or stop. A later `seek` brings the music back where the film is."""
        rate = self.conductor.sample_rate
        fade = max(1, round(fade_seconds * rate))
        stops, reserved = self.conductor.hand_over(at, fade)
        halted = Conductor(score, rate, start=at, keep_released=self.conductor.keep_released,
                           reserved=reserved, silent=True)
        halted.arming, halted.panicked = self.conductor.arming, self.conductor.panicked
        halted.params.update(self.conductor.params)
        halted.param_ramps.update(self.conductor.param_ramps)
        halted.layer_ramps.update(self.conductor.layer_ramps)
        halted.advance(at)
        halted.released.clear()
        self.conductor = halted
        self.released_until = at
        self._held.clear()
        self._moving_until.clear()
        written: list[Action] = []
        for action in [*stops, StartRest(at, fade, stop=True, why=why)]:
            self._write(action, written)
        return halted

    def nudge(self, at: int, samples: int, length: int, why: str = "nudge") -> None:
        """Varispeed from `at`: the music moves by `samples` over `length` (see
        `actions.NudgeClock`); what is planned stays planned, in the music's own time."""
        self._write(NudgeClock(at, samples, length, why), [])

    def seek(self, score: Score, history: Sequence[tuple[int, Command]], target: int,
             at: int, fade_seconds: float = SEEK_FADE_SECONDS,
             keep_released: bool = False, why: str = "history") -> Conductor:
        """From sample `at`, play what `history` implies at its sample `target`, as if it
        had played from the start, cross-fading from what was playing.

        The history is replayed by a fresh conductor in this performance's time (shifted
        by ``at - target``), without audio; its voices then restart at their exact
        positions. Returns the new conductor, which now drives."""
        rate = self.conductor.sample_rate
        fade = max(1, round(fade_seconds * rate))
        previous = self.conductor
        stops, reserved = previous.hand_over(at, fade)
        offset = at - target
        replayed = Conductor(score, rate, start=offset, keep_released=keep_released,
                             reserved=reserved)
        replayed.arming = previous.arming  # the performer's, not the history's
        for sample, command in history:
            replayed.submit(command, sample + offset, why=why)
        replayed.advance(at)
        replayed.released.clear()
        # a panic holds across a relocation: the engine's panic gate stays closed until
        # a resume, which the replayed conductor must then know to open
        replayed.panicked = replayed.panicked or previous.panicked
        entry = replayed.enter_at(at, fade, previous)
        self.conductor = replayed
        self.released_until = at
        self._held.clear()
        self._moving_until.clear()
        written: list[Action] = []
        for action in [*stops, *entry]:
            self._write(action, written)
            if isinstance(action, CONTROL_ACTIONS):
                self._moving_until.update(_ends(action))
        if keep_released:
            replayed.released.extend(written)
        return replayed
