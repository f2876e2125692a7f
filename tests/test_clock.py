"""The audio clock's wall mapping before its first update: a report arriving in the first
seconds of a show is placed where it sounds (it was mapped to sample 0: the chase then took
the first play for a loss and a jump)."""

from __future__ import annotations

from adaptive.live.clock import AudioClock

RATE = 48000


class Counter:
    def __init__(self) -> None:
        self.sample = 0.0

    def now(self) -> float:
        return self.sample


def test_before_any_stamp_the_counter_read_now_maps_wall_time() -> None:
    counter = Counter()
    wall = [1000.0]
    clock = AudioClock(RATE, counter, wall=lambda: wall[0])
    counter.sample = 47999.0  # the next block starts at 48000
    assert clock.sample_at(1000.0) == 48000
    assert clock.sample_at(1000.5) == 72000
    assert clock.wall_at(48000) == 1000.0


def test_stamps_map_wall_time_before_the_first_update() -> None:
    counter = Counter()
    clock = AudioClock(RATE, counter, wall=lambda: 0.0)
    for block in range(10):
        late = 0.004 if block == 3 else 0.0  # an odd late wake-up: the median ignores it
        clock.stamp_at(block * 256, 500.0 + block * 256 / RATE + late)
    assert clock.offset is None
    assert clock.sample_at(501.0) == RATE
    clock.update()
    assert clock.offset == 500.0
    assert clock.sample_at(501.0) == RATE


def _stamped(clock: AudioClock, first_block: int, blocks: int, offset: float,
             late: dict[int, float] | None = None) -> None:
    for block in range(first_block, first_block + blocks):
        extra = (late or {}).get(block, 0.0)
        clock.stamp_at(block * 256, offset + block * 256 / RATE + extra)


def test_an_xrun_steps_the_mapping_at_the_next_update() -> None:
    """Periods the graph never computed move every later sample: the next window's stamps
    agree on the new offset and the mapping follows at once, not after 8 windows."""
    clock = AudioClock(RATE, Counter(), wall=lambda: 0.0)
    _stamped(clock, 0, 256, 500.0)
    clock.update()
    assert clock.sample_at(510.0) == 10 * RATE
    lost = 256 / RATE  # one period played by the device, never computed
    _stamped(clock, 1000, 32, 500.0 + lost)
    clock.update()
    assert clock.steps == 1
    assert clock.sample_at(510.0) == 10 * RATE - 256
    assert clock.wall_at(10 * RATE - 256) == 510.0


def test_late_wake_ups_in_a_window_do_not_step_the_mapping() -> None:
    """A burst of late callbacks scatters the stamps: they do not agree, nothing steps."""
    clock = AudioClock(RATE, Counter(), wall=lambda: 0.0)
    _stamped(clock, 0, 256, 500.0)
    clock.update()
    late = {block: 0.003 + 0.0005 * (block % 7) for block in range(1000, 1032, 2)}
    late.update({block: 0.004 for block in range(1001, 1032, 4)})
    _stamped(clock, 1000, 32, 500.0, late)
    clock.update()
    assert clock.steps == 0
    assert clock.sample_at(510.0) == 10 * RATE


def test_a_few_stamps_wait_for_more_before_judging() -> None:
    clock = AudioClock(RATE, Counter(), wall=lambda: 0.0)
    _stamped(clock, 0, 256, 500.0)
    clock.update()
    _stamped(clock, 1000, 8, 500.0 + 256 / RATE)
    clock.update()  # 8 fresh stamps: too few to tell a step from a late burst
    assert clock.steps == 0
    _stamped(clock, 1008, 24, 500.0 + 256 / RATE)
    clock.update()
    assert clock.steps == 1
    assert clock.sample_at(510.0) == 10 * RATE - 256


class NudgedCounter(Counter):
    """A counter nudged by +480 samples over 48,000 from raw sample 96,000."""

    def raw_now(self) -> float:
        return self.sample

    def to_music(self, raw: float) -> float:
        return raw + 480 * min(1.0, max(0.0, (raw - 96_000 + 1) / 48_000))

    def to_raw(self, music: float) -> float:
        low, high = 0.0, music
        for _ in range(60):  # bisection: to_music is increasing
            middle = (low + high) / 2
            low, high = (middle, high) if self.to_music(middle) < music else (low, middle)
        return high


def test_a_nudge_moves_the_music_not_the_wall_mapping() -> None:
    """Stamps map wall time to the raw count: a nudge of the music's count is not a step
    of the device's clock, and timetags and event times follow the nudge at once (a
    mapping of the nudged count lagged each nudge by seconds)."""
    counter = NudgedCounter()
    clock = AudioClock(RATE, counter, wall=lambda: 0.0)
    for block in range(1000):  # 256,000 raw samples, the nudge within them
        clock.stamp_at(block * 256, 500.0 + block * 256 / RATE)
    clock.update()
    assert clock.offset == 500.0 and clock.steps == 0
    assert clock.sample_at(501.0) == RATE  # before the nudge
    assert clock.sample_at(504.0) == 4 * RATE + 480  # after it: the music is ahead
    assert clock.sample_at(502.5) == round(2.5 * RATE + 480 * 0.5)  # halfway
    assert abs(clock.wall_at(4 * RATE + 480) - 504.0) < 1e-6
