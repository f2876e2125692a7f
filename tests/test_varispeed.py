"""Varispeed (`SampleCounter.nudge`): the music follows a film's drift without a jump.

A nudge ramps the graph's counter by a whole number of samples; meanwhile stems read
between two samples. Rendered offline against the same score without varispeed:

- a varispeed engine that is never nudged is the plain engine, sample for sample;
- during a nudge every output sample is the plain render read (linearly) at the nudged
  position ``n + D(n)`` — no skipped or repeated sample, so no click;
- after it, the render is the plain one moved by exactly the nudge's samples (once the
  master's DC filter has forgotten the nudge).

Stems are seeded noise (any frame out of place shows), in RAM and streamed, in a section
whose bars are a fractional number of samples (its loop wraps between samples) and whose
loop wraps during the nudge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from adaptive.render import render
from adaptive.runtime.driver import Driver
from adaptive.score.load import LoadedScore, load_score

SR = 48000
SECONDS = 9.0
SCORE = """
[score]
stream_longer_than = {threshold}
[sections.a]
tempo = 97
bars = 2
[sections.a.layers.wide]
stem = "wide.wav"
[sections.a.layers.mono]
stem = "mono.wav"
gain = -3.0
"""


def _score(tmp_path: Path, threshold: float) -> LoadedScore:
    rng = np.random.default_rng(7)
    frames = round(2 * 4 * 60 / 97 * SR) + 100  # a little longer than the loop
    soundfile.write(tmp_path / "wide.wav", rng.standard_normal((frames, 2)) * 0.05, SR,
                    subtype="FLOAT")
    soundfile.write(tmp_path / "mono.wav", rng.standard_normal(frames) * 0.05, SR,
                    subtype="FLOAT")
    (tmp_path / "score.toml").write_text(SCORE.format(threshold=threshold))
    return load_score(tmp_path / "score.toml")


@dataclass
class NudgeAt:
    """A render's schedule: the driver as usual, and one nudge written ahead of time."""

    at: int
    samples: int
    length: int
    done: bool = False

    def pump(self, driver: Driver, block_start: int) -> None:
        if not self.done and block_start + driver.horizon >= self.at:
            driver.nudge(self.at, self.samples, self.length)
            self.done = True
        driver.pump(block_start)


def _nudge_curve(frames: int, at: int, samples: int, length: int) -> npt.NDArray[np.float64]:
    """D(n): what the counter gains by raw sample n (as `ramps.Ramp` ramps it)."""
    n = np.arange(frames, dtype=np.float64)
    return samples * np.clip((n - at + 1) / length, 0.0, 1.0)


@pytest.mark.parametrize("threshold", [1000.0, 1.0], ids=["ram", "streamed"])
@pytest.mark.parametrize("samples", [480, -480], ids=["ahead", "back"])
def test_a_nudge_reads_between_samples_and_then_is_the_music_moved(
        tmp_path: Path, threshold: float, samples: int) -> None:
    loaded = _score(tmp_path, threshold)
    frames = round(SECONDS * SR)
    plain = render(loaded, [], frames).audio.astype(np.float64)
    unnudged = render(loaded, [], frames, varispeed=True).audio.astype(np.float64)
    assert np.array_equal(plain, unnudged)  # whole, the counter reads as before

    at, length = 4 * SR, SR  # a second at 1 % (a film's nudge is slower: 0.1 %)
    nudged = render(loaded, [], frames, varispeed=True,
                    schedule=NudgeAt(at, samples, length)).audio.astype(np.float64)
    assert np.isfinite(nudged).all()
    assert np.array_equal(nudged[:at], plain[:at])  # nothing before its sample

    # during it: the plain music read at the nudged position, between samples. Not to
    # the last bit: the master's DC high-pass follows the reading, and a filter does not
    # commute with a read whose speed changes (seen: 6e-5 at 1 % against noise of RMS
    # 0.07); a skipped or repeated sample would be off by a whole step, ~0.1
    end = at + length
    position = np.arange(frames) + _nudge_curve(frames, at, samples, length)
    inside = slice(at, end)
    for channel in range(2):
        ideal = np.interp(position[inside], np.arange(frames), plain[:, channel])
        error = np.abs(nudged[inside, channel] - ideal).max()
        assert error < 5e-4, (channel, error)
    # no sample skipped or repeated: the step from sample to sample is the plain one's
    steps = np.abs(np.diff(nudged[at - 1000:end + 1000], axis=0)).max()
    assert steps <= np.abs(np.diff(plain, axis=0)).max() * 1.01

    # after it: the music moved by exactly the nudge (the DC filter's memory of the nudge
    # decays within a fifth of a second to float32's last bits)
    after = slice(end, frames - abs(samples))
    moved = slice(end + samples, frames - abs(samples) + samples)
    difference = np.abs(nudged[after] - plain[moved]).max(axis=1)
    assert difference.max() < 5e-4
    assert difference[SR // 5:].max() < 1e-7


def test_the_counter_maps_raw_samples_to_the_music_and_back() -> None:
    """The live clock maps wall time to the device's raw count and that to the music's
    (`AudioClock`): `to_music` must be the graph's own counter (which floors it), and
    `to_raw` its inverse, before, during and after a nudge."""
    from adaptive.engine.engine import import_pyo
    from adaptive.engine.graph import SampleCounter
    from adaptive.render import manual_server

    pyo = import_pyo()
    with manual_server(pyo, SR, 1, 64) as server:
        counter = SampleCounter(pyo, varispeed=True)
        server.start()
        counter.start()
        done = counter.nudge(1000, -300, 6000)  # slower: the counter gains -300
        assert done == 1000 + 6000 - 1 - 300
        seen = []
        for _ in range(200):  # 12,800 samples
            server.process()
            raw, music = counter.raw_now(), counter.now()
            mapped = counter.to_music(raw)
            seen.append((raw, music, mapped, counter.to_raw(mapped)))
        del counter
    for raw, music, mapped, back in seen:
        # the graph floors raw + D(raw): within a rounding of D at a whole sample
        assert music - 1e-6 <= mapped < music + 1 + 1e-6, (raw, music, mapped)
        assert abs(back - raw) < 1e-6, (raw, back)
    assert seen[-1][1] == seen[-1][0] - 300  # done: moved by exactly the nudge
