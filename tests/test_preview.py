"""`adaptive render --video FILM -o preview.mkv|.mp4`: the music muxed into the film.

A real ffmpeg makes the film (H.264 with B-frames, a keyframe every 12 frames, 24 fps,
8 s); the sheet of `test_render_film` (start 01:00:00:00) is rendered into it. Read back
with ffprobe and ffmpeg:
- the preview's video packets are the film's, byte for byte (from the keyframe at or
  before --from), at the same times;
- its audio is music.wav: exact in .mkv (24-bit PCM), within AAC's error in .mp4;
- from a --from between keyframes, the music's sample 0 sounds at that film time of the
  picture (silence before it, exact to the sample).
The plot's film axis: timecode ticks, cue labels, hits with their error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from adaptive.cli import main
from adaptive.filmtime import FilmClock, FrameRate, timecode_to_frames
from adaptive.plot import FilmAxis
from tests.test_render_film import SR, film

__all__ = ["film"]  # the fixture, shared with the render tests

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="needs ffmpeg: bin/test installs Debian's ffmpeg")

Audio = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def clip(film: Path) -> Path:
    path = film / "film.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x90:rate=24:duration=8", "-c:v", "libx264", "-g", "12",
                    "-bf", "2", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def _packets(path: Path) -> list[tuple[float, str]]:
    """The video stream's packets: (presentation time in s, md5 of the bytes), in order."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map",
                          "0:v:0", "-c", "copy", "-f", "framemd5", "-"], check=True,
                         capture_output=True, text=True).stdout
    base = next(line for line in out.splitlines() if line.startswith("#tb 0:"))
    num, den = (int(x) for x in base.split(":", 1)[1].strip().split("/"))
    rows = []
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        rows.append((round(int(fields[2]) * num / den, 3), fields[5]))
    return rows


def _streams(path: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def _decoded(path: Path) -> Audio:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
                          "-f", "f32le", "-ac", "2", "-ar", str(SR), "-"], check=True,
                         capture_output=True).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, 2)


def _preview(film: Path, clip: Path, name: str, *extra: str) -> tuple[Path, Audio]:
    out, music = film / name, film / f"{name}.wav"
    assert main(["render", str(film / "score.toml"), "--timeline", str(film / "sheet.toml"),
                 "--video", str(clip), "-o", str(out), "--music", str(music), *extra]) == 0
    audio, rate = soundfile.read(str(music), dtype="float32")
    assert rate == SR
    return out, np.asarray(audio)


def test_the_preview_holds_the_film_and_the_music(film: Path, clip: Path) -> None:
    out, music = _preview(film, clip, "preview.mkv")
    streams = _streams(out)
    assert streams["video"]["codec_name"] == _streams(clip)["video"]["codec_name"] == "h264"
    assert streams["audio"]["codec_name"] == "pcm_s24le"
    assert _packets(out) == _packets(clip)  # copied, not re-encoded: every packet, same time
    heard = _decoded(out)
    assert len(music) == 7 * SR and heard.shape == music.shape
    assert np.max(np.abs(heard - music)) < 2.0 ** -22  # 24-bit both ways: the same samples


def test_an_mp4_preview_has_aac_equal_to_the_music(film: Path, clip: Path) -> None:
    out, music = _preview(film, clip, "preview.mp4", "--to", "01:00:06:00")
    streams = _streams(out)
    assert streams["audio"]["codec_name"] == "aac"
    assert abs(float(streams["audio"]["duration"]) - 6.0) < 0.03  # AAC frames: 21.3 ms
    film_packets = _packets(clip)
    kept = _packets(out)
    assert kept == film_packets[:len(kept)] and abs(len(kept) - 6 * 24) <= 2
    heard = _decoded(out)[:len(music)]
    assert heard.shape == music.shape
    # aligned (AAC's priming removed by the container's edit list) and close: the error of
    # a 320 kb/s encode, not of a shift (one sample at 1 kHz would leave about -27 dB)
    error = np.sqrt(np.mean((heard[SR:] - music[SR:]) ** 2) / np.mean(music[SR:] ** 2))
    assert 20 * np.log10(error) < -35.0


def test_from_between_keyframes_the_music_starts_on_its_frame(film: Path, clip: Path) -> None:
    """--from 01:00:03:05: the picture is copied from the keyframe at 03:00, the music's
    sample 0 sounds 5 frames later (0.2083 s), silence before it."""
    out, music = _preview(film, clip, "later.mkv", "--from", "01:00:03:05",
                          "--to", "01:00:06:00")
    packets, source = _packets(out), _packets(clip)
    first = next(i for i, (at, _) in enumerate(source) if abs(at - 3.0) < 1e-3)
    assert [md5 for _, md5 in packets] == [md5 for _, md5 in source[first:first + len(packets)]]
    assert abs(len(packets) - 3 * 24) <= 2
    delay = round(5 / 24 * SR)
    assert len(music) == round((3 - 5 / 24) * SR)
    heard = _decoded(out)
    assert heard.shape == (delay + len(music), 2)
    assert np.max(np.abs(heard[:delay])) == 0.0
    assert np.max(np.abs(heard[delay:] - music)) < 2.0 ** -22


@pytest.mark.parametrize("args, words", [
    (["-o", "x.mp4"], ["needs the film", "--video"]),
    (["--video", "film.mp4", "-o", "x.wav"], ["--video", "a video file", "fix:"]),
    (["--video", "nothing.mp4", "-o", "x.mp4"], ["nothing.mp4", "no such file", "fix:"]),
    (["--video", "score.toml", "-o", "x.mp4"], ["score.toml", "no video stream", "fix:"]),
])
def test_bad_previews_are_one_line(film: Path, clip: Path, args: list[str], words: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(film / a) if a.endswith((".mp4", ".wav", ".toml")) else a for a in args]
    code = main(["render", str(film / "score.toml"), "--timeline", str(film / "sheet.toml"),
                 *args])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


def test_the_plot_axis_is_the_films_timecode() -> None:
    rate = FrameRate.parse("24")
    axis = FilmAxis(3.0, FilmClock(rate, timecode_to_frames("01:00:00:00", rate)),
                    ((4.0, "1M2"),), ((5.25, "door", 0.01, True),))
    assert axis.label(0.0) == "01:00:03:00"
    assert axis.label(2.25) == "01:00:05:06"
    # 4 s from 01:00:03:00: a tick every 8 frames (a divisor of 24), every second one
    assert [axis.label(x) for x in axis.ticks(4.0)] == [
        f"01:00:0{s}:{f:02d}" for s in range(3, 7) for f in (0, 8, 16)] + ["01:00:07:00"]
    assert [axis.label(x) for x in axis.ticks(20.0)][:3] == ["01:00:04:00", "01:00:06:00",
                                                            "01:00:08:00"]
    drop = FrameRate.parse("29.97df")
    axis = FilmAxis(0.0, FilmClock(drop, timecode_to_frames("00:00:59;00", drop)), (), ())
    ticks = axis.ticks(3.0)
    # 00:01:00;00 is a label drop-frame skips: no tick there, and ticks sit at the frames'
    # real times (30 frames take 1.001 s)
    assert [axis.label(x) for x in ticks] == [
        "00:00:59;00", "00:00:59;10", "00:00:59;20", "00:01:00;10", "00:01:00;20",
        "00:01:01;00", "00:01:01;10", "00:01:01;20", "00:01:02;00"]
    assert ticks[5] == pytest.approx(58 * 1001 / 30000)  # 00:01:01;00 is 58 frames on


def test_a_film_plot_is_drawn(film: Path, clip: Path) -> None:
    png = film / "preview.png"
    assert main(["render", str(film / "score.toml"), "--timeline", str(film / "sheet.toml"),
                 "-o", str(film / "p.wav"), "--from", "01:00:01:00", "--plot", str(png)]) == 0
    import matplotlib.image

    image = matplotlib.image.imread(str(png))
    assert image.shape[:2] == (990, 1540)
