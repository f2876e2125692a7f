"""`state_at`: what the music is at any sample of a command history, computed without audio.

A screening's player may jump to 00:41:12:05; the music must then be what it would have
been had it played from the start. The conductor is pure and takes time only through
`advance`, so replaying the history up to the sample answers the question exactly: the
sections sounding and their positions, the parameters after smoothing, the rest, the
overrides and what is pending. Replaying is cheap because the conductor does work only at
commands, sync points and releases, never per block (measured by `bin/bench state`).
"""

from __future__ import annotations

from collections.abc import Iterable

from adaptive.commands import Command
from adaptive.conductor import Conductor
from adaptive.score.model import Score
from adaptive.snapshot import MusicState

__all__ = ["MusicState", "replay", "state_at"]


def replay(score: Score, history: Iterable[tuple[int, Command]], until: int,
           sample_rate: int, start: int = 0) -> Conductor:
    """A conductor that has played `history` (sample, command) up to `until` (exclusive)."""
    conductor = Conductor(score, sample_rate, start=start, keep_released=False)
    for at, command in history:
        conductor.submit(command, at, why="history")
    conductor.advance(until)
    return conductor


def state_at(score: Score, history: Iterable[tuple[int, Command]], sample: int,
             sample_rate: int) -> MusicState:
    """The musical state at `sample`, as if the history had played from sample 0."""
    return replay(score, history, sample + 1, sample_rate).state(sample)
