"""The render picture: drawn from a trace and audio, a real PNG with content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from adaptive.actions import (
    Action,
    EndRest,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.plot import plot_render
from adaptive.ramps import Ramp
from adaptive.score.model import Score
from adaptive.trace import Span, Trace, build_trace

SR = 48000
SIZE = (990, 1540)  # 14 × 9 in at 110 dpi


def _read(path: Path) -> npt.NDArray[np.float32]:
    import matplotlib.image

    image: npt.NDArray[np.float32] = matplotlib.image.imread(str(path))
    return image


def _has_colour(image: npt.NDArray[np.float32], hex_colour: str, tolerance: float = 0.02) -> bool:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool(np.any(np.all(np.abs(image[..., :3] - rgb) < tolerance, axis=-1)))


def test_plot_draws_every_row(tmp_path: Path) -> None:
    score = Score.model_validate({
        "parameters": {"tension": {"smoothing": 1.0}},
        "sections": {"a": {"tempo": 120, "bars": 2, "layers": {
            "x": {"patch": "pad", "gain": {"tension": [[0, -30], [1, 0]]}}}},
            "b": {"tempo": 90, "bars": 2, "layers": {"y": {"patch": "pad"}}}},
        "stingers": {"hit": {"patch": "hit", "length": 1.0}}})
    actions: list[Action] = [
        RampParams(0, {"tension": Ramp.constant(0.0)}), StartVoice(0, "a", 0, 0.0, 0, "linear"),
        RampParams(SR, {"tension": Ramp(SR, SR, 0.0, 1.0)}),
        StopVoice(3 * SR, "a", 0, SR // 2, "linear"),
        StartVoice(3 * SR, "b", 0, 3.0 * SR, 0, "linear", bridge=True),
        StartStinger(4 * SR, "hit", 0), StartRest(5 * SR, SR // 4),
        EndRest(5 * SR + SR // 2, SR // 8)]
    trace = build_trace(score, actions, SR, 6.0)
    assert trace.params["tension"][-1] == 1.0
    assert [span.name for span in trace.sections] == ["a", "b"]
    t = np.arange(6 * SR) / SR
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
    path = tmp_path / "render.png"
    plot_render(trace, audio, SR, path, "test score")
    image = _read(path)
    assert image.shape[:2] == SIZE
    assert float(image[..., :3].std()) > 0.05
    colours = {tuple(np.round(pixel[:3], 1)) for pixel in image[::7, ::7].reshape(-1, 4)}
    assert len(colours) > 20  # sections, lines, waveform: not a blank canvas
    # the first two sections keep their colours (timeline strip) from row to row
    assert _has_colour(image, "#4e79a7") and _has_colour(image, "#f28e2b")


def test_plot_copes_with_many_layers_overlaps_and_no_audio(tmp_path: Path) -> None:
    times = np.arange(0.0, 120.0, 0.05)
    names = ["explore", "combat", "boss", "stealth", "victory"]
    sections = [Span(name, 24.0 * i, 24.0 * (i + 1), bridge=name == "stealth")
                for i, name in enumerate(names)]
    sections.append(Span("combat", 10.0, 20.0))  # overlaps explore: a second lane
    gains = {}
    for i, span in enumerate(sections[:5]):
        for j in range(5):
            level = 10 ** (-(3 * j + i) / 20)
            ramp = np.clip((times - span.start) / 2.0, 0.0, 1.0)
            gains[f"{span.name}.layer{j}"] = np.where(times < span.end, level * ramp, 0.0)
    trace = Trace(times, {"tension": 0.5 + 0.4 * np.sin(times / 9), "danger": times / 120},
                  gains, sections, [Span("rest", 80.0, 86.0)],
                  [(30.0, "hit"), (30.3, "whoosh"), (100.0, "sting")])
    path = tmp_path / "many.png"
    plot_render(trace, None, SR, path)
    image = _read(path)
    assert image.shape[:2] == SIZE
    assert len({tuple(np.round(p[:3], 1)) for p in image[::7, ::7].reshape(-1, 4)}) > 20


def test_plot_of_an_empty_trace_still_saves(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    plot_render(Trace(np.zeros(0), {}, {}, [], [], []), np.zeros((0, 2), np.float32), SR,
                path, "nothing")
    assert _read(path).shape[:2] == SIZE
