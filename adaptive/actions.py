"""What the conductor decides and the engine carries out: small immutable values in samples.

`at` is always the first audible sample of the event (see `musical_time.first_sample`);
grids keep their fractional origin so positions inside a voice stay exact. `why` says which
command or rule caused an event, for the log and the status; it never changes the sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptive.ramps import Ramp

LayerKey = tuple[str, str]
"""(section, layer)"""


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
    why: str = field(default="", compare=False)


@dataclass(frozen=True)
class StopVoice:
    """A voice fades out from `at` over `fade_out` samples, then falls silent."""

    at: int
    section: str
    slot: int
    fade_out: int
    curve: str


@dataclass(frozen=True)
class RampParams:
    """Parameters move to new targets (clamped to their ranges), each by its ramp."""

    at: int
    ramps: dict[str, Ramp] = field(hash=False)

    @property
    def values(self) -> dict[str, float]:
        return {name: ramp.target for name, ramp in self.ramps.items()}


@dataclass(frozen=True)
class StartStinger:
    at: int
    name: str
    slot: int
    why: str = field(default="", compare=False)


@dataclass(frozen=True)
class StartRest:
    """The bed fades to silence over `release` samples from `at` (tails ring meanwhile)."""

    at: int
    release: int
    stop: bool = False  # a transport stop rather than a musical rest
    why: str = field(default="", compare=False)
    panic: bool = False  # a performer's panic: its own gate, opened only by a resume


@dataclass(frozen=True)
class EndRest:
    """The bed re-enters at `at` (a downbeat) over `fade_in` samples."""

    at: int
    fade_in: int
    why: str = field(default="", compare=False)
    unpanic: bool = False  # a resume after a panic: opens the panic gate too


@dataclass(frozen=True)
class RampLayers:
    """Performer overrides: a multiplier per (section, layer) that changed, each by its ramp."""

    at: int
    ramps: dict[LayerKey, Ramp] = field(hash=False)

    @property
    def values(self) -> dict[LayerKey, float]:
        return {key: ramp.target for key, ramp in self.ramps.items()}


@dataclass(frozen=True)
class BendVoices:
    """Tempo bends: each voice's position gains an offset (in samples) moving by its ramp,
    so a patch's grid speeds up or slows down until a downbeat meets a hit point."""

    at: int
    ramps: dict[tuple[str, int], Ramp] = field(hash=False)


@dataclass(frozen=True)
class NudgeClock:
    """Varispeed: from `at`, the graph's counter gains `samples` over `length` samples, so
    the whole music runs that little faster (or slower, for negative `samples`) meanwhile
    and then carries on moved (a film's chase, see `chase.Nudge`)."""

    at: int
    samples: int
    length: int
    why: str = ""


Action = (StartVoice | StopVoice | RampParams | StartStinger | StartRest | EndRest | RampLayers
          | BendVoices | NudgeClock)

ControlAction = RampParams | RampLayers | BendVoices

CONTROL_ACTIONS = (RampParams, RampLayers, BendVoices)
"""Actions that move values rather than start events: the driver holds them until the
ramps they replace are complete or their block is next (see `runtime.driver`)."""
