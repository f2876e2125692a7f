"""MIDI controllers: the map file (faders and pads → commands) and the translation. Pure.

A map is a TOML file of `[[cc]]` and `[[note]]` entries, each keyed by (channel, number):

- a `[[cc]]` with `param` (and `range = [lo, hi]`, default the parameter's own) is a
  fader: value 0..127 → lo..hi, a `SetParam`; with `layer` (and `db = [lo, hi]`, default
  [-60, 0]) it is the layer's performer gain, a `LayerGain`;
- a `[[cc]]` or `[[note]]` with `cmd` is a button: the rest of the entry is a command of
  the one command model (`cmd = "stinger", name = "hit"`), fired when the button is
  pressed (a note-on with a velocity, or a CC crossing up to 64 or more). `mute` and `solo`
  without `on` toggle the layer.

Theory of operation
-------------------
`load_midi_map` validates the file with pydantic and checks every name against the score,
so a map that loads can only produce commands the score knows; each problem names the
file, the entry and the fix (`MidiMapError`). At run time `MidiMapper.translate` takes the
raw messages read together (one JACK period's worth, or more after a stall) and returns
the commands in arrival order: a fader moved several times in one read keeps only its
latest value (a fader is a state, like an OSC parameter flood: see `inputs.coalesce`);
buttons are never merged. The mapper keeps two states: which CC buttons are held (a press
fires once, however many values above 64 follow) and, for toggles, the mutes it cannot
read from the music (`muted` tells it what the conductor has). Malformed, unmapped and
ignored messages are reported through a counting callback, never raised.
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adaptive.commands import Command, LayerGain, LayerMute, LayerSolo, SetParam
from adaptive.errors import AdaptiveError, ScoreProblem
from adaptive.names import ScoreNames
from adaptive.score.model import Score

Count = Callable[[str, str, int], None]
"""`InputStats.count`-shaped: (kind, message, log level)."""

DB_RANGE = (-60.0, 0.0)
"""A gain fader's default: 0 → -60 dB, 127 → unity."""
PRESSED = 64
"""A CC button is down from this value up (the MIDI convention for switches)."""

Channel = Annotated[int, Field(ge=1, le=16, description="MIDI channel, 1-16")]
Seven = Annotated[int, Field(ge=0, le=127)]

_FADER_KEYS = {"channel", "cc", "param", "range", "layer", "db"}
_BUTTON_KEYS = {"cc": {"channel", "cc", "toggle"}, "note": {"channel", "note", "toggle"}}


def _split_command(data: Any, kind: str) -> Any:
    """A button's own keys stay; every other key is the command's (`cmd` and the rest)."""
    if not isinstance(data, dict) or "cmd" not in data:
        return data
    own = {key: value for key, value in data.items() if key in _BUTTON_KEYS[kind]}
    command = {key: value for key, value in data.items() if key not in _BUTTON_KEYS[kind]}
    return {**own, "command": command}


class _Binding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel = 1
    command: Command | None = None
    toggle: bool | None = Field(None, description="mute/solo: flip the layer on each press "
                                "(default when `on` is not given)")

    @model_validator(mode="after")
    def _toggle(self) -> _Binding:
        if self.toggle is None:
            return self
        if not isinstance(self.command, LayerMute | LayerSolo):
            raise ValueError("toggle is for a mute or solo button; remove it")
        if self.toggle and "on" in self.command.model_fields_set:
            raise ValueError("a toggle flips the layer: remove on, or toggle")
        return self

    @property
    def toggles(self) -> bool:
        """A mute or solo without `on` flips the layer on each press."""
        if not isinstance(self.command, LayerMute | LayerSolo):
            return False
        if self.toggle is not None:
            return self.toggle
        return "on" not in self.command.model_fields_set


class CcBinding(_Binding):
    """A fader (`param` or `layer`) or a button (`cmd`) on a controller number."""

    cc: Seven
    param: str | None = None
    range: tuple[float, float] | None = Field(None, description="value 0 → lo, 127 → hi")
    layer: str | None = None
    db: tuple[float, float] | None = Field(None, description="the layer's gain: 0 → lo dB, "
                                           "127 → hi dB")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        return _split_command(data, "cc")

    @model_validator(mode="after")
    def _one_target(self) -> CcBinding:
        targets = [name for name, given in (("param", self.param is not None),
                                            ("layer", self.layer is not None),
                                            ("cmd", self.command is not None)) if given]
        if len(targets) != 1:
            raise ValueError("a [[cc]] drives one thing: give param (a fader), layer (a "
                             "gain fader) or cmd (a button)"
                             + (f", not {' and '.join(targets)}" if targets else ""))
        if self.range is not None and self.param is None:
            raise ValueError("range goes with param; use db for a layer's gain")
        if self.db is not None and self.layer is None:
            raise ValueError("db goes with layer; use range for a parameter")
        if self.db is not None and not all(-120.0 <= v <= 12.0 for v in self.db):
            raise ValueError(f"db {list(self.db)} must lie within [-120, 12]")
        return self

    @property
    def fader(self) -> bool:
        return self.command is None


class NoteBinding(_Binding):
    """A pad or key: a note-on fires the command."""

    note: Seven

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        return _split_command(data, "note")

    @model_validator(mode="after")
    def _needs_command(self) -> NoteBinding:
        if self.command is None:
            raise ValueError("a [[note]] needs cmd (go, stinger, state, section, mute, vamp, "
                             "devamp, panic, rest, resume, arm, ...)")
        return self


@dataclass(frozen=True)
class MidiMapFile:
    """The valid entries of a file, each with its index in the file (for messages)."""

    name: str
    cc: list[tuple[int, CcBinding]]
    note: list[tuple[int, NoteBinding]]


Key = tuple[int, int]
"""(channel 1-16, controller or note number)"""


@dataclass(frozen=True)
class MidiMap:
    """A validated map, indexed for lookup."""

    path: Path
    name: str
    cc: dict[Key, CcBinding]
    note: dict[Key, NoteBinding]
    score: Score

    def describe(self) -> str:
        faders = sum(1 for b in self.cc.values() if b.fader)
        buttons = len(self.cc) - faders + len(self.note)
        return f"{self.name or self.path.name}: {faders} faders, {buttons} buttons"


class MidiMapError(AdaptiveError):
    """A MIDI map file is invalid: each problem names the entry, the value and the fix."""

    def __init__(self, path: str, problems: list[ScoreProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join([f"{path}: {len(problems)} problem(s) in the MIDI map",
                                    *(f"  {problem}" for problem in problems)]))


_FIXES = {
    "missing": "add this field",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "literal_error": "use one of the allowed values",
    "float_parsing": "write a number",
    "tuple_type": "write two numbers: [lo, hi]",
    "too_short": "write two numbers: [lo, hi]",
    "too_long": "write two numbers: [lo, hi]",
}


def _where(location: Sequence[int | str]) -> str:
    """An error's place in an entry: ('command', 'stinger', 'name') → 'name' (a button's
    command keys are written in the entry itself)."""
    text = ""
    parts = list(location)
    for index, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "command" and (index == 0 or parts[index - 1] != "command") \
                and "[" not in part and not part.startswith("function-"):
            text += f".{part}" if text else part
    return text


def _command_models() -> dict[str, type[BaseModel]]:
    union = get_args(Command)[0]  # Annotated[Union[...], Field(discriminator)]
    return {str(model.model_fields["cmd"].default): model for model in get_args(union)}


_COMMANDS = _command_models()


def _guess(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""


def _unknown_key_fix(kind: str, entry: dict[str, Any], name: str) -> str:
    model = _COMMANDS.get(str(entry.get("cmd")))
    known = _BUTTON_KEYS[kind] | {"cmd"}
    if model is not None:
        known |= set(model.model_fields) - {"cmd"}
    elif kind == "cc":
        known |= _FADER_KEYS
    listed = sorted(known)
    return f"{_guess(name, listed) or 'remove it; '}(keys here: {', '.join(listed)})"


def _problems(error: ValidationError, where: str, kind: str,
              entry: dict[str, Any]) -> list[ScoreProblem]:
    """One entry's validation errors, each with its place in the file and a fix."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        path = _where(item["loc"])
        place = f"{where}.{path}" if path else where
        value = item.get("input")
        if (isinstance(value, dict | list) and len(repr(value)) > 80) or \
                item["type"] in ("missing", "value_error"):
            value = None  # the message says what is wrong with the entry
        if item["type"] == "extra_forbidden":
            problems.append(ScoreProblem(place, "unknown key", value,
                                         _unknown_key_fix(kind, entry, str(item["loc"][-1]))))
        elif item["type"] == "union_tag_invalid":
            tag = str(entry.get("cmd"))
            problems.append(ScoreProblem(f"{where}.cmd", f"unknown command {tag!r}", fix=(
                f"{_guess(tag, sorted(_COMMANDS))}use one of: {', '.join(sorted(_COMMANDS))}")))
        else:
            problems.append(ScoreProblem(place, message, value, _FIXES.get(item["type"], "")))
    return problems


def _validated(data: dict[str, Any]) -> tuple[MidiMapFile, list[ScoreProblem]]:
    """Each entry validated on its own, so one bad entry hides no other's problems (the
    bad ones are left out of the result)."""
    problems: list[ScoreProblem] = []
    for key in data:
        if key not in ("name", "cc", "note"):
            problems.append(ScoreProblem(key, "unknown key", fix=f"{_guess(key, ['cc', 'note'])}"
                                         "a map has [[cc]] and [[note]] entries (and a name)"))
    name = data.get("name", "")
    if not isinstance(name, str):
        problems.append(ScoreProblem("name", "must be text", name, "write it in quotes"))
        name = ""
    valid: dict[str, list[tuple[int, Any]]] = {"cc": [], "note": []}
    for kind, model in (("cc", CcBinding), ("note", NoteBinding)):
        raw = data.get(kind, [])
        if not isinstance(raw, list):
            problems.append(ScoreProblem(kind, f"must be a list of [[{kind}]] tables",
                                         fix=f"write each entry under [[{kind}]]"))
            continue
        for index, entry in enumerate(raw):
            where = f"{kind}[{index}]"
            if not isinstance(entry, dict):
                problems.append(ScoreProblem(where, "must be a table", entry,
                                             f"write it under [[{kind}]]"))
                continue
            try:
                valid[kind].append((index, model.model_validate(entry)))
            except ValidationError as error:
                problems.extend(_problems(error, where, kind, entry))
    return MidiMapFile(name, valid["cc"], valid["note"]), problems


def _check_names(parsed: MidiMapFile, score: Score) -> list[ScoreProblem]:
    """Every name an entry uses, against the score (the live server's own rule)."""
    names = ScoreNames(score)
    problems: list[ScoreProblem] = []
    entries: list[tuple[str, int, CcBinding | NoteBinding]] = [
        *(("cc", index, binding) for index, binding in parsed.cc),
        *(("note", index, binding) for index, binding in parsed.note)]
    for kind, index, binding in entries:
        where = f"{kind}[{index}]"
        command, rename = binding.command, {}
        if isinstance(binding, CcBinding) and binding.param is not None:
            command, rename = SetParam(name=binding.param, value=0.0), {"name": "param"}
            spec = score.parameters.get(binding.param)
            if spec is not None and binding.range is not None and \
                    not all(spec.min <= v <= spec.max for v in binding.range):
                problems.append(ScoreProblem(
                    f"{where}.range", f"goes beyond {binding.param}'s own range "
                    f"[{spec.min:g}, {spec.max:g}]", list(binding.range),
                    "keep both ends within the parameter's min and max (or leave range "
                    "out: the parameter's own)"))
        elif isinstance(binding, CcBinding) and binding.layer is not None:
            command = LayerGain(layer=binding.layer, db=0.0)
        if command is None:
            continue
        for problem in names.problems(command):
            problems.append(ScoreProblem(f"{where}.{rename.get(problem.field, problem.field)}",
                                         problem.message, fix=problem.fix))
    return problems


def _check_duplicates(parsed: MidiMapFile) -> list[ScoreProblem]:
    problems = []
    for kind, entries in (("cc", parsed.cc), ("note", parsed.note)):
        seen: dict[Key, int] = {}
        for index, binding in entries:
            number = binding.cc if isinstance(binding, CcBinding) else binding.note
            key = (binding.channel, number)
            if key in seen:
                problems.append(ScoreProblem(
                    f"{kind}[{index}]", f"{kind} {number} on channel {binding.channel} is "
                    f"already mapped by {kind}[{seen[key]}]",
                    fix="map each control once (or set channel to tell them apart)"))
            else:
                seen[key] = index
    return problems


def parse_midi_map(text: str, path: Path, score: Score) -> MidiMap:
    """Validate TOML text against the map format and the score's names."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MidiMapError(str(path), [ScoreProblem("", f"not valid TOML: {error}",
                                                    fix="check quotes, brackets and commas")]
                           ) from None
    parsed, problems = _validated(data)
    problems += _check_duplicates(parsed) + _check_names(parsed, score)
    if problems:
        raise MidiMapError(str(path), problems)
    if not parsed.cc and not parsed.note:
        raise MidiMapError(str(path), [ScoreProblem("", "maps nothing",
                                                    fix="add [[cc]] or [[note]] entries")])
    return MidiMap(path, parsed.name, {(b.channel, b.cc): b for _, b in parsed.cc},
                   {(b.channel, b.note): b for _, b in parsed.note}, score)


def load_midi_map(path: str | Path, score: Score) -> MidiMap:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MidiMapError(str(path), [ScoreProblem("", f"cannot read the file: {error}",
                                                    fix="check the path")]) from None
    return parse_midi_map(text, path, score)


# ------------------------------------------------------------------------- messages

MessageKind = Literal["cc", "note_on", "note_off", "other"]


@dataclass(frozen=True)
class MidiMessage:
    kind: MessageKind
    channel: int = 0  # 1-16; 0 for system messages
    number: int = 0
    value: int = 0


class Malformed(ValueError):
    """Bytes that are not one complete MIDI message."""


_LENGTHS = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}
_SYSTEM_LENGTHS = {0xF1: 2, 0xF2: 3, 0xF3: 2, 0xF6: 1, 0xF8: 1, 0xFA: 1, 0xFB: 1, 0xFC: 1,
                   0xFE: 1, 0xFF: 1}


def parse_message(data: bytes) -> MidiMessage:
    """One JACK MIDI event (a whole message with its status byte: no running status)."""
    if not data:
        raise Malformed("an empty event")
    status = data[0]
    if status < 0x80:
        raise Malformed(f"no status byte (starts with 0x{status:02x})")
    if status == 0xF0:
        if data[-1] != 0xF7 or any(b >= 0x80 for b in data[1:-1]):
            raise Malformed("a system exclusive message without its end")
        return MidiMessage("other")
    wanted = _LENGTHS.get(status & 0xF0) if status < 0xF0 else _SYSTEM_LENGTHS.get(status)
    if wanted is None:
        raise Malformed(f"undefined status 0x{status:02x}")
    if len(data) != wanted:
        raise Malformed(f"status 0x{status:02x} takes {wanted} bytes, got {len(data)}")
    if any(b >= 0x80 for b in data[1:]):
        raise Malformed(f"a data byte above 127 in {data.hex(' ')}")
    if status >= 0xF0:
        return MidiMessage("other")
    channel, kind = (status & 0x0F) + 1, status & 0xF0
    if kind == 0xB0:
        return MidiMessage("cc", channel, data[1], data[2])
    if kind == 0x90 and data[2] > 0:
        return MidiMessage("note_on", channel, data[1], data[2])
    if kind in (0x80, 0x90):
        return MidiMessage("note_off", channel, data[1], data[2])
    return MidiMessage("other", channel)


def scaled(value: int, low: float, high: float) -> float:
    """0..127 → low..high, both ends exact."""
    return low + (high - low) * value / 127.0


# ------------------------------------------------------------------------- mapping

@dataclass
class MidiMapper:
    """Raw messages → commands, by a map (see the theory of operation above)."""

    midi_map: MidiMap
    muted: Callable[[str], bool] | None = None
    """Whether the music has a layer muted now (for toggles); None: the mapper's own."""
    soloed: Callable[[str], bool] | None = None
    _held: set[Key] = field(default_factory=set)
    _flags: dict[tuple[str, str], bool] = field(default_factory=dict)

    def translate(self, batch: Sequence[bytes], count: Count) -> list[Command]:
        out: list[tuple[Key | None, Command]] = []  # a fader's key, to keep its latest
        for data in batch:
            try:
                message = parse_message(data)
            except Malformed as error:
                count("midi_malformed", f"MIDI {error}", logging.WARNING)
                continue
            command = self._command(message, count)
            if command is not None:
                key = (message.channel, message.number)
                fader = message.kind == "cc" and self.midi_map.cc[key].fader
                out.append((key if fader else None, command))
        latest = {key: index for index, (key, _) in enumerate(out) if key is not None}
        if len(latest) < sum(1 for key, _ in out if key is not None):
            dropped = sum(1 for key, _ in out if key is not None) - len(latest)
            count("midi_coalesced", f"{dropped} fader values replaced by a later one in the "
                  "same read", logging.DEBUG)
        return [command for index, (key, command) in enumerate(out)
                if key is None or latest[key] == index]

    def _command(self, message: MidiMessage, count: Count) -> Command | None:
        key = (message.channel, message.number)
        if message.kind == "cc":
            cc = self.midi_map.cc.get(key)
            if cc is None:
                count("midi_unmapped", f"MIDI CC {message.number} on channel "
                      f"{message.channel} (value {message.value}) is not in "
                      f"{self.midi_map.path.name}", logging.WARNING)
                return None
            if cc.param is not None:
                spec = self.midi_map.score.parameters[cc.param]
                low, high = cc.range if cc.range is not None else (spec.min, spec.max)
                return SetParam(name=cc.param, value=scaled(message.value, low, high))
            if cc.layer is not None:
                low, high = cc.db if cc.db is not None else DB_RANGE
                return LayerGain(layer=cc.layer, db=scaled(message.value, low, high))
            if message.value < PRESSED:
                self._held.discard(key)
                return None
            if key in self._held:
                return None  # still held: a press fires once
            self._held.add(key)
            return self._press(cc)
        if message.kind == "note_on":
            note = self.midi_map.note.get(key)
            if note is None:
                count("midi_unmapped", f"MIDI note {message.number} on channel "
                      f"{message.channel} is not in {self.midi_map.path.name}", logging.WARNING)
                return None
            return self._press(note)
        if message.kind == "other":
            count("midi_ignored", "a MIDI message the map has no use for (program change, "
                  "pitch bend, clock, ...)", logging.DEBUG)
        return None  # note-offs are a button's release

    def _press(self, binding: _Binding) -> Command | None:
        command = binding.command
        if not binding.toggles or not isinstance(command, LayerMute | LayerSolo):
            return command
        kind = command.cmd
        flag = (kind, command.layer)
        lookup = self.muted if kind == "mute" else self.soloed
        if flag in self._flags:  # pressed before in this read (or the mapper's own state)
            on = not self._flags[flag]
        else:
            on = not (lookup is not None and lookup(command.layer))
        self._flags[flag] = on
        return type(command)(layer=command.layer, on=on)

    def settle(self) -> None:
        """After a read is submitted: toggles read the music's state again."""
        if self.muted is not None or self.soloed is not None:
            self._flags.clear()
