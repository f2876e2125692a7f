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
