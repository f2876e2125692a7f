"""The one command vocabulary shared by timelines, the CLI, OSC and MQTT.

Every input is parsed into one of these pydantic models; anything else is rejected at the
edge with a message naming the field, so the conductor only ever sees valid commands.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from adaptive.score.model import Quantize


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return value


class SetParam(_Command):
    cmd: Literal["param"] = "param"
    name: str
    value: float

    @field_validator("value")
    @classmethod
    def _value(cls, value: float) -> float:
        return _finite(value)


class SetParams(_Command):
    """Several parameters applied together, in the same audio block."""

    cmd: Literal["params"] = "params"
    values: dict[str, float] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _values(cls, values: dict[str, float]) -> dict[str, float]:
        for value in values.values():
            _finite(value)
        return values


class SetState(_Command):
    cmd: Literal["state"] = "state"
    name: str


class GoToSection(_Command):
    cmd: Literal["section"] = "section"
    name: str
    when: Quantize | None = Field(None, description="overrides the transition's sync point")
    bar: int = Field(1, ge=1, description="with land_after: the bar whose downbeat lands")
    land_after: float | None = Field(
        None, ge=0, description="seconds after this command at which bar `bar`'s downbeat "
        "sounds (a pickup onto a hit point): the destination's grid is anchored there")

    @field_validator("land_after")
    @classmethod
    def _land_after(cls, value: float | None) -> float | None:
        return None if value is None else _finite(value)


class PlayStinger(_Command):
    cmd: Literal["stinger"] = "stinger"
    name: str
    when: Quantize | None = Field(None, description="overrides the stinger's sync point")


class Rest(_Command):
    """Silence as punctuation: for a number of beats or bars, or until `resume`."""

    cmd: Literal["rest"] = "rest"
    beats: float | None = Field(None, gt=0)
    bars: float | None = Field(None, gt=0)
    when: Quantize | None = Field(None, description="overrides the rests' sync point")


class Resume(_Command):
    cmd: Literal["resume"] = "resume"
    section: str | None = None


class LayerMute(_Command):
    """Performer override: silence a layer (by name in every section, or 'section.layer')."""

    cmd: Literal["mute"] = "mute"
    layer: str
    on: bool = True


class LayerSolo(_Command):
    """Performer override: while any layer is soloed, only soloed layers sound."""

    cmd: Literal["solo"] = "solo"
    layer: str
    on: bool = True


class LayerGain(_Command):
    """Performer override: a gain in dB on top of the score's own curves."""

    cmd: Literal["layer_gain"] = "layer_gain"
    layer: str
    db: float = Field(ge=-120.0, le=12.0)

    @field_validator("db")
    @classmethod
    def _db(cls, value: float) -> float:
        return _finite(value)


class LayerAuto(_Command):
    """Back to the score's own curves: clears mute, solo and gain of the layer."""

    cmd: Literal["auto"] = "auto"
    layer: str


class TempoBend(_Command):
    """Bend the bed's tempo from now so that a downbeat lands `land_after` seconds later
    (a hit point met by the grid, like a film composer fitting a click). Only a section
    of patches with `max_tempo_bend` may bend, and never by more than that."""

    cmd: Literal["bend"] = "bend"
    land_after: float = Field(gt=0)

    @field_validator("land_after")
    @classmethod
    def _land_after(cls, value: float) -> float:
        return _finite(value)


TransportState = Literal["play", "pause", "stop", "seek"]


class Transport(_Command):
    """Where the film is, as a video player reports it (film seconds, or a timecode of the
    cue sheet), and what it is doing. It moves the chase, never the conductor directly."""

    cmd: Literal["transport"] = "transport"
    time: float | None = Field(None, ge=0.0, le=360000.0, description="film seconds")
    timecode: str | None = Field(None, description="HH:MM:SS:FF in the sheet's frame rate")
    state: TransportState | None = None

    @field_validator("time")
    @classmethod
    def _time(cls, value: float | None) -> float | None:
        return None if value is None else _finite(value)


class Play(_Command):
    cmd: Literal["play"] = "play"


ArmKind = Literal["section", "stinger", "state", "rest", "resume"]


class Arm(_Command):
    """Prepare a move without doing it: `go` fires it (see `perform`). A section, stinger
    or state needs its name; `resume` may name the section to re-enter with."""

    cmd: Literal["arm"] = "arm"
    what: ArmKind
    name: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Arm:
        if self.what in ("section", "stinger", "state") and not self.name:
            raise ValueError(f"arming a {self.what} needs its name")
        if self.what == "rest" and self.name is not None:
            raise ValueError("a rest takes no name")
        return self

    def move(self) -> GoToSection | PlayStinger | SetState | Rest | Resume:
        """The command this arms (fired by `go`, or where a `devamp` leaves)."""
        if self.what == "section":
            return GoToSection(name=self.name or "")
        if self.what == "stinger":
            return PlayStinger(name=self.name or "")
        if self.what == "state":
            return SetState(name=self.name or "")
        if self.what == "rest":
            return Rest()
        return Resume(section=self.name)


class Go(_Command):
    """Fire what is armed on its sync point (or on `when`); a second GO within the lockout
    is ignored and counted, so a double press never fires twice."""

    cmd: Literal["go"] = "go"
    when: Quantize | None = Field(None, description="overrides the armed move's sync point")


class Disarm(_Command):
    cmd: Literal["disarm"] = "disarm"


class Vamp(_Command):
    """Hold the music: from the next bar, the last `bars` bars repeat until `devamp`."""

    cmd: Literal["vamp"] = "vamp"
    bars: int = Field(1, ge=1, le=64)


class Devamp(_Command):
    """Leave the vamp at the next beat or bar, firing what is armed there (if anything)."""

    cmd: Literal["devamp"] = "devamp"
    exit: Literal["beat", "bar"] = "bar"


class Panic(_Command):
    """Fade everything (bed, stingers, tails) to silence over `seconds` and hold it until
    `resume` or `play`; 0 is a hard stop (with the 3 ms anti-click fade)."""

    cmd: Literal["panic"] = "panic"
    seconds: float = Field(2.0, ge=0.0, le=60.0)

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: float) -> float:
        return _finite(value)


class Stop(_Command):
    cmd: Literal["stop"] = "stop"


Command = Annotated[
    SetParam | SetParams | SetState | GoToSection | PlayStinger | Rest | Resume | Play | Stop
    | LayerMute | LayerSolo | LayerGain | LayerAuto | TempoBend | Transport
    | Arm | Go | Disarm | Vamp | Devamp | Panic,
    Field(discriminator="cmd"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: object) -> Command:
    """Validate a dict (from TOML, JSON, OSC or the CLI) into a command."""
    return COMMAND_ADAPTER.validate_python(data)
