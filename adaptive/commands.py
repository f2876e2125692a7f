"""The one command vocabulary shared by timelines, the CLI and (later) OSC and MQTT.

Every input is parsed into one of these pydantic models; anything else is rejected at the
edge with a message naming the field, so the conductor only ever sees valid commands.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

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


class PlayStinger(_Command):
    cmd: Literal["stinger"] = "stinger"
    name: str


class Rest(_Command):
    """Silence as punctuation: for a number of beats or bars, or until `resume`."""

    cmd: Literal["rest"] = "rest"
    beats: float | None = Field(None, gt=0)
    bars: float | None = Field(None, gt=0)


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


class Play(_Command):
    cmd: Literal["play"] = "play"


class Stop(_Command):
    cmd: Literal["stop"] = "stop"


Command = Annotated[
    SetParam | SetParams | SetState | GoToSection | PlayStinger | Rest | Resume | Play | Stop
    | LayerMute | LayerSolo | LayerGain | LayerAuto,
    Field(discriminator="cmd"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: object) -> Command:
    """Validate a dict (from TOML, JSON, OSC or the CLI) into a command."""
    return COMMAND_ADAPTER.validate_python(data)
