"""Reading a score file: TOML → validated `Score` → checked against the files it names.

Every failure becomes a `ScoreError` listing each problem with the file, the field path,
the bad value and a fix; a composer never sees a traceback.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from adaptive.errors import ScoreError, ScoreProblem
from adaptive.harmony import Harmony
from adaptive.musical_time import Grid
from adaptive.score.model import FieldProblems, Score

_FIXES = {
    "extra_forbidden": "remove it or check its spelling against `adaptive schema`",
    "missing": "add this field",
    "float_parsing": "write a number",
    "int_parsing": "write a whole number",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "enum": "use one of the allowed values",
    "literal_error": "use one of the allowed values",
    "too_short": "add at least one entry",
}


@dataclass(frozen=True)
class StemInfo:
    path: Path
    frames: int
    channels: int
    sample_rate: int


@dataclass
class LoadedScore:
    """A score with every file it names checked: stems measured, patches located."""

    path: Path
    score: Score
    stems: dict[str, StemInfo] = field(default_factory=dict)  # keyed by the score's text
    patches: dict[str, Path] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def sample_rate(self) -> int:
        return self.score.score.sample_rate


def _path_of(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_at(location: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The score model that holds the field at `location` (walking dicts and lists)."""
    current: object = Score
    parts = list(location)
    while parts:
        part = parts.pop(0)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            fields.update(current.model_fields)
            if not isinstance(part, str) or part not in fields:
                return None
            current = fields[part].annotation
            continue
        origin, args = get_origin(current), get_args(current)
        if origin is dict:
            current = args[1]
        elif origin is list:
            current = args[0]
        elif origin in (Union, UnionType):
            models = [arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)]
            if len(models) != 1:
                return None
            current = models[0]
            parts.insert(0, part)
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unknown_field_fix(location: tuple[int | str, ...]) -> str:
    """'did you mean' from the fields of the model the unknown field was written in."""
    model = _model_at(location[:-1])
    name = location[-1] if location else ""
    if model is None or not isinstance(name, str):
        return _FIXES["extra_forbidden"]
    known = sorted(info.alias or field for field, info in model.model_fields.items())
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    listed = ", ".join(known)
    if close:
        guesses = " or ".join(repr(guess) for guess in close)
        return f"did you mean {guesses}? (fields here: {listed})"
    return f"remove it, or use one of the fields here: {listed}"


def problems_from_validation(error: ValidationError) -> list[ScoreProblem]:
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        found = item.get("ctx", {}).get("error")
        if isinstance(found, FieldProblems):  # a model's check of its own sub-fields
            base = _path_of(item["loc"])
            for path, what, value, fix in found.problems:
                problems.append(ScoreProblem(f"{base}.{path}" if base else path, what, value,
                                             fix))
            continue
        if item["type"] == "extra_forbidden":
            given = item.get("input")
            problems.append(ScoreProblem(_path_of(item["loc"]), "unknown field",
                                         given if len(repr(given)) <= 80 else None,
                                         _unknown_field_fix(item["loc"])))
            continue
        if not item["loc"] and item["type"] == "value_error":
            # cross-reference problems arrive together as "path: message; path: message"
            for part in message.split("; "):
                where, _, what = part.partition(": ")
                problems.append(ScoreProblem(where, what, fix="use a name declared in the "
                                             "score, or declare this one"))
            continue
        value = item.get("input")
        if isinstance(value, dict | list) and len(repr(value)) > 80:
            value = None
        problems.append(ScoreProblem(_path_of(item["loc"]), message, value,
                                     _FIXES.get(item["type"], "")))
    return problems


def parse_score(text: str, path: Path) -> Score:
    """Validate TOML text; raise ScoreError naming `path` on any problem."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScoreError(str(path), [ScoreProblem("", f"not valid TOML: {error}",
                                                  fix="check quotes, brackets and commas")]
                         ) from None
    try:
        return Score.model_validate(data)
    except ValidationError as error:
        raise ScoreError(str(path), problems_from_validation(error)) from None


def load_score(path: str | Path) -> LoadedScore:
    """Read, validate and check a score file and everything it names."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ScoreError(str(path), [ScoreProblem("", f"cannot read the file: {error}",
                                                  fix="check the path")]) from None
    score = parse_score(text, path)
    loaded = LoadedScore(path, score)
    problems = check_files(loaded)
    if problems:
        raise ScoreError(str(path), problems)
    return loaded


def check_files(loaded: LoadedScore) -> list[ScoreProblem]:
    """Stems exist, are readable audio at the score's rate; patches exist; harmony parses."""
    from adaptive.engine.patch_api import (  # no pyo needed to import
        builtin_patch_names,
        find_patch,
        load_patch,
    )

    score = loaded.score
    problems: list[ScoreProblem] = []
    rate = score.score.sample_rate

    def check_stem(field_path: str, relative: str, min_frames: float | None) -> None:
        stem_path = (loaded.directory / relative).resolve()
        if not stem_path.is_file():
            problems.append(ScoreProblem(field_path, f"stem file not found: {stem_path}",
                                         relative, "export the stem there or fix the path "
                                         "(relative to the score file)"))
            return
        info = _stem_info(stem_path)
        if isinstance(info, str):
            problems.append(ScoreProblem(field_path, f"cannot read {stem_path}: {info}", relative,
                                         "export it as WAV, FLAC or AIFF"))
            return
        if info.sample_rate != rate:
            problems.append(ScoreProblem(
                field_path, f"{stem_path.name} is at {info.sample_rate} Hz but the score plays "
                f"at {rate} Hz", relative,
                f"export stems at {rate} Hz or set score.sample_rate = {info.sample_rate}"))
        if info.channels > 2:
            problems.append(ScoreProblem(field_path, f"{stem_path.name} has {info.channels} "
                                         "channels", relative, "export mono or stereo stems"))
        # at another rate the length in frames means nothing: the rate problem is the one
        if info.sample_rate == rate and min_frames is not None and info.frames + 1 < min_frames:
            seconds = min_frames / rate
            problems.append(ScoreProblem(
                field_path, f"{stem_path.name} lasts {info.frames / rate:.3f} s, shorter than "
                f"its section ({seconds:.3f} s)", relative,
                "export the stem for the full length of the section"))
        loaded.stems[relative] = info

    def check_patch(field_path: str, name: str, controls: list[str]) -> None:
        patch_path = find_patch(name, loaded.directory)
        if patch_path is None:
            builtins = builtin_patch_names()
            close = difflib.get_close_matches(name, builtins, n=3, cutoff=0.6)
            guess = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            problems.append(ScoreProblem(field_path, f"no patch named {name!r}", name,
                                         f"{guess}add patches/{name}.py beside the score or "
                                         f"use a built-in patch: {', '.join(builtins)}"))
            return
        try:
            module = load_patch(patch_path)
        except Exception as error:  # a patch file is code: report any import failure
            problems.append(ScoreProblem(field_path, f"patch {patch_path} fails to load: "
                                         f"{error}", name, "fix the patch file"))
            return
        for control in controls:
            if control not in module.CONTROLS:
                known = ", ".join(sorted(module.CONTROLS)) or "none"
                problems.append(ScoreProblem(f"{field_path}.controls.{control}",
                                             f"patch {name!r} has no control {control!r}",
                                             control, f"use one of: {known}"))
        loaded.patches[name] = patch_path

    for name, section in score.sections.items():
        base = f"sections.{name}"
        try:
            Harmony.of(section.key, section.chords)
        except ValueError as error:
            problems.append(ScoreProblem(f"{base}.key/chords", str(error),
                                         fix="write keys as 'D minor' and chords as 'Dm', "
                                         "'Bb', 'F#m7'"))
        grid = Grid(rate, section.tempo, section.parsed_meter)
        length = grid.samples_per_bar * section.bars
        for layer_name, layer in section.layers.items():
            path = f"{base}.layers.{layer_name}"
            if layer.stem is not None:
                check_stem(f"{path}.stem", layer.stem, math.floor(length))
            elif layer.patch is not None:
                check_patch(f"{path}.patch", layer.patch, list(layer.controls))
    for name, stinger in score.stingers.items():
        path = f"stingers.{name}"
        if stinger.stem is not None:
            check_stem(f"{path}.stem", stinger.stem, None)
        elif stinger.patch is not None:
            check_patch(f"{path}.patch", stinger.patch, [])
    return problems


def _stem_info(path: Path) -> StemInfo | str:
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as error:  # libsndfile reports every format problem this way
        return str(error)
    return StemInfo(path, int(info.frames), int(info.channels), int(info.samplerate))
