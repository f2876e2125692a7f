"""What is sounding at one sample: the conductor's answer to "where is the music now?".

Pure values, computed without audio (`Conductor.state`, `runtime.state.state_at`). The live
status, the seek and the tests read the same snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptive.actions import LayerKey


@dataclass(frozen=True)
class SoundingVoice:
    """One voice heard at the snapshot's sample (a section, a bridge, or one fading out)."""

    section: str
    slot: int
    origin: float  # ideal sample of the section's position 0
    started: int  # first audible sample
    bridge: bool
    position: float  # samples into the section (wrapped when it loops)
    bar: int  # 1-based, within the section
    beat: int  # 1-based, within the bar
    stopping_at: int | None  # where its fade-out begins, if planned
    why: str = ""


@dataclass(frozen=True)
class Pending:
    """Something planned that has not sounded yet."""

    at: int
    kind: str  # section | bridge | stop_voice | rest | resume | stinger | params | layers
    name: str | None
    why: str = ""


@dataclass(frozen=True)
class Armed:
    """The move armed, and where it would land if GO were pressed at the snapshot."""

    what: str  # section | stinger | state | rest | resume
    name: str | None
    lands: int


@dataclass(frozen=True)
class VampState:
    section: str
    bars: int
    since: int  # the first sample of the first repeat


@dataclass(frozen=True)
class MusicState:
    sample: int
    voices: tuple[SoundingVoice, ...]
    section: str | None
    """The section the music is on, or moving to once a pending transition sounds."""
    params: dict[str, float]
    """Parameter values as the music hears them at `sample` (after smoothing)."""
    targets: dict[str, float]
    resting: bool
    stopped: bool
    layer_overrides: dict[LayerKey, float] = field(default_factory=dict)
    """Performer multipliers that differ from 1 at `sample`."""
    stingers: tuple[tuple[str, int], ...] = ()
    """Stingers sounding: (name, first sample)."""
    pending: tuple[Pending, ...] = ()
    panicked: bool = False
    """A panic holds the music (until `resume` or `play`)."""
    armed: Armed | None = None
    vamp: VampState | None = None
    go_ignored: int = 0
    """GOs ignored by the lockout so far."""

    @property
    def sounding(self) -> tuple[str, ...]:
        """Names of the sections heard, the bed first."""
        names: list[str] = []
        for voice in sorted(self.voices, key=lambda v: (v.stopping_at is not None, v.started)):
            if voice.section not in names:
                names.append(voice.section)
        return tuple(names)
