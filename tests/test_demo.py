"""`adaptive demo`, run as a newcomer runs it: it tells its story, cleanly, identically."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from adaptive.actions import EndRest, StartRest, StartStinger, StartVoice
from adaptive.cli import demo_paths
from adaptive.conductor import Conductor
from adaptive.score.load import load_score
from adaptive.timeline import load_timeline


def run_demo(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adaptive.cli", "demo", "--format", "float"],
                          cwd=directory, capture_output=True, text=True, timeout=300,
                          check=False)


def test_demo_tells_its_story(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    result = run_demo(first)
    assert result.returncode == 0, result.stderr
    assert run_demo(second).returncode == 0
    wav, png = first / "demo.wav", first / "demo.png"
    assert png.stat().st_size > 50_000
    audio, rate = soundfile.read(str(wav), dtype="float32")
    # bit-identical samples in two fresh processes (a float WAV's PEAK chunk holds a
    # timestamp, so the files' bytes differ; the samples may not)
    again, _ = soundfile.read(str(second / "demo.wav"), dtype="float32")
    assert np.array_equal(audio, again)
    score_path, timeline_path = demo_paths()
    timeline = load_timeline(timeline_path)
    assert len(audio) == round(timeline.duration * rate)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) < 1.0
    assert abs(float(np.mean(audio))) < 1e-3

    # the plan, computed without audio: which sections play, when the rest falls
    loaded = load_score(score_path)
    conductor = Conductor(loaded.score, rate)
    for at, command in timeline.at_samples(rate):
        conductor.submit(command, at)
    actions = conductor.advance(len(audio))
    sections = [a.section for a in actions if isinstance(a, StartVoice)]
    assert sections == ["calm", "unease", "riser", "chase", "resolution"]
    assert len([a for a in actions if isinstance(a, StartStinger)]) == 2
    rest = next(a for a in actions if isinstance(a, StartRest))
    reentry = next(a for a in actions if isinstance(a, EndRest))
    silent = audio[rest.at + rest.release + rate // 10:reentry.at]
    assert len(silent) > rate and np.max(np.abs(silent)) < 10 ** (-80 / 20)

    def level(start: float, end: float) -> float:
        segment = audio[round(start * rate):round(end * rate), 0].astype(np.float64)
        return 20 * math.log10(float(np.sqrt(np.mean(segment ** 2))))

    calm, calm_grown = level(1, 7), level(12, 19)
    chase = level(47, 66)
    resolution = level(reentry.at / rate + 2, timeline.duration)
    assert calm_grown > calm + 2.0  # layers enter with arousal
    assert chase > calm_grown + 2.0  # the chase is the loudest passage
    assert resolution > calm  # the theme returns, fuller than the opening
