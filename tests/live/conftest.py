from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio import write_marker, write_sine
from tests.live.harness import NoiseReference, Window, jack_server

STEM_SCORE = """
[parameters.tension]
smoothing = 0.005
[parameters.arousal]
smoothing = 0.005
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.low]
stem = "low.wav"
gain = { tension = [[0.0, -20.0], [1.0, 0.0]] }
[sections.a.layers.mid]
stem = "mid.wav"
gain = { arousal = [[0.0, -20.0], [1.0, 0.0]] }
[sections.b]
tempo = 120
bars = 1
[sections.b.layers.beats]
stem = "beats.wav"
[[transitions]]
when = "immediate"
fade_out = 0.01
[stingers.hit]
stem = "hit.wav"
when = "beat"
"""


@pytest.fixture(scope="session")
def jack() -> Iterator[str]:
    with jack_server() as name:
        yield name


@pytest.fixture(scope="session")
def stem_score(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sine layers (441 Hz on tension, 1003 Hz on arousal) and a beat-marker section."""
    directory = tmp_path_factory.mktemp("live-score")
    write_sine(directory / "low.wav", 441.0, 9.0, amplitude=0.2)
    write_sine(directory / "mid.wav", 1003.0, 9.0, amplitude=0.2)
    beat = 48000 * 0.5
    write_marker(directory / "beats.wav", 2.5, positions=tuple(round(k * beat)
                                                               for k in range(4)))
    write_marker(directory / "hit.wav", 0.5, amplitude=0.4)
    path = directory / "score.toml"
    path.write_text(STEM_SCORE)
    return path


@pytest.fixture(scope="session")
def noise_reference() -> Iterator[NoiseReference]:
    reference = NoiseReference()
    reference.start()
    try:
        yield reference
    finally:
        reference.stop()


@pytest.fixture
def noise(noise_reference: NoiseReference) -> Window:
    """The machine's xruns from this test's start (a plain pyo client on its own JACK
    server): `noise.judge(recorder.xruns)` at the end."""
    return noise_reference.window()
