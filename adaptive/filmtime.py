"""Film time: frame rates as exact fractions, SMPTE timecode, drop-frame numbering.

Theory of operation
-------------------
A cue sheet names moments of the picture by timecode (HH:MM:SS:FF). A timecode is a
*label* of a frame; the frame's time is ``frame / fps`` with fps an exact fraction
(29.97 is 30000/1001, so 01:00:00:00 non-drop is 3.6 s later than an hour of wall time).
Drop-frame timecode (29.97df, 59.94df) keeps labels near wall time by skipping the labels
of frames 0 and 1 (0-3 at 59.94) at the start of every minute except each tenth; no frame
is dropped, only labels. Arithmetic is integer on frame counts; seconds appear only when
a frame count meets the sample rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_NAMED = {
    "23.976": (Fraction(24000, 1001), False), "23.98": (Fraction(24000, 1001), False),
    "24": (Fraction(24), False), "25": (Fraction(25), False),
    "29.97": (Fraction(30000, 1001), False), "29.97df": (Fraction(30000, 1001), True),
    "30": (Fraction(30), False), "48": (Fraction(48), False), "50": (Fraction(50), False),
    "59.94": (Fraction(60000, 1001), False), "59.94df": (Fraction(60000, 1001), True),
    "60": (Fraction(60), False),
}
_DROP_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
ACCEPTED = ", ".join(f'"{name}"' for name in _NAMED) + ', or a fraction such as "24000/1001"'

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$")


@dataclass(frozen=True)
class FrameRate:
    """A film's frame rate, exact (29.97 is 30000/1001), and whether its timecode drops."""

    fps: Fraction
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"frame rate {self.fps} is not > 0")
        if self.drop_frame and self.fps not in _DROP_RATES:
            raise ValueError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not "
                             f"{self.fps}; fix: drop 'df'")

    @classmethod
    def parse(cls, text: str | int | float) -> FrameRate:
        key = str(text).strip().lower().replace(" ", "")
        if isinstance(text, float) and not text.is_integer():
            key = f"{text:g}"
        elif isinstance(text, float):
            key = str(int(text))
        if key in _NAMED:
            fps, drop = _NAMED[key]
            return cls(fps, drop)
        if "/" in key:
            try:
                top, bottom = (int(part) for part in key.split("/"))
                fps = Fraction(top, bottom)
            except (ValueError, ZeroDivisionError):
                fps = Fraction(0)
            if 1 <= fps <= 240:
                return cls(fps, False)
        raise ValueError(f"frame rate {text!r} is not one of {ACCEPTED}")

    @property
    def nominal(self) -> int:
        """Frames per timecode second (30 for 29.97)."""
        return math.ceil(self.fps - Fraction(1, 1000))

    @property
    def frame_seconds(self) -> Fraction:
        return 1 / self.fps

    @property
    def _dropped(self) -> int:
        """Labels skipped per minute in drop-frame: 2 at 29.97, 4 at 59.94."""
        return round(self.nominal / 15) if self.drop_frame else 0

    def __str__(self) -> str:
        for name, (fps, drop) in _NAMED.items():
            if fps == self.fps and drop == self.drop_frame and name != "23.98":
                return name
        return f"{self.fps.numerator}/{self.fps.denominator}"


def timecode_to_frames(text: str, rate: FrameRate) -> int:
    """The frame count (from 00:00:00:00) a timecode labels."""
    match = _TIMECODE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a timecode HH:MM:SS:FF (';' or '.' before FF "
                         "for drop-frame); fix: write e.g. \"01:00:20:12\"")
    hours, minutes, seconds, separator, frames = match.groups()
    h, m, s, f = int(hours), int(minutes), int(seconds), int(frames)
    nominal = rate.nominal
    if m > 59 or s > 59:
        raise ValueError(f"{text!r}: minutes and seconds go up to 59; fix: carry into the "
                         "hours or minutes (00:01:30:00, not 00:00:90:00)")
    if f >= nominal:
        raise ValueError(f"{text!r}: frame {f} is past the last frame {nominal - 1} at "
                         f"{rate} fps; fix: frames count 00..{nominal - 1}")
    drop = separator in ";.,"
    if drop and not rate.drop_frame:
        raise ValueError(f"{text!r}: ';' marks drop-frame timecode, but the rate is {rate}; "
                         f"fix: write ':' before the frames, or set fps = \"{rate}df\" if the "
                         "film is drop-frame")
    dropped = rate._dropped
    if dropped and s == 0 and f < dropped and m % 10 != 0:
        skipped = "00 and 01" if dropped == 2 else f"00 to {dropped - 1:02d}"
        raise ValueError(f"{text!r} does not exist in drop-frame (frames {skipped} are dropped "
                         "at each minute not divisible by 10); fix: use "
                         f"{h:02d}:{m:02d}:00;{dropped:02d}")
    total_minutes = 60 * h + m
    count = ((total_minutes * 60 + s) * nominal) + f
    return count - dropped * (total_minutes - total_minutes // 10)


def frames_to_timecode(frames: int, rate: FrameRate) -> str:
    """The timecode label of a frame count (from 00:00:00:00)."""
    if frames < 0:
        raise ValueError(f"frame {frames} is before 00:00:00:00")
    nominal = rate.nominal
    dropped = rate._dropped
    if dropped:
        per_ten = 10 * 60 * nominal - 9 * dropped  # frames in ten drop-frame minutes
        per_minute = 60 * nominal - dropped
        tens, rest = divmod(frames, per_ten)
        extra = 0 if rest < dropped else dropped * ((rest - dropped) // per_minute)
        frames += 9 * dropped * tens + extra
    f = frames % nominal
    s = frames // nominal % 60
    m = frames // (nominal * 60) % 60
    h = frames // (nominal * 3600)
    return f"{h:02d}:{m:02d}:{s:02d}{';' if rate.drop_frame else ':'}{f:02d}"


@dataclass(frozen=True)
class FilmClock:
    """Film time (seconds from the sheet's `start` timecode) and timecode, both ways."""

    rate: FrameRate
    start_frames: int = 0

    def seconds(self, at: str | float | int) -> float:
        """Film seconds of a timecode (counted from `start`), or of seconds given as such."""
        if not isinstance(at, str):
            return float(at)
        return float(self._frames(at) * self.rate.frame_seconds)

    def _frames(self, timecode: str) -> int:
        """Frames from `start`; a timecode before it is no film time (the sheet's fault)."""
        frames = timecode_to_frames(timecode, self.rate) - self.start_frames
        if frames < 0:
            raise ValueError(f"{timecode!r} is before the sheet's start "
                             f"{frames_to_timecode(self.start_frames, self.rate)}; fix: give a "
                             "later timecode, or an earlier start")
        return frames

    def frame(self, seconds: float) -> int:
        """The frame showing at film seconds (from `start`)."""
        return math.floor(seconds * float(self.rate.fps) + 1e-9)

    def timecode(self, seconds: float) -> str:
        return frames_to_timecode(self.start_frames + max(0, self.frame(seconds)), self.rate)

    def sample(self, at: str | float | int, sample_rate: int) -> int:
        """The sample of a timecode or film seconds, exact for timecodes."""
        if isinstance(at, str):
            return round(self._frames(at) * self.rate.frame_seconds * sample_rate)
        return round(float(at) * sample_rate)
