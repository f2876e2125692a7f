"""Film time: frame rates, timecode both ways (drop-frame at every minute), the film clock.

Conversions are checked against the PyPI package `timecode` (an independent implementation)
over many frame counts at every rate, and against hard-coded values from the SMPTE tables.
Conventions of `timecode` (checked by `test_the_reference_library_conventions`):
- its frame numbers are 1-based: `Timecode(rate, frames=1)` is 00:00:00:00, and
  `Timecode(rate, tc).frames` is our frame count + 1;
- its "29.97" and "59.94" are drop-frame whatever the separator (`force_non_drop_frame=True`
  for non-drop); it drops 2 labels a minute at 29.97 and 4 at 59.94, as SMPTE does;
- it wraps at 24 h (ours counts on), so comparisons stay below 24 h.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from timecode import Timecode

from adaptive.filmtime import FilmClock, FrameRate, frames_to_timecode, timecode_to_frames

RATES = ["23.976", "24", "25", "29.97", "29.97df", "30", "50", "59.94", "59.94df", "60"]


def _reference(rate: str, frames: int) -> str:
    return str(Timecode(rate.removesuffix("df"), frames=frames + 1,
                        force_non_drop_frame=not rate.endswith("df")))


def _reference_frames(rate: str, timecode: str) -> int:
    return int(Timecode(rate.removesuffix("df"), timecode,
                        force_non_drop_frame=not rate.endswith("df")).frames) - 1


def _frame_counts(rate: FrameRate) -> list[int]:
    """The first frames, both sides of every minute of the first hour and of every ten minutes
    of the first three hours, and frames scattered over a day."""
    per_minute = 60 * rate.nominal - (rate.nominal // 15 if rate.drop_frame else 0)
    per_ten = 10 * per_minute + (rate.nominal // 15 if rate.drop_frame else 0)
    counts = set(range(300))
    for minute in range(61):
        start = timecode_to_frames(frames_to_timecode(minute * per_minute, rate), rate)
        counts.update(range(max(0, minute * per_minute - 6), minute * per_minute + 6))
        counts.update(range(max(0, start - 6), start + 6))
    for ten in range(1, 19):
        counts.update(range(ten * per_ten - 30, ten * per_ten + 30))
    day = 24 * 3600 * int(rate.fps)
    counts.update(random.Random(9).randrange(day) for _ in range(500))
    return sorted(counts)


def test_the_reference_library_conventions() -> None:
    assert Timecode("29.97", "00:01:00;02").frames == 1801  # 1-based: our frame 1800
    assert Timecode("29.97", "00:01:00:02").frames == 1801  # drop-frame whatever ':' or ';'
    assert Timecode("29.97", "00:01:00:02", force_non_drop_frame=True).frames == 1803
    assert str(Timecode("24", frames=1)) == "00:00:00:00"
    assert str(Timecode("59.94", frames=3601)) == "00:01:00;04"
    assert str(Timecode("24", frames=24 * 86400 + 1)) == "00:00:00:00"  # wraps at 24 h


@pytest.mark.parametrize("name", RATES)
def test_conversions_match_the_reference_at_every_rate(name: str) -> None:
    rate = FrameRate.parse(name)
    for frames in _frame_counts(rate):
        timecode = frames_to_timecode(frames, rate)
        assert timecode == _reference(name, frames), (name, frames)
        assert timecode_to_frames(timecode, rate) == frames, (name, timecode)
        assert _reference_frames(name, timecode) == frames, (name, timecode)


KNOWN = [
    ("29.97df", 0, "00:00:00;00"), ("29.97df", 1799, "00:00:59;29"),
    ("29.97df", 1800, "00:01:00;02"), ("29.97df", 3597, "00:01:59;29"),
    ("29.97df", 3598, "00:02:00;02"), ("29.97df", 17981, "00:09:59;29"),
    ("29.97df", 17982, "00:10:00;00"), ("29.97df", 17983, "00:10:00;01"),
    ("29.97df", 19782, "00:11:00;02"), ("29.97df", 107892, "01:00:00;00"),
    ("29.97df", 2589407, "23:59:59;29"),
    ("59.94df", 3599, "00:00:59;59"), ("59.94df", 3600, "00:01:00;04"),
    ("59.94df", 35964, "00:10:00;00"), ("59.94df", 215784, "01:00:00;00"),
    ("29.97", 1800, "00:01:00:00"), ("29.97", 108000, "01:00:00:00"),
    ("23.976", 86400, "01:00:00:00"), ("24", 86400, "01:00:00:00"), ("24", 23, "00:00:00:23"),
    ("25", 90000, "01:00:00:00"), ("30", 108000, "01:00:00:00"),
    ("50", 180049, "01:00:00:49"), ("60", 216059, "01:00:00:59"),
    ("24", 24 * 3600 * 30, "30:00:00:00"),  # no wrap at 24 h: a sheet counts on
]


@pytest.mark.parametrize(("name", "frames", "timecode"), KNOWN)
def test_known_conversions(name: str, frames: int, timecode: str) -> None:
    rate = FrameRate.parse(name)
    assert frames_to_timecode(frames, rate) == timecode
    assert timecode_to_frames(timecode, rate) == frames


@pytest.mark.parametrize("name", ["29.97df", "59.94df"])
def test_every_minute_drops_its_first_labels_but_every_tenth(name: str) -> None:
    rate = FrameRate.parse(name)
    dropped = 2 if name == "29.97df" else 4
    for minute in range(1, 120):
        first = f"{minute // 60:02d}:{minute % 60:02d}:00;"
        last = timecode_to_frames(f"{(minute - 1) // 60:02d}:{(minute - 1) % 60:02d}:59;"
                                  f"{rate.nominal - 1:02d}", rate)
        if minute % 10 == 0:
            assert timecode_to_frames(first + "00", rate) == last + 1
            continue
        assert timecode_to_frames(first + f"{dropped:02d}", rate) == last + 1
        assert frames_to_timecode(last + 1, rate) == first + f"{dropped:02d}"
        for frame in range(dropped):
            with pytest.raises(ValueError, match="does not exist in drop-frame") as error:
                timecode_to_frames(first + f"{frame:02d}", rate)
            assert f"fix: use {first}{dropped:02d}" in str(error.value)


def test_the_dropped_label_error_names_the_problem_and_the_fix() -> None:
    with pytest.raises(ValueError) as error:
        timecode_to_frames("00:01:00;00", FrameRate.parse("29.97df"))
    assert str(error.value) == (
        "'00:01:00;00' does not exist in drop-frame (frames 00 and 01 are dropped at each "
        "minute not divisible by 10); fix: use 00:01:00;02")
    with pytest.raises(ValueError, match=r"frames 00 to 03 are dropped.*fix: use 01:07:00;04"):
        timecode_to_frames("01:07:00;03", FrameRate.parse("59.94df"))


@pytest.mark.parametrize(("text", "name", "message"), [
    ("01:00:20:24", "24", "'01:00:20:24': frame 24 is past the last frame 23 at 24 fps; "
                          "fix: frames count 00..23"),
    ("00:00:00:25", "25", "frame 25 is past the last frame 24 at 25 fps"),
    ("00:00:00;30", "29.97df", "frame 30 is past the last frame 29 at 29.97df fps"),
    ("00:00:00:30", "29.97", "frame 30 is past the last frame 29 at 29.97 fps"),
    ("00:00:00:24", "23.976", "frame 24 is past the last frame 23 at 23.976 fps"),
    ("00:00:10;00", "24", "';' marks drop-frame timecode, but the rate is 24; fix: write ':' "
                          "before the frames"),
    ("00:00:10;00", "29.97", "set fps = \"29.97df\" if the film is drop-frame"),
    ("00:00:10.00", "25", "';' marks drop-frame timecode"),
    ("00:60:00:00", "24", "minutes and seconds go up to 59; fix:"),
    ("00:00:60:00", "24", "minutes and seconds go up to 59"),
    ("1:2:3:4", "24", "is not a timecode HH:MM:SS:FF"),
    ("01:00:00", "24", "fix: write e.g. \"01:00:20:12\""),
    ("", "24", "is not a timecode"),
    ("aa:bb:cc:dd", "24", "is not a timecode"),
])
def test_bad_timecodes_are_rejected_with_the_problem_and_fix(text: str, name: str,
                                                             message: str) -> None:
    with pytest.raises(ValueError) as error:
        timecode_to_frames(text, FrameRate.parse(name))
    assert message in str(error.value)


def test_separators() -> None:
    df = FrameRate.parse("29.97df")
    assert timecode_to_frames("00:01:00.02", df) == 1800  # '.' marks drop-frame too
    assert timecode_to_frames("00:01:00:02", df) == 1800  # a df film's labels, however written
    assert timecode_to_frames(" 1:00:00;00 ", df) == 107892
    with pytest.raises(ValueError):
        frames_to_timecode(-1, df)


@pytest.mark.parametrize(("text", "fps", "drop", "nominal", "label"), [
    ("23.976", Fraction(24000, 1001), False, 24, "23.976"),
    ("24", Fraction(24), False, 24, "24"), (24, Fraction(24), False, 24, "24"),
    (24.0, Fraction(24), False, 24, "24"), ("25", Fraction(25), False, 25, "25"),
    ("29.97", Fraction(30000, 1001), False, 30, "29.97"),
    (29.97, Fraction(30000, 1001), False, 30, "29.97"),
    ("29.97df", Fraction(30000, 1001), True, 30, "29.97df"),
    ("29.97DF", Fraction(30000, 1001), True, 30, "29.97df"),
    ("30", Fraction(30), False, 30, "30"), ("50", Fraction(50), False, 50, "50"),
    ("59.94", Fraction(60000, 1001), False, 60, "59.94"),
    ("59.94df", Fraction(60000, 1001), True, 60, "59.94df"),
    ("60", Fraction(60), False, 60, "60"),
    ("24000/1001", Fraction(24000, 1001), False, 24, "23.976"),
    ("30000/1001", Fraction(30000, 1001), False, 30, "29.97"),
    ("48000/1001", Fraction(48000, 1001), False, 48, "48000/1001"),
])
def test_frame_rates_parse_exactly(text: str | int | float, fps: Fraction, drop: bool,
                                   nominal: int, label: str) -> None:
    rate = FrameRate.parse(text)
    assert (rate.fps, rate.drop_frame, rate.nominal, str(rate)) == (fps, drop, nominal, label)
    assert rate.frame_seconds == 1 / fps
    assert FrameRate.parse(str(rate)) == rate


@pytest.mark.parametrize("text", ["24df", "25df", "30df", "29.976", "29", "0/1", "24/0",
                                  "-24/1", "fast", "", 0, 29.971])
def test_bad_frame_rates_list_the_accepted_ones(text: str | int | float) -> None:
    with pytest.raises(ValueError, match=r'not one of "23.976".*"29.97df".*"24000/1001"'):
        FrameRate.parse(text)


def test_drop_frame_exists_only_at_29_97_and_59_94() -> None:
    with pytest.raises(ValueError, match=r"only at 29\.97 and 59\.94"):
        FrameRate(Fraction(24), True)
    with pytest.raises(ValueError, match="not > 0"):
        FrameRate(Fraction(0))


def test_the_clock_counts_film_time_from_start() -> None:
    rate = FrameRate.parse("24")
    clock = FilmClock(rate, timecode_to_frames("01:00:00:00", rate))
    assert clock.seconds("01:00:20:12") == 20.5
    assert clock.seconds("01:00:00:00") == 0.0
    assert clock.seconds(3.25) == 3.25 and clock.seconds(7) == 7.0  # seconds pass through
    assert clock.frame(20.5) == 492
    assert clock.frame(20.5 - 1e-12) == 492  # float noise is no earlier frame
    assert clock.frame(20.54) == 492 and clock.frame(20.55) == 493  # the frame showing
    assert clock.timecode(20.5) == "01:00:20:12"
    assert clock.timecode(0.0) == "01:00:00:00"
    assert clock.sample("01:00:20:12", 48000) == 984000
    assert clock.sample(0.5, 48000) == 24000
    for bad in ("00:59:59:23", "00:00:00:00"):
        with pytest.raises(ValueError, match="is before the sheet's start 01:00:00:00; fix:"):
            clock.seconds(bad)
        with pytest.raises(ValueError, match="before the sheet's start"):
            clock.sample(bad, 48000)


@pytest.mark.parametrize("name", RATES)
def test_the_clock_round_trips_every_frame(name: str) -> None:
    rate = FrameRate.parse(name)
    clock = FilmClock(rate, timecode_to_frames("01:00:00:00", rate))
    for frames in [*range(0, 4000), *range(10 * 3600 * rate.nominal, 10 * 3600 * rate.nominal
                                            + 200)]:
        timecode = frames_to_timecode(clock.start_frames + frames, rate)
        seconds = clock.seconds(timecode)
        assert clock.frame(seconds) == frames, (name, timecode)
        assert clock.timecode(seconds) == timecode
        assert clock.sample(timecode, 44100) == round(frames * rate.frame_seconds * 44100)


def test_samples_of_timecodes_are_exact() -> None:
    rate = FrameRate.parse("29.97df")
    clock = FilmClock(rate)
    # frame 50 at 44.1 kHz is 73573.5 samples exactly: round half to even, not float noise
    assert clock.sample(frames_to_timecode(50, rate), 44100) == 73574
    assert clock.sample(frames_to_timecode(150, rate), 44100) == 220720  # 220720.5
    assert clock.sample("01:00:00;00", 48000) == round(Fraction(107892 * 1001, 30000) * 48000)
    assert clock.seconds("01:00:00;00") == pytest.approx(3599.9964)  # an hour of labels
