"""The bundled patches, rendered through the engine: clean, on the grid, and responsive."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import SR, Renderer

LAYER_PATCHES = ["pad", "pulse", "bass", "percussion", "motif"]


def patch_score(patch: str, controls: dict[str, float] | None = None, tempo: float = 97.0,
                loop: bool = True) -> str:
    lines = ["[sections.a]", f"tempo = {tempo}", "bars = 4", f"loop = {str(loop).lower()}",
             'key = "D minor"', 'chords = ["Dm", "Bb", "F", "C"]',
             "[sections.a.layers.p]", f'patch = "{patch}"']
    lines += [f"controls.{name} = {value}" for name, value in (controls or {}).items()]
    return "\n".join(lines) + "\n"


def rms_db(audio: np.ndarray) -> float:  # type: ignore[type-arg]
    return 20 * math.log10(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) + 1e-12)


def onsets(audio: np.ndarray) -> float:  # type: ignore[type-arg]
    """Note onsets: 5 ms windows whose level jumps 9 dB over the window before last."""
    window = SR // 200
    x = audio[:, 0].astype(np.float64)
    level = 20 * np.log10(np.sqrt(np.mean(x[: len(x) // window * window]
                                          .reshape(-1, window) ** 2, axis=1)) + 1e-9)
    rising = (level[2:] - level[:-2]) > 9.0
    return float(np.count_nonzero(rising[1:] & ~rising[:-1]))


def centroid(audio: np.ndarray) -> float:  # type: ignore[type-arg]
    spectrum = np.abs(np.fft.rfft(audio[:, 0].astype(np.float64)))
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


@pytest.mark.parametrize("patch", LAYER_PATCHES)
def test_patch_is_clean_and_audible(patch: str, render_score: Renderer) -> None:
    _, result = render_score(patch_score(patch), [], 8.0)
    audio = result.audio
    assert audio is not None
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) < 0.9  # headroom for a mix of layers
    assert rms_db(audio[SR:]) > -40.0
    assert abs(float(np.mean(audio[SR:]))) < 1e-3


@pytest.mark.parametrize("patch, control, measure", [
    ("pad", "brightness", centroid), ("pulse", "brightness", centroid),
    ("motif", "brightness", centroid), ("pulse", "density", rms_db),
    ("percussion", "density", onsets), ("bass", "density", onsets),
    ("motif", "variation", rms_db)])
def test_controls_change_the_sound(patch: str, control: str, measure: object,
                                   render_score: Renderer) -> None:
    low_score = patch_score(patch, {control: 0.0})
    high_score = patch_score(patch, {control: 1.0})
    _, low = render_score(low_score, [], 6.0)
    _, high = render_score(high_score, [], 6.0)
    assert low.audio is not None and high.audio is not None
    low_value = measure(low.audio[SR:])  # type: ignore[operator]
    high_value = measure(high.audio[SR:])  # type: ignore[operator]
    if measure is rms_db:
        assert high_value > low_value + 1.5, (low_value, high_value)
    else:
        assert high_value > low_value * 1.15, (low_value, high_value)


def test_percussion_hits_land_on_the_bar_grid(render_score: Renderer) -> None:
    """At density 0 only the kick on each downbeat plays: its envelope starts from 0 on
    the trigger sample, so the first audible sample follows the trigger by one."""
    tempo = 97.0
    _, result = render_score(patch_score("percussion", {"density": 0.0}, tempo), [], 10.0)
    audio = result.audio
    assert audio is not None
    bar = SR * 60.0 / tempo * 4
    for k in range(1, 4):
        ideal = k * bar
        start = math.floor(ideal - 0.3 * SR)
        window = np.abs(audio[start:start + SR // 2, 0])
        first = start + int(np.argmax(window > 1e-9))
        assert abs((first - 1) - ideal) <= 1, (k, first, ideal)


def test_hit_stinger_and_riser_bridge_sound(render_score: Renderer) -> None:
    score = patch_score("pad") + """
[sections.rise]
tempo = 97
bars = 1
loop = false
[sections.rise.layers.r]
patch = "riser"
[stingers.hit]
patch = "hit"
length = 2.5
when = "beat"
"""
    cues = [(1.0, {"cmd": "stinger", "name": "hit"}),
            (3.0, {"cmd": "section", "name": "rise"})]
    _, result = render_score(score, cues, 7.0)
    audio = result.audio
    assert audio is not None and np.all(np.isfinite(audio))
    beat = SR * 60.0 / 97.0
    hit_at = math.ceil(1.0 * SR / beat) * beat
    before = rms_db(audio[int(hit_at) - SR // 4:int(hit_at)])
    after = rms_db(audio[int(hit_at):int(hit_at) + SR // 4])
    assert after > before + 6.0
    rise_start = math.ceil(3.0 * SR / (4 * beat)) * 4 * beat
    early = rms_db(audio[int(rise_start) + SR // 2 + SR // 10:int(rise_start) + SR])
    late = rms_db(audio[int(rise_start + 4 * beat) - SR // 2:int(rise_start + 4 * beat)])
    assert late > early + 6.0  # a riser rises
