"""A preview: the rendered music muxed into a copy of the film, with ffmpeg.

Theory of operation
-------------------
The picture is never re-encoded (``-c:v copy``): the preview shows exactly the frames of
the film, so a composer judges sync on the real picture, and the mux takes seconds. Film
time 0 (the sheet's `start` timecode) is the video's first frame. The music file's sample
0 is film time `start` (a render `--from`). When a render starts later, the copy can only
begin on a keyframe (a stream copy cannot start between them): it begins on the last
keyframe at or before `start`, and the music is delayed by the gap with leading silence
(``adelay``, exact to the sample; a start offset in the container would instead be rounded
to the mp4 movie timescale's 1 ms, and some players ignore it), so picture and music stay
aligned to the sample. With an `end` (a render `--to`), the copy stops there.

The audio codec follows the container: AAC (ffmpeg's native encoder, 320 kb/s, which every
player reads) in .mp4/.m4v, 24-bit PCM (exact) in .mov/.mkv.

ffmpeg and ffprobe are separate programs (the Debian package `ffmpeg`), found on PATH
when needed, never at import.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from adaptive.errors import AdaptiveError

AUDIO_CODECS: dict[str, list[str]] = {
    ".mp4": ["-c:a", "aac", "-b:a", "320k"],
    ".m4v": ["-c:a", "aac", "-b:a", "320k"],
    ".mov": ["-c:a", "pcm_s24le"],
    ".mkv": ["-c:a", "pcm_s24le"],
}
PREVIEW_SUFFIXES = tuple(AUDIO_CODECS)


class PreviewError(AdaptiveError):
    """ffmpeg is missing, the film cannot be read, or the mux failed."""


def tool(name: str) -> str:
    """The path of ffmpeg or ffprobe, or a PreviewError naming the package to install."""
    path = shutil.which(name)
    if path is None:
        raise PreviewError(f"{name} not found on PATH; fix: install the Debian package ffmpeg "
                           "(sudo apt-get install ffmpeg), which provides ffmpeg and ffprobe")
    return path


def _run(args: list[str], what: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise PreviewError(f"{what}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout


def probe(path: Path, what: str = "the film") -> dict[str, Any]:
    """ffprobe's streams and format of a file, as JSON."""
    out = _run([tool("ffprobe"), "-v", "error", "-show_streams", "-show_format", "-of", "json",
                str(path)], f"cannot read {what}")
    data: dict[str, Any] = json.loads(out)
    return data


@dataclass(frozen=True)
class Video:
    """The film's video stream: what the mux needs to align and cut it."""

    path: Path
    codec: str
    start: Fraction  # seconds: the stream time of its first frame (film time 0)
    format_start: Fraction  # seconds: the file's start, which ffmpeg's -ss counts from
    duration: float | None  # seconds, if the file says
    time_base: Fraction


def _fraction(value: object, default: Fraction = Fraction(0)) -> Fraction:
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return default


def read_video(film: Path) -> Video:
    """The film's first video stream; a PreviewError naming the file if there is none."""
    if not film.is_file():
        raise PreviewError(f"{film}: no such file; fix: give the path of the film (--video)")
    data = probe(film)
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "video"]
    if not streams:
        raise PreviewError(f"{film}: has no video stream; fix: give the film itself (--video)")
    stream = streams[0]
    format_info = data.get("format", {})
    duration = stream.get("duration", format_info.get("duration"))
    return Video(film, str(stream.get("codec_name")), _fraction(stream.get("start_time")),
                 _fraction(format_info.get("start_time")),
                 float(duration) if duration is not None else None,
                 _fraction(stream.get("time_base"), Fraction(1, 90000)))


def keyframe_at_or_before(video: Video, film_seconds: float) -> Fraction:
    """Film time of the last keyframe at or before `film_seconds`: where a stream copy
    can begin. Reads packets from a seek there, not the whole film."""
    target = video.start + Fraction(film_seconds)
    ffprobe = tool("ffprobe")
    base = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
            "packet=pts,flags", "-of", "csv=p=0"]
    window = ["-read_intervals", f"{float(target):.6f}%{float(target) + 0.001:.6f}"]
    for extra in (window, []):  # the seek's window first, every packet if it finds none
        out = _run([*base, *extra, str(video.path)], f"{video.path}: cannot read packets")
        best: Fraction | None = None
        for line in out.splitlines():
            pts, _, flags = line.partition(",")
            if "K" not in flags or not pts.strip().lstrip("-").isdigit():
                continue
            at = int(pts) * video.time_base
            if at <= target + Fraction(1, 1_000_000) and (best is None or at > best):
                best = at
        if best is not None:
            return max(Fraction(0), best - video.start)
    return Fraction(0)


@dataclass(frozen=True)
class Muxed:
    path: Path
    video_from: float  # film seconds of the preview's first frame
    audio_offset: float  # seconds into the preview the music's sample 0 sounds


def mux(film: Path, music: Path, output: Path, *, start: float = 0.0,
        end: float | None = None, video: Video | None = None) -> Muxed:
    """Write `output`: the film's video copied (from the keyframe at or before `start`,
    up to `end` if given) and `music` (whose sample 0 is film time `start`) aligned to it."""
    suffix = output.suffix.lower()
    if suffix not in AUDIO_CODECS:
        raise PreviewError(f"{output}: a preview is a video file; fix: name it .mp4 (AAC "
                           "audio) or .mov/.mkv (PCM audio)")
    video = video or read_video(film)
    if video.duration is not None and start >= video.duration:
        raise PreviewError(f"{film}: the film lasts {video.duration:.3f} s, the music starts at "
                           f"film time {start:.3f} s; fix: an earlier --from, or the right film")
    cut = keyframe_at_or_before(video, start) if start > 0 else Fraction(0)
    offset = Fraction(start) - cut
    args = [tool("ffmpeg"), "-v", "error", "-nostdin", "-y"]
    if cut > 0:
        # -ss counts from the file's start; a microsecond late still seeks to this keyframe
        seek = video.start - video.format_start + cut + Fraction(1, 1_000_000)
        args += ["-ss", f"{float(seek):.6f}"]
    if end is not None:
        args += ["-t", f"{float(Fraction(end) - cut):.6f}"]
    args += ["-i", str(film), "-i", str(music), "-map", "0:v:0", "-map", "1:a:0",
             "-c:v", "copy", *AUDIO_CODECS[suffix]]
    if offset > 0:
        delay = round(offset * _sample_rate(music))
        args += ["-af", f"adelay=delays={delay}S:all=1"]
    _run([*args, str(output)], f"ffmpeg could not write {output}")
    return Muxed(output, float(cut), float(offset))


def _sample_rate(music: Path) -> int:
    streams = [s for s in probe(music, "the music").get("streams", [])
               if s.get("codec_type") == "audio"]
    if not streams:
        raise PreviewError(f"{music}: has no audio stream")
    return int(streams[0]["sample_rate"])
