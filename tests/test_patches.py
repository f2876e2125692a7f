"""The bundled patches, rendered through the engine: clean, on the grid, and responsive."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from adaptive.engine.patch_api import load_patch
from adaptive.errors import ScoreError
from adaptive.score.load import load_score
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


PATCH_SOURCE = '''"""A test patch."""
from adaptive.engine.patch_api import ControlSpec

CONTROLS = {"level": ControlSpec(VALUE, "how loud")}


def build(ctx):
    return ctx.pyo.Sig([0.0, 0.0])
'''


def _bump(path: Path, step_ns: int) -> None:
    """A new mtime a few ns later: an edit within the same second still counts."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + step_ns))


def _modules_of(path: Path) -> list[str]:
    return [name for name, module in list(sys.modules.items())
            if getattr(module, "__file__", None) == str(path.resolve())]


def test_an_edited_patch_is_imported_afresh(tmp_path: Path) -> None:
    path = tmp_path / "p.py"
    path.write_text(PATCH_SOURCE.replace("VALUE", "0.25"))
    first = load_patch(path)
    assert first.CONTROLS["level"].default == 0.25
    assert load_patch(path) is first  # unchanged file: the same module
    path.write_text(PATCH_SOURCE.replace("VALUE", "0.75"))  # same size, same second
    _bump(path, 1000)
    second = load_patch(path)
    assert second.CONTROLS["level"].default == 0.75
    assert first.CONTROLS["level"].default == 0.25  # whoever holds the old one keeps it
    assert len(_modules_of(path)) == 1  # the old version is no longer registered


def test_a_patch_that_fails_to_import_leaves_nothing_cached(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text(PATCH_SOURCE.replace("VALUE", "0.5") + "\nraise RuntimeError('typo')\n")
    with pytest.raises(RuntimeError, match="typo"):
        load_patch(path)
    assert _modules_of(path) == []
    path.write_text(PATCH_SOURCE.replace("VALUE", "0.5") + "\n# fixed\n")
    _bump(path, 1000)
    assert load_patch(path).CONTROLS["level"].default == 0.5
    # a patch missing build() is refused, and not cached either
    path.write_text('CONTROLS = {}\n')
    _bump(path, 2000)
    with pytest.raises(ImportError, match="defines no build"):
        load_patch(path)
    assert _modules_of(path) == []


def test_validate_sees_a_fixed_patch(tmp_path: Path) -> None:
    """The score check (as a --watch reload runs it) reads the patch as it is now."""
    (tmp_path / "patches").mkdir()
    patch = tmp_path / "patches" / "mine.py"
    patch.write_text("1 / 0\n" + PATCH_SOURCE.replace("VALUE", "0.5"))  # fails before CONTROLS
    score = tmp_path / "score.toml"
    score.write_text('[sections.a]\ntempo = 120\nbars = 1\n'
                     '[sections.a.layers.p]\npatch = "mine"\ncontrols.level = 0.3\n')
    with pytest.raises(ScoreError, match="division by zero"):
        load_score(score)
    patch.write_text(PATCH_SOURCE.replace("VALUE", "0.5"))
    _bump(patch, 1000)
    assert load_score(score).patches["mine"] == patch.resolve()
