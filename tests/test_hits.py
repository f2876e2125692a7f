"""Hit points land on their sample, by each method, read on rendered audio.

Every event is a single-sample impulse (marker stems, a click patch on each beat), so the
sample an event sounds on is read exactly from the audio; the hit's ideal sample is film
seconds x sample rate, computed here from the sheet.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from adaptive.hits import compile_sheet, film_click, table
from adaptive.render import render
from adaptive.score.load import LoadedScore, load_score
from adaptive.timeline import parse_timeline
from tests.audio import impulses, samples_per_bar, write_marker, write_sine

SR = 48000

CLICK_PATCH = '''"""click: one impulse on every beat, to read the grid of a section on its audio."""

from adaptive.engine.patch_api import PatchContext

CONTROLS = {}


def build(ctx: PatchContext):
    return ctx.pyo.Sig(ctx.clock.beat_trigger(), mul=0.5)
'''


def _score(tmp_path: Path, tempo_calm: float = 100.0, tempo_impact: float = 97.0,
           bend: float = 0.06) -> LoadedScore:
    (tmp_path / "patches").mkdir(exist_ok=True)
    (tmp_path / "patches" / "click.py").write_text(CLICK_PATCH)
    bar = samples_per_bar(tempo_impact)
    # the impact stem: an impulse on the downbeats of bars 1, 2 and 3
    write_marker(tmp_path / "impact.wav", 12.0, positions=(0, round(bar), round(2 * bar)))
    write_marker(tmp_path / "sting.wav", 2.0, positions=(0,), amplitude=0.4)
    write_sine(tmp_path / "pad.wav", 441.0, 20.0, amplitude=0.05)
    (tmp_path / "score.toml").write_text(f"""
[sections.calm]
tempo = {tempo_calm}
bars = 8
max_tempo_bend = {bend}
[sections.calm.layers.click]
patch = "click"
[sections.pad]
tempo = {tempo_calm}
bars = 8
[sections.pad.layers.pad]
stem = "pad.wav"
[sections.impact]
tempo = {tempo_impact}
bars = 4
[sections.impact.layers.mark]
stem = "impact.wav"
[stingers.sting]
stem = "sting.wav"
when = "bar"
[[transitions]]
when = "bar"
fade_out = 0.01
""")
    return load_score(tmp_path / "score.toml")


def _sheet(text: str) -> object:
    return parse_timeline(tomllib.loads(text), "sheet.toml")


def _render(loaded: LoadedScore, sheet_text: str, seconds: float) -> tuple[object, np.ndarray]:
    timeline = _sheet(sheet_text)
    compiled = compile_sheet(loaded.score, timeline, SR)  # type: ignore[arg-type]
    result = render(loaded, compiled.history, round(seconds * SR))
    assert result.audio is not None and np.isfinite(result.audio).all()
    return compiled, result.audio


def test_a_stinger_hit_sounds_on_its_frame_off_the_grid(tmp_path: Path) -> None:
    loaded = _score(tmp_path)
    sheet = """
fps = "29.97df"
start = "01:00:00;00"
[[cue]]
at = 0.0
cmd = "section"
name = "pad"
[[hit]]
at = "01:00:03;17"
label = "door"
stinger = "sting"
"""
    compiled, audio = _render(loaded, sheet, 5.0)
    hit = compiled.hits[0]  # type: ignore[attr-defined]
    ideal = (3 * 30 + 17) * 1001 / 30000 * SR  # frame 107 of 29.97 fps, in samples
    assert hit.at == pytest.approx(ideal)
    assert hit.method == "stinger" and hit.met
    onsets = impulses(audio, 0.3)
    assert len(onsets) == 1
    # the stinger's own `when = bar` is overruled
    print(f"stinger hit: heard {onsets[0] - ideal:+.3f} samples from film time x rate")
    assert abs(onsets[0] - ideal) <= 1, (onsets[0], ideal)


def test_a_pickup_puts_bar_two_on_the_hit(tmp_path: Path) -> None:
    loaded = _score(tmp_path, bend=0.0)
    sheet = """
fps = "24"
[[cue]]
at = 0.0
cmd = "section"
name = "pad"
[[hit]]
at = "00:00:06:07"
label = "explosion"
section = "impact"
bar = 2
"""
    compiled, audio = _render(loaded, sheet, 9.0)
    hit = compiled.hits[0]  # type: ignore[attr-defined]
    ideal = (6 + 7 / 24) * SR
    assert hit.method == "pickup" and hit.met, hit
    onsets = impulses(audio)
    # the section entered at a bar of the pad before the hit; its bar 2 downbeat is the hit
    bar = samples_per_bar(97.0)
    on_hit = [o for o in onsets if abs(o - ideal) <= 1]
    assert on_hit, (onsets, ideal)
    print(f"pickup hit: heard {on_hit[0] - ideal:+.3f} samples from film time x rate")
    assert all(o >= ideal - bar - 1 for o in onsets)  # nothing of impact before its bar 1
    assert abs(on_hit[0] + bar - onsets[onsets > on_hit[0]][0]) <= 1  # bar 3 follows on grid


def test_a_tempo_bend_meets_the_hit_with_the_grid(tmp_path: Path) -> None:
    loaded = _score(tmp_path, tempo_calm=100.0)
    hit_seconds = 7.3  # 100 BPM downbeats every 2.4 s: 7.2 and 9.6, so the grid must bend
    sheet = f"""
[[cue]]
at = 0.0
cmd = "section"
name = "calm"
[[hit]]
at = {hit_seconds}
label = "slam"
section = "impact"
"""
    compiled, audio = _render(loaded, sheet, 10.0)
    hit = compiled.hits[0]  # type: ignore[attr-defined]
    ideal = hit_seconds * SR
    assert hit.method == "bend", hit.note
    assert hit.met and 0 < abs(hit.bend) <= 0.06
    onsets = impulses(audio)
    on_hit = [o for o in onsets if abs(o - ideal) <= 1]
    assert on_hit, (onsets[-8:], ideal)
    print(f"bend hit: heard {on_hit[0] - ideal:+.3f} samples from film time x rate "
          f"(bend {hit.bend:+.4f})")
    # the clicks before the hit ran at the bent tempo: beats closer together by the bend
    beat = SR * 60 / 100
    before = onsets[onsets < ideal - 10]
    spacing = np.diff(before[-4:])
    assert np.allclose(spacing, beat / (1 + hit.bend), atol=1.5), (spacing, beat, hit.bend)
    assert hit.tempo == pytest.approx(100 * (1 + hit.bend))


def test_auto_takes_a_pickup_when_the_bed_cannot_bend(tmp_path: Path) -> None:
    loaded = _score(tmp_path)
    sheet = """
[[cue]]
at = 0.0
cmd = "section"
name = "pad"
[[hit]]
at = 5.55
label = "cut"
section = "impact"
"""
    compiled, audio = _render(loaded, sheet, 8.0)
    hit = compiled.hits[0]  # type: ignore[attr-defined]
    assert hit.method == "pickup" and "does not bend" in hit.note
    assert any(abs(o - 5.55 * SR) <= 1 for o in impulses(audio))


def test_a_rest_hit_begins_the_silence_on_the_hit(tmp_path: Path) -> None:
    loaded = _score(tmp_path)
    sheet = """
[[cue]]
at = 0.0
cmd = "section"
name = "pad"
[[hit]]
at = 3.3
label = "silence"
rest = true
"""
    compiled, audio = _render(loaded, sheet, 8.0)
    hit = compiled.hits[0]  # type: ignore[attr-defined]
    assert hit.method == "rest" and hit.met
    at = round(3.3 * SR)
    before = np.abs(audio[at - 480:at, 0]).max()
    assert before > 0.03  # the pad sounds up to the hit
    assert np.abs(audio[at + round(2.0 * SR):, 0]).max() < 1e-4  # then the release, then silence


def test_a_hit_that_cannot_be_met_says_so_with_the_reason(tmp_path: Path) -> None:
    loaded = _score(tmp_path)
    sheet = """
[[cue]]
at = 0.0
cmd = "section"
name = "pad"
[[hit]]
at = 5.55
label = "forced"
section = "impact"
method = "bend"
"""
    timeline = _sheet(sheet)
    compiled = compile_sheet(loaded.score, timeline, SR)  # type: ignore[arg-type]
    assert [h.label for h in compiled.missed()] == ["forced"]
    assert "does not bend" in compiled.hits[0].note
    text = table(compiled, timeline, SR)  # type: ignore[arg-type]
    assert "forced" in text and "not met" in text


def test_film_click_notation() -> None:
    assert film_click(120.0, 24.0) == "12-0"  # 12 frames a beat at 24 fps
    assert film_click(117.55, 24.0) == "12-2"  # 12 2/8 frames
