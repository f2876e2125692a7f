"""Transitions, bridges, stingers and loops land on the grid, to the sample.

Destinations are marker stems (single-sample impulses), so an onset is read exactly; the
ideal instant is computed here from tempo and meter, independently of the engine.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from adaptive.actions import StartVoice
from adaptive.render import render
from adaptive.score.load import load_score
from tests.audio import impulses, samples_per_bar, write_marker, write_sine
from tests.conftest import SR, Renderer


def next_multiple(after: float, origin: float, step: float) -> float:
    return origin + math.ceil((after - origin) / step) * step


def test_transition_on_bar_at_97_bpm(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "bed.wav", 441.0, 12.0, amplitude=0.05)
    write_marker(tmp_path / "mark.wav", 12.0)
    score = """
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = 97
bars = 2
[sections.b.layers.mark]
stem = "mark.wav"
[[transitions]]
when = "bar"
fade_out = 0.2
"""
    command_at = 3.0
    _, result = render_score(score, [(command_at, {"cmd": "section", "name": "b"})], 8.0)
    assert result.audio is not None
    ideal = next_multiple(command_at * SR, 0.0, samples_per_bar(97))
    assert ideal % 1 != 0  # the test is only meaningful on a fractional grid
    onsets = impulses(result.audio)
    assert len(onsets) >= 1
    assert abs(onsets[0] - ideal) <= 1, (onsets[0], ideal)


@pytest.mark.parametrize("when, unit_beats", [("beat", 1), ("bar", 3), ("phrase", 6)])
def test_quantization_units_in_three_four(tmp_path: Path, render_score: Renderer, when: str,
                                          unit_beats: int) -> None:
    write_marker(tmp_path / "mark.wav", 10.0)
    write_sine(tmp_path / "bed.wav", 441.0, 12.0, amplitude=0.05)
    score = f"""
[sections.a]
tempo = 133.3
meter = "3/4"
bars = 8
phrase_bars = 2
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = 133.3
meter = "3/4"
bars = 4
[sections.b.layers.mark]
stem = "mark.wav"
[[transitions]]
when = "{when}"
"""
    command_at = 2.01
    _, result = render_score(score, [(command_at, {"cmd": "section", "name": "b"})], 6.0)
    assert result.audio is not None
    step = samples_per_bar(133.3, 1) * unit_beats
    ideal = next_multiple(command_at * SR, 0.0, step)
    assert abs(impulses(result.audio)[0] - ideal) <= 1


def test_tempo_change_between_sections_and_bridge(tmp_path: Path,
                                                  render_score: Renderer) -> None:
    """a (97 BPM 4/4) → b (121.5 BPM 6/8) on b's grid → c through a 7/8 bridge at 89 BPM."""
    write_sine(tmp_path / "bed.wav", 441.0, 20.0, amplitude=0.05)
    write_marker(tmp_path / "mark.wav", 20.0)
    score = """
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = 121.5
meter = "6/8"
bars = 8
[sections.b.layers.bed]
stem = "bed.wav"
[sections.bridge]
tempo = 89
meter = "7/8"
bars = 1
loop = false
[sections.bridge.layers.bed]
stem = "bed.wav"
[sections.c]
tempo = 61
bars = 2
[sections.c.layers.mark]
stem = "mark.wav"
[[transitions]]
from = "a"
to = "b"
when = "bar"
[[transitions]]
from = "b"
to = "c"
when = "beat"
bridge = "bridge"
"""
    cues = [(1.0, {"cmd": "section", "name": "b"}), (4.4, {"cmd": "section", "name": "c"})]
    _, result = render_score(score, cues, 9.0)
    assert result.audio is not None
    b_origin = next_multiple(1.0 * SR, 0.0, samples_per_bar(97))
    sync = next_multiple(4.4 * SR, b_origin, samples_per_bar(121.5, 1, 8))
    c_start = sync + samples_per_bar(89, 7, 8)
    onsets = impulses(result.audio)
    assert abs(onsets[0] - c_start) <= 1, (onsets[0], c_start)
    starts = {a.section: a.at for a in result.actions if isinstance(a, StartVoice)}
    assert abs(starts["bridge"] - sync) <= 1


def test_same_position_keeps_the_bar_position(tmp_path: Path, render_score: Renderer) -> None:
    """An alternate arrangement takes over at the same bar: its bar markers continue."""
    bar = samples_per_bar(100)
    positions = tuple(math.ceil(k * bar) for k in range(4))
    write_sine(tmp_path / "bed.wav", 441.0, 12.0, amplitude=0.05)
    write_marker(tmp_path / "bars.wav", 12.0, positions=positions)
    score = """
[sections.a]
tempo = 100
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[sections.b]
tempo = 100
bars = 4
[sections.b.layers.bars]
stem = "bars.wav"
[[transitions]]
when = "beat"
start = "same_position"
fade_in = 0.0
"""
    command_at = 5.3  # during bar 3 (bars last 2.4 s)
    _, result = render_score(score, [(command_at, {"cmd": "section", "name": "b"})], 9.0)
    assert result.audio is not None
    onsets = impulses(result.audio)
    # the first marker heard is bar 4's (bar index 3), at its place on a's grid
    assert abs(onsets[0] - 3 * bar) <= 1, (onsets[0], 3 * bar)


def test_stingers_land_on_beat_and_bar(tmp_path: Path, render_score: Renderer) -> None:
    write_sine(tmp_path / "bed.wav", 441.0, 12.0, amplitude=0.05)
    write_marker(tmp_path / "hit.wav", 0.5)
    score = """
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.bed]
stem = "bed.wav"
[stingers.beat_hit]
stem = "hit.wav"
when = "beat"
duck = -6.0
[stingers.bar_hit]
stem = "hit.wav"
when = "bar"
"""
    cues = [(1.3, {"cmd": "stinger", "name": "beat_hit"}),
            (3.1, {"cmd": "stinger", "name": "bar_hit"})]
    _, result = render_score(score, cues, 6.0)
    assert result.audio is not None
    onsets = impulses(result.audio, threshold=0.2)
    expected = [next_multiple(1.3 * SR, 0, samples_per_bar(97, 1)),
                next_multiple(3.1 * SR, 0, samples_per_bar(97))]
    assert len(onsets) == 2
    for onset, ideal in zip(onsets, expected, strict=True):
        assert abs(onset - ideal) <= 1, (onset, ideal)


@pytest.mark.slow
def test_loops_stay_on_the_bar_grid_for_an_hour(tmp_path: Path) -> None:
    """Every loop of an hour of playback starts within one sample of its ideal instant."""
    tempo, bars = 97.0, 4
    loop = samples_per_bar(tempo) * bars
    write_marker(tmp_path / "mark.wav", loop / SR + 0.1)
    write_sine(tmp_path / "tone.wav", 441.0, loop / SR + 0.1, amplitude=0.05, cycles_per=loop)
    (tmp_path / "score.toml").write_text(f"""
[sections.a]
tempo = {tempo}
bars = {bars}
[sections.a.layers.mark]
stem = "mark.wav"
[sections.a.layers.tone]
stem = "tone.wav"
""")
    loaded = load_score(tmp_path / "score.toml")
    seconds = 3600.0
    found: list[int] = []
    offset = 0

    def collect(chunk: np.ndarray) -> None:  # type: ignore[type-arg]
        nonlocal offset
        found.extend(int(i) + offset for i in impulses(chunk))
        offset += len(chunk)

    render(loaded, [], round(seconds * SR), sink=collect, keep_audio=False)
    expected = [k * loop for k in range(math.ceil(seconds * SR / loop))]
    assert len(found) == len(expected)
    errors = np.abs(np.array(found) - np.array(expected))
    assert errors.max() <= 1, errors.max()
