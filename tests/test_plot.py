"""The render picture: drawn from a trace and audio, a real PNG with content."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adaptive.actions import SetParams, StartRest, StartStinger, StartVoice, StopVoice
from adaptive.plot import plot_render
from adaptive.score.model import Score
from adaptive.trace import build_trace


def test_plot_draws_every_row(tmp_path: Path) -> None:
    import matplotlib.image

    score = Score.model_validate({
        "parameters": {"tension": {"smoothing": 1.0}},
        "sections": {"a": {"tempo": 120, "bars": 2, "layers": {
            "x": {"patch": "pad", "gain": {"tension": [[0, -30], [1, 0]]}}}},
            "b": {"tempo": 90, "bars": 2, "layers": {"y": {"patch": "pad"}}}},
        "stingers": {"hit": {"patch": "hit", "length": 1.0}}})
    sr = 48000
    actions = [SetParams(0, {"tension": 0.0}), StartVoice(0, "a", 0, 0.0, 0, "linear"),
               SetParams(sr, {"tension": 1.0}), StopVoice(3 * sr, "a", 0, sr // 2, "linear"),
               StartVoice(3 * sr, "b", 0, 3.0 * sr, 0, "linear"), StartStinger(4 * sr, "hit", 0),
               StartRest(5 * sr, sr // 4)]
    trace = build_trace(score, actions, sr, 6.0)
    assert trace.params["tension"][-1] == 1.0
    assert [span.name for span in trace.sections] == ["a", "b"]
    t = np.arange(6 * sr) / sr
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
    path = tmp_path / "render.png"
    plot_render(trace, audio, sr, path, "test score")
    image = matplotlib.image.imread(str(path))
    assert image.shape[:2] == (990, 1540)
    colours = {tuple(np.round(pixel[:3], 1)) for pixel in image[::7, ::7].reshape(-1, 4)}
    assert len(colours) > 20  # sections, lines, waveform: not a blank canvas
