"""Test stems and measurements on rendered audio (numpy only).

Each test layer is a sine at its own frequency, so its level can be read from the spectrum
of the mix; markers are single-sample impulses, so an onset can be read to the sample.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

Audio = npt.NDArray[np.float32]


def write_sine(path: Path, frequency: float, seconds: float, sample_rate: int = 48000,
               amplitude: float = 0.1, cycles_per: float | None = None) -> None:
    """A sine stem; with `cycles_per` (samples), the frequency is adjusted to a whole number
    of cycles over that many samples, so a loop of that (fractional) length is seamless."""
    frames = math.ceil(seconds * sample_rate) + 16
    if cycles_per is not None:
        frequency = round(frequency * cycles_per / sample_rate) * sample_rate / cycles_per
    t = np.arange(frames) / sample_rate
    data = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    soundfile.write(str(path), data, sample_rate, subtype="FLOAT")


def write_marker(path: Path, seconds: float, sample_rate: int = 48000,
                 positions: tuple[int, ...] = (0,), amplitude: float = 0.5) -> None:
    """Silence with single-sample impulses at `positions`: onsets readable to the sample."""
    frames = math.ceil(seconds * sample_rate) + 16
    data = np.zeros(frames, dtype=np.float32)
    for position in positions:
        data[position] = amplitude
    soundfile.write(str(path), data, sample_rate, subtype="FLOAT")


def sine_level_db(audio: Audio, frequency: float, sample_rate: int, start: float,
                  seconds: float = 0.5) -> float:
    """Level (dB re amplitude 1) of one sine in the left channel over a window.

    A Hann-windowed DFT evaluated exactly at `frequency` (not at a bin), with the window's
    coherent gain removed: other sines more than a few bins away do not leak in.
    """
    first = round(start * sample_rate)
    segment = audio[first:first + round(seconds * sample_rate), 0].astype(np.float64)
    n = len(segment)
    window = np.hanning(n)
    phases = np.exp(-2j * np.pi * frequency * np.arange(n) / sample_rate)
    amplitude = 2 * abs(np.sum(segment * window * phases)) / np.sum(window)
    return 20 * math.log10(max(amplitude, 1e-12))


def impulses(audio: Audio, threshold: float = 0.25) -> npt.NDArray[np.int64]:
    """Sample indices of isolated impulses (local peaks above threshold), left channel."""
    x = np.abs(audio[:, 0].astype(np.float64))
    above = np.nonzero(x > threshold)[0]
    if len(above) == 0:
        return above
    keep = [above[0]]
    for index in above[1:]:
        if index - keep[-1] > 8:
            keep.append(index)
    return np.array(keep, dtype=np.int64)


def envelope_db(audio: Audio, sample_rate: int, window: float = 0.01) -> npt.NDArray[np.float64]:
    """RMS level per window (dBFS), left channel."""
    size = max(1, round(window * sample_rate))
    x = audio[:, 0].astype(np.float64)
    frames = len(x) // size
    rms = np.sqrt(np.mean(x[: frames * size].reshape(frames, size) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-12))


def max_jump(audio: Audio, start: int, end: int) -> float:
    """Largest sample-to-sample step in a span, over both channels."""
    segment = audio[max(start, 1) - 1:end].astype(np.float64)
    return float(np.max(np.abs(np.diff(segment, axis=0))))


def samples_per_bar(tempo: float, beats: int = 4, unit: int = 4, sample_rate: int = 48000
                    ) -> float:
    """Ideal bar length from tempo (quarter notes per minute) and meter, computed here
    independently of the engine."""
    return sample_rate * 60.0 / tempo * (4.0 / unit) * beats
