"""The score format: what a composer writes in a TOML file beside the stems.

Every model forbids unknown fields, so a typo is an error that names the field instead of a
setting that silently does nothing. Cross references (a transition naming a section, a
curve naming a parameter) are checked in `Score`'s validator, with the field path of the
offending value, so `adaptive validate` can tell the composer exactly what to change.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adaptive.musical_time import Meter


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quantize(StrEnum):
    """Where a musical event may start: the sync points of the playing section's grid."""

    IMMEDIATE = "immediate"
    BEAT = "beat"
    BAR = "bar"
    PHRASE = "phrase"
    END = "end"


class FadeCurve(StrEnum):
    LINEAR = "linear"
    EQUAL_POWER = "equal_power"
    S_CURVE = "s_curve"


class DestinationStart(StrEnum):
    BEGINNING = "beginning"
    SAME_POSITION = "same_position"


class Parameter(Strict):
    """An emotion dimension the score declares (valence, arousal, tension, ...)."""

    min: float = 0.0
    max: float = 1.0
    default: float = 0.0
    smoothing: float = Field(0.5, ge=0.0, description="seconds the music takes to follow a change")

    @model_validator(mode="after")
    def _range(self) -> Parameter:
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        if not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} lies outside [{self.min}, {self.max}]")
        return self

    def clamp(self, value: float) -> float:
        return min(self.max, max(self.min, value))


Breakpoint = tuple[float, float]
"""(parameter value, curve value); gain curves give dB (-inf allowed for silence)."""


class FieldProblems(ValueError):
    """Problems a model validator finds in its own sub-fields, each with its relative field
    path, message, offending value and fix: `load.problems_from_validation` appends the path
    to the model's location, so a message points at `...layers.pad.gain.tension`, not at
    the whole layer."""

    def __init__(self, problems: list[tuple[str, str, object, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message, _, _ in problems))


def _breakpoint_problem(points: list[Breakpoint]) -> tuple[str, object, str] | None:
    """What is wrong with one curve's breakpoints (message, value, fix), if anything."""
    if not points:
        return ("a curve needs at least one [parameter, value] breakpoint", None,
                "write [[parameter, value], ...]")
    xs = [x for x, _ in points]
    if any(not math.isfinite(x) for x in xs):
        return ("breakpoint parameter values must be finite numbers", xs,
                "write a number for each breakpoint's parameter value")
    if xs != sorted(xs):
        return ("breakpoints are not sorted by parameter value", xs,
                "sort the breakpoints by parameter value")
    if any(math.isnan(y) or y == math.inf for _, y in points):
        return ("breakpoint values must be numbers (-inf is allowed for silence)",
                [y for _, y in points], "write a number (or -inf) for each value")
    return None


Curve = Annotated[list[Breakpoint], Field(min_length=1)]
"""Breakpoints of one parameter, e.g. ``[[0.0, -inf], [0.4, -12], [1.0, 0]]``."""

CurveSet = dict[str, Curve]
"""One curve per parameter name; their values combine (gains in dB add up)."""


PatchArg = float | int | str | bool | list[float] | list[int]


class Layer(Strict):
    """One voice of a section: an audio stem or a procedural patch, interchangeable."""

    stem: str | None = Field(None, description="audio file (WAV/FLAC/AIFF), relative to the score")
    patch: str | None = Field(None, description="patches/NAME.py beside the score, or built in")
    args: dict[str, PatchArg] = Field(default_factory=dict)
    gain: float | CurveSet = Field(0.0, description="dB, constant or curves over parameters")
    controls: dict[str, float | CurveSet] = Field(
        default_factory=dict, description="patch controls, constant or curves over parameters"
    )
    stream: bool | None = Field(
        None, description="stem read from disk while it plays (true) or held in RAM (false); "
        "default: streamed when longer than score.stream_longer_than")

    @model_validator(mode="after")
    def _one_source(self) -> Layer:
        if (self.stem is None) == (self.patch is None):
            raise ValueError("a layer needs exactly one of 'stem' or 'patch'")
        if self.stem is not None and self.controls:
            raise ValueError("'controls' only apply to patch layers")
        if self.patch is not None and self.stream is not None:
            raise ValueError("'stream' only applies to stem layers")
        problems: list[tuple[str, str, object, str]] = []
        named = [("gain", self.gain), *((f"controls.{n}", c) for n, c in self.controls.items())]
        for field_path, curves in named:
            if isinstance(curves, dict):
                for parameter, points in curves.items():
                    problem = _breakpoint_problem(points)
                    if problem is not None:
                        problems.append((f"{field_path}.{parameter}", *problem))
        if problems:
            raise FieldProblems(problems)
        return self


class Section(Strict):
    """A passage the music moves between, with its own tempo, meter and harmony."""

    tempo: float = Field(gt=0, le=999, description="quarter notes per minute, as in a DAW")
    meter: str = Field("4/4", description="beats per bar / beat unit, e.g. 3/4 or 6/8")
    bars: int = Field(gt=0, description="length in bars")
    loop: bool = True
    phrase_bars: int = Field(4, gt=0, description="bars per phrase, for transitions on phrases")
    key: str | None = Field(None, description="e.g. 'D minor', 'F# major', 'A dorian'")
    chords: list[str] = Field(default_factory=list, description="one chord per bar, cycled")
    mood: dict[str, float] = Field(default_factory=dict, description="point for 'nearest' choice")
    next: str | None = Field(None, description="section that follows a section played once")
    layers: dict[str, Layer] = Field(default_factory=dict)
    max_tempo_bend: float = Field(
        0.0, ge=0.0, le=0.25, description="how far a hit point may bend the tempo (0.06 is "
        "6 %); only a section of patches bends: a stem would change pitch")

    @model_validator(mode="after")
    def _bend_needs_patches(self) -> Section:
        stems = [name for name, layer in self.layers.items() if layer.stem is not None]
        if self.max_tempo_bend > 0 and stems:
            raise ValueError(f"max_tempo_bend: layers {stems} are stems, which cannot bend "
                             "(their pitch would change); fix: set max_tempo_bend = 0 or use "
                             "patches only")
        return self

    @field_validator("meter")
    @classmethod
    def _meter(cls, value: str) -> str:
        Meter.parse(value)
        return value

    @property
    def parsed_meter(self) -> Meter:
        return Meter.parse(self.meter)


class Transition(Strict):
    """How the music moves from one section to another; wildcards allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field("*", alias="from")
    destination: str = Field("*", alias="to")
    when: Quantize = Quantize.BAR
    fade_out: float = Field(0.5, ge=0, description="seconds the source takes to fade out")
    fade_in: float = Field(0.0, ge=0, description="seconds the destination takes to fade in")
    curve: FadeCurve = FadeCurve.EQUAL_POWER
    bridge: str | None = Field(None, description="a section played once in between")
    start: DestinationStart = DestinationStart.BEGINNING

    def specificity(self) -> int:
        return (self.source != "*") * 2 + (self.destination != "*")


class Stinger(Strict):
    """A one-shot stem or patch laid over the bed, on the grid, optionally ducking it."""

    stem: str | None = None
    patch: str | None = None
    args: dict[str, PatchArg] = Field(default_factory=dict)
    when: Quantize = Quantize.BEAT
    gain: float = Field(0.0, description="dB")
    length: float | None = Field(None, gt=0, description="seconds; a patch stinger needs it")
    duck: float = Field(0.0, le=0, description="dB applied to the bed while it sounds")
    duck_attack: float = Field(0.05, ge=0)
    duck_release: float = Field(0.5, ge=0)
    key: str | None = Field(None, description="harmony for a patch stinger, e.g. 'D minor'")
    chord: str | None = Field(None, description="chord for a patch stinger, e.g. 'Dm'")

    @model_validator(mode="after")
    def _one_source(self) -> Stinger:
        if (self.stem is None) == (self.patch is None):
            raise ValueError("a stinger needs exactly one of 'stem' or 'patch'")
        if self.patch is not None and self.length is None:
            raise ValueError("a patch stinger needs 'length' (seconds it sounds)")
        if self.when in (Quantize.PHRASE, Quantize.END):
            raise ValueError("a stinger lands on 'immediate', 'beat' or 'bar'")
        return self


class RestSettings(Strict):
    """Silence as punctuation: where it starts, how tails ring, where the music re-enters."""

    when: Quantize = Quantize.BAR
    release: float = Field(1.5, ge=0, description="seconds the tails ring before silence")
    reenter: Literal["bar", "beat"] = "bar"
    fade_in: float = Field(0.0, ge=0, description="seconds of fade on re-entry")


class ChoiceRule(Strict):
    """Pick `section` (or a rest) while every listed parameter lies in its [low, high]."""

    section: str | None = None
    rest: bool = False
    when: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target(self) -> ChoiceRule:
        if (self.section is None) == (not self.rest):
            raise ValueError("a rule picks exactly one of 'section' or 'rest = true'")
        for name, (low, high) in self.when.items():
            if high < low:
                raise ValueError(f"range for {name!r} is reversed: [{low}, {high}]")
        return self


class Choice(Strict):
    """How the parameters pick the section, without flapping at a boundary."""

    mode: Literal["rules", "nearest", "manual"] = "manual"
    dwell: float = Field(2.0, ge=0, description="seconds a new pick must hold before it acts")
    hysteresis: float = Field(0.05, ge=0, description="in parameter units")
    rules: list[ChoiceRule] = Field(default_factory=list)


class ScoreInfo(Strict):
    name: str = "untitled"
    sample_rate: int = Field(48000, ge=8000, le=192000)
    initial_section: str | None = None
    initial_state: str | None = None
    master_gain: float = Field(0.0, le=12, description="dB before the limiter")
    stream_longer_than: float = Field(
        30.0, ge=0, description="seconds: section stems longer than this stream from disk "
        "(a small window in RAM) rather than load whole (8 bytes per sample per channel)")


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class Score(Strict):
    score: ScoreInfo = Field(default_factory=ScoreInfo)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    states: dict[str, dict[str, float]] = Field(default_factory=dict)
    sections: dict[str, Section] = Field(min_length=1)
    transitions: list[Transition] = Field(default_factory=list)
    stingers: dict[str, Stinger] = Field(default_factory=dict)
    rests: RestSettings = Field(default_factory=RestSettings)
    choice: Choice = Field(default_factory=Choice)

    @model_validator(mode="after")
    def _references(self) -> Score:
        problems = list(self.reference_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def reference_problems(self) -> list[str]:
        """Names that point nowhere, each as 'field.path: message'."""
        out: list[str] = []
        sections = set(self.sections)
        params = set(self.parameters)

        def check_section(path: str, name: str | None, wildcard: bool = False) -> None:
            if name is None or (wildcard and name == "*") or name in sections:
                return
            out.append(f"{path}: unknown section {name!r} (known: {', '.join(sorted(sections))})")

        def check_params(path: str, names: object) -> None:
            for name in names:  # type: ignore[attr-defined]
                if name not in params:
                    known = ", ".join(sorted(params)) or "none declared"
                    out.append(f"{path}.{name}: unknown parameter (known: {known})")

        for group, names in (("sections", self.sections), ("stingers", self.stingers),
                             ("parameters", self.parameters), ("states", self.states)):
            for name in names:
                if not _NAME.match(name):
                    out.append(f"{group}.{name}: names use letters, digits, '_' and '-'")
        check_section("score.initial_section", self.score.initial_section)
        if self.score.initial_state is not None and self.score.initial_state not in self.states:
            out.append(f"score.initial_state: unknown state {self.score.initial_state!r}")
        for state, values in self.states.items():
            check_params(f"states.{state}", values)
            for name, value in values.items():
                spec = self.parameters.get(name)
                if spec is not None and not spec.min <= value <= spec.max:
                    out.append(f"states.{state}.{name}: {value} outside [{spec.min}, {spec.max}]")
        for name, section in self.sections.items():
            check_section(f"sections.{name}.next", section.next)
            check_params(f"sections.{name}.mood", section.mood)
            for layer_name, layer in section.layers.items():
                path = f"sections.{name}.layers.{layer_name}"
                if isinstance(layer.gain, dict):
                    check_params(f"{path}.gain", layer.gain)
                for control, curves in layer.controls.items():
                    if isinstance(curves, dict):
                        check_params(f"{path}.controls.{control}", curves)
        for index, transition in enumerate(self.transitions):
            path = f"transitions[{index}]"
            check_section(f"{path}.from", transition.source, wildcard=True)
            check_section(f"{path}.to", transition.destination, wildcard=True)
            check_section(f"{path}.bridge", transition.bridge)
            bridge = self.sections.get(transition.bridge or "")
            if bridge is not None and bridge.loop:
                out.append(f"{path}.bridge: section {transition.bridge!r} loops; "
                           "a bridge plays once, set loop = false on it")
        for index, rule in enumerate(self.choice.rules):
            check_section(f"choice.rules[{index}].section", rule.section)
            check_params(f"choice.rules[{index}].when", rule.when)
        if self.choice.mode == "nearest":
            for name, section in self.sections.items():
                if section.loop and not section.mood:
                    out.append(f"sections.{name}.mood: choice.mode is 'nearest' but this "
                               "looping section has no mood point")
        if self.choice.mode == "rules" and not self.choice.rules:
            out.append("choice.rules: choice.mode is 'rules' but no rule is given")
        return out

    def initial_section_name(self) -> str:
        if self.score.initial_section is not None:
            return self.score.initial_section
        looping = [name for name, section in self.sections.items() if section.loop]
        return (looping or list(self.sections))[0]

    def initial_parameters(self) -> dict[str, float]:
        values = {name: spec.default for name, spec in self.parameters.items()}
        if self.score.initial_state is not None:
            values.update(self.states[self.score.initial_state])
        return values

    def transition(self, source: str, destination: str) -> Transition:
        """The most specific matching rule; among equals the first declared; else defaults."""
        best: Transition | None = None
        for rule in self.transitions:
            if rule.source not in ("*", source) or rule.destination not in ("*", destination):
                continue
            if best is None or rule.specificity() > best.specificity():
                best = rule
        return best if best is not None else Transition()
