"""What an input is: an endpoint with one small interface, whatever its transport.

An endpoint (`Endpoint`) is opened before the music starts (`open`: take the port, so a
busy one costs no audio start-up), started with the `Core` it feeds (`start`), and stopped
(`stop`). In between it turns what arrives into commands, hands them to the core
(`Core.admit` to check one, `Core.submit_batch` to apply what was read together), answers
queries from `Core.status`, and sends events by subscribing to the output bus
(`Core.bus.subscribe`). Endpoints know nothing of each other: OSC, MQTT and timelines are
each one module, and the next one (film transport, HTTP, MIDI) is one more, added to the
session's list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from adaptive.commands import Command
from adaptive.errors import AdaptiveError
from adaptive.live.inputs import Timed

if TYPE_CHECKING:
    from collections.abc import Callable

    from adaptive.live.bus import OutputBus
    from adaptive.live.controller import Event, InputStats
    from adaptive.live.film import FilmFollower
    from adaptive.score.model import Score


class StartupError(AdaptiveError):
    """An endpoint cannot start (a busy port, a bad address): one line for the user."""


class Core(Protocol):
    """What an endpoint may use of the controller."""

    sample_rate: int
    stats: InputStats
    bus: OutputBus[Event]
    score: Score
    observers: list[Callable[[str, Command, int | None, int], None]]

    def admit(self, command: Command, source: str = "") -> Command | None: ...

    def submit_batch(self, commands: list[Timed], source: str, counter: str) -> None: ...

    def sample_at(self, wall_time: float) -> int: ...

    def wall_at(self, sample: int) -> float: ...

    def now(self) -> int: ...

    def status(self) -> dict[str, Any]: ...

    def attach_film(self, follower: FilmFollower, run_from: float | None) -> None: ...

    def levels(self) -> dict[str, tuple[float, float]]: ...


class Endpoint(Protocol):
    name: str

    def open(self) -> None:
        """Take what can fail (sockets, files) before the music starts; raises
        StartupError."""

    def start(self, core: Core) -> None:
        """Begin receiving (on a thread of its own) and sending."""

    def stop(self) -> None:
        """Stop receiving, say goodbye where the protocol has a way, release everything."""
