"""Streamed stems (`engine.stream`): the same samples as RAM tables, in bounded memory.

The stems are seeded noise (any frame out of place shows), longer than a ring and a head
(1.37 s), at a tempo whose bars are fractional samples long, so loops wrap between
samples. The same score and timeline are rendered with every stem in RAM and with every
stem streamed: transitions (from the start, and at the same position), loops over many
wraps, a section played once, a mono stem, a stinger, a rest, and a seek; the stems are
WAV, FLAC, AIFF and Ogg Vorbis (a compressed stem streams like any other). The renders
must be identical, sample for sample. A stalled disk (the fill skipped for 3 s) mutes the
streamed layer with a short fade, counts underruns, and brings it back at its right
position: from then on the render is the RAM one again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from adaptive.cli import demo_paths
from adaptive.commands import Command, parse_command
from adaptive.engine.patch_api import FRAME_EPSILON
from adaptive.engine.stream import HEAD, RING, Streamer, stem_frames, stem_positions
from adaptive.render import BLOCK, OFFLINE_BLOCK, RenderResult, offline_block, render
from adaptive.score.load import LoadedScore, load_score
from tests.audio import write_marker

SR = 48000

SCORE = """
[score]
stream_longer_than = {threshold}
[sections.a]
tempo = 97
bars = 4
[sections.a.layers.wide]
stem = "a_wide.wav"
[sections.a.layers.narrow]
stem = "a_mono.ogg"
gain = -3.0
[sections.b]
tempo = 133.3
bars = 5
[sections.b.layers.bed]
stem = "b.flac"
[sections.once]
tempo = 120
bars = 3
loop = false
next = "a"
[sections.once.layers.bed]
stem = "once.aiff"
[stingers.hit]
stem = "hit.wav"
[[transitions]]
from = "a"
to = "b"
when = "bar"
fade_out = 0.4
[[transitions]]
from = "b"
to = "a"
when = "beat"
fade_out = 0.2
fade_in = 0.1
start = "same_position"
[rests]
when = "beat"
release = 0.3
"""

Audio = npt.NDArray[np.float32]


def _noise(path: Path, seconds: float, channels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((round(seconds * SR), channels)) * 0.05)
    subtype = "VORBIS" if path.suffix == ".ogg" else "PCM_24"
    soundfile.write(str(path), data, SR, subtype=subtype)


@pytest.fixture(scope="module")
def stems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stream")
    _noise(directory / "a_wide.wav", 10.5, 2, 1)  # 4 bars at 97: 9.897 s
    _noise(directory / "a_mono.ogg", 10.5, 1, 2)  # Ogg Vorbis: decoded, seeked into
    _noise(directory / "b.flac", 9.5, 2, 3)  # 5 bars at 133.3: 9.002 s
    _noise(directory / "once.aiff", 6.5, 2, 4)
    write_marker(directory / "hit.wav", 0.5, positions=(0,), amplitude=0.3)
    return directory


def _loaded(stems: Path, threshold: float) -> LoadedScore:
    path = stems / f"score_{threshold:g}.toml"
    path.write_text(SCORE.replace("{threshold}", str(threshold)))
    return load_score(path)


def _cues(*pairs: tuple[float, dict[str, object]]) -> list[tuple[int, Command]]:
    return [(round(at * SR), parse_command(cmd)) for at, cmd in pairs]


CUES = _cues(
    (0.0, {"cmd": "section", "name": "a"}),
    (23.3, {"cmd": "section", "name": "b"}),
    (31.0, {"cmd": "stinger", "name": "hit"}),
    (40.7, {"cmd": "section", "name": "a"}),  # same position, on the beat
    (52.0, {"cmd": "section", "name": "once"}),
    (64.0, {"cmd": "rest"}),
    (66.0, {"cmd": "resume"}),
)
SECONDS = 72


def _render(loaded: LoadedScore, **options: object) -> tuple[Audio, RenderResult]:
    result = render(loaded, CUES, SECONDS * SR, **options)  # type: ignore[arg-type]
    assert result.audio is not None
    return result.audio, result


@pytest.fixture(scope="module")
def in_ram(stems: Path) -> Audio:
    audio, result = _render(_loaded(stems, 1e6))
    assert result.streams is not None and result.streams.streamed_stems == 0
    return audio


def test_a_streamed_render_is_the_ram_render(stems: Path, in_ram: Audio) -> None:
    streamed, result = _render(_loaded(stems, 0.0))
    stats = result.streams
    assert stats is not None
    assert stats.streamed_stems == 4 and stats.underruns == 0
    # rings: the layers playing at once (a cross-fade holds two voices), not the score
    assert stats.rings <= 2 * 3 + 2, stats
    assert stats.head_bytes <= 4 * HEAD * 2 * 8
    assert np.all(np.isfinite(streamed))
    assert np.abs(in_ram).max() > 0.05
    assert np.array_equal(streamed, in_ram)


def test_layers_chained_or_mixed_sum_to_the_same_samples(stems: Path, in_ram: Audio) -> None:
    """A voice sums its layers by chaining them (`engine.voice._chain`), or with a `Mix`
    when the level meters need each layer on its own (a server with a control page): in a
    voice with a streamed layer and one in RAM, both are the RAM render to the bit."""
    path = stems / "score_mixed.toml"
    path.write_text(SCORE.replace("{threshold}", "0.0").replace(
        'stem = "a_mono.ogg"', 'stem = "a_mono.ogg"\nstream = false'))
    loaded = load_score(path)
    chained, result = _render(loaded)
    assert result.streams is not None and result.streams.streamed_stems == 3  # 1 in RAM
    mixed, _ = _render(loaded, meters=True)
    assert np.array_equal(chained, in_ram)
    assert np.array_equal(mixed, in_ram)


def test_a_seek_into_streamed_stems_is_the_ram_seek(stems: Path) -> None:
    """The chase's case: a jump into the middle of a stem, past its head."""
    seeks = [(5 * SR, 45 * SR), (20 * SR, 8 * SR)]
    ram, _ = _render(_loaded(stems, 1e6), seeks=seeks)
    streamed, result = _render(_loaded(stems, 0.0), seeks=seeks)
    assert result.streams is not None and result.streams.underruns == 0
    assert np.array_equal(streamed, ram)


@pytest.mark.parametrize("block", [OFFLINE_BLOCK, 4096])
def test_stems_render_the_same_samples_at_any_block(stems: Path, in_ram: Audio,
                                                    block: int) -> None:
    """Every event of a stems-only score is placed on its sample inside the graph, so the
    block only sets how much is computed at a time: `adaptive render` of such a score runs
    at `OFFLINE_BLOCK` frames (fewer passes through pyo and Python) and is still the
    256-frame render (`in_ram`), to the bit, transitions, loops, stinger, rest and seeks
    included. A score with patches keeps the live block: a patch starts on a block."""
    assert offline_block(_loaded(stems, 0.0)) == OFFLINE_BLOCK
    assert offline_block(load_score(demo_paths()[0])) == BLOCK
    streamed, result = _render(_loaded(stems, 0.0), block=block)
    assert result.streams is not None and result.streams.underruns == 0
    assert np.array_equal(streamed, in_ram)
    seeks = [(5 * SR, 45 * SR), (20 * SR, 8 * SR)]
    sought, _ = _render(_loaded(stems, 1e6), seeks=seeks)
    assert np.array_equal(_render(_loaded(stems, 0.0), seeks=seeks, block=block)[0], sought)


def test_a_stalled_disk_mutes_the_stream_and_it_comes_back_in_place(
        stems: Path, in_ram: Audio, monkeypatch: pytest.MonkeyPatch) -> None:
    stall = (12 * SR, 15 * SR)
    fill = Streamer.fill

    def slow(self: Streamer, now: int | None = None) -> None:
        if now is not None and stall[0] <= now < stall[1]:
            return  # the disk thread is stuck
        fill(self, now)

    monkeypatch.setattr(Streamer, "fill", slow)
    streamed, result = _render(_loaded(stems, 0.0))
    assert result.streams is not None and result.streams.underruns >= 1
    assert np.all(np.isfinite(streamed))
    # the ring ran dry RING samples after the stall began: silent (not stale audio) a
    # fade later, until the fill resumes
    dry = stall[0] + RING
    assert np.sqrt(np.mean(in_ram[dry:dry + SR // 2] ** 2)) > 0.02
    silent = streamed[dry + SR // 100:stall[1]]
    assert np.abs(silent).max() < 1e-3, np.abs(silent).max()
    # the mute and the return are fades, not clicks: no sample step beyond the noise's own
    steps = np.abs(np.diff(streamed[dry - SR // 10:stall[1] + SR // 2, 0]))
    assert steps.max() < np.abs(np.diff(in_ram[:SR, 0])).max() * 1.5
    # back at its position: the RAM render again, once the DC filter has forgotten
    back = stall[1] + SR
    assert np.max(np.abs(streamed[back:back + 5 * SR] - in_ram[back:back + 5 * SR])) < 1e-4


@pytest.mark.parametrize("origin, length, loop", [
    (0.0, 28734.5, True), (-1234.25, 98765.4321, True), (517.0, 1e6, False),
    (3.5, 2.0 ** 20 + 0.5, True), (0.0, 8_640_000.0, True), (96_000.0, 4_799_999.5, True)])
def test_stem_frames_are_the_graphs_positions(origin: float, length: float,
                                             loop: bool) -> None:
    """Against pyo itself: `Wrap(counter - origin, 0, length)` read by `TableIndex`."""
    from adaptive.engine.engine import import_pyo
    from adaptive.engine.graph import SampleCounter, table_from_array
    from adaptive.render import manual_server

    pyo = import_pyo()
    frames = 200_000
    start = 10_000_000 - 37
    with manual_server(pyo, SR, 1, 256) as server:
        counter = SampleCounter(pyo)
        table = table_from_array(pyo, np.arange(frames, dtype=np.float64))
        raw = counter.signal + float(start) - origin
        position = (pyo.Wrap(raw, 0.0, length) if loop else raw) + FRAME_EPSILON
        reader = pyo.TableIndex(table, position)  # as VoiceClock.frame is read
        recorded = pyo.NewTable(length=4096 / SR, chnls=1)
        recorder = pyo.TableRec(reader, recorded).stop()
        server.start()
        recorder.play()
        counter.start()
        for _ in range(16):
            server.process()
        heard = np.frombuffer(recorded.getBuffer(0), dtype=np.float64)[:4096].copy()
        del reader, recorder, recorded, position, raw, table, counter
    expected = stem_frames(np.arange(start, start + 4096, dtype=np.float64), origin, length,
                           loop, frames)
    assert np.array_equal(heard.astype(np.int64), expected)
    # a sample per sample, except where the loop wraps: no frame repeated or skipped
    steps = np.diff(stem_positions(np.arange(start, start + 4096, dtype=np.float64), origin,
                                   length, loop))
    assert np.all((steps == 1) | (steps < 0)), np.unique(steps)


def test_the_ring_is_a_power_of_two() -> None:
    assert RING & (RING - 1) == 0 and HEAD >= RING
