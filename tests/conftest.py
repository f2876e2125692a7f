from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from adaptive.commands import parse_command
from adaptive.render import RenderResult, render
from adaptive.score.load import LoadedScore, load_score

os.environ.setdefault("PYO_GUI_WX", "0")

SR = 48000

Cue = tuple[float, dict[str, object]]
Renderer = Callable[[str, list[Cue], float], tuple[LoadedScore, RenderResult]]


@pytest.fixture
def render_score(tmp_path: Path) -> Renderer:
    """Write a score's TOML text into tmp_path, render it with cues (seconds, command)."""

    def run(toml_text: str, cues: list[Cue], seconds: float) -> tuple[LoadedScore, RenderResult]:
        path = tmp_path / "score.toml"
        path.write_text(toml_text)
        loaded = load_score(path)
        commands = [(round(at * SR), parse_command(body)) for at, body in cues]
        return loaded, render(loaded, commands, round(seconds * SR))

    return run
