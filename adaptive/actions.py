"""What the conductor decides and the engine carries out: small immutable values in samples.

`at` is always the first audible sample of the event (see `musical_time.first_sample`);
grids keep their fractional origin so positions inside a voice stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StartVoice:
    """A section starts sounding in one of its voice slots."""

    at: int
    section: str
    slot: int
    origin: float  # ideal sample of the section's position 0 (may precede `at`)
    fade_in: int  # samples
    curve: str
    bridge: bool = False


@dataclass(frozen=True)
class StopVoice:
    """A voice fades out from `at` over `fade_out` samples, then falls silent."""

    at: int
    section: str
    slot: int
    fade_out: int
    curve: str


@dataclass(frozen=True)
class SetParams:
    """New parameter targets (clamped to their ranges); the graph smooths toward them."""

    at: int
    values: dict[str, float] = field(hash=False)


@dataclass(frozen=True)
class StartStinger:
    at: int
    name: str
    slot: int


@dataclass(frozen=True)
class StartRest:
    """The bed fades to silence over `release` samples from `at` (tails ring meanwhile)."""

    at: int
    release: int


@dataclass(frozen=True)
class EndRest:
    """The bed re-enters at `at` (a downbeat) over `fade_in` samples."""

    at: int
    fade_in: int


@dataclass(frozen=True)
class SetLayerGains:
    """Performer overrides: a multiplier per (section, layer) that changed."""

    at: int
    values: dict[tuple[str, str], float] = field(hash=False)


Action = StartVoice | StopVoice | SetParams | StartStinger | StartRest | EndRest | SetLayerGains
