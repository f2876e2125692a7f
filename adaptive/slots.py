"""Voice slots: which prebuilt instance of a section (or stinger) plays a given entry.

Each section has a few prebuilt voices so it can cross-fade into itself, and so a seek can
cross-fade from what was playing into the same section at another position. A slot is
busy from the moment it is taken until its fade-out is complete; allocation is pure
bookkeeping in samples, planned ahead of the audio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

SLOTS_PER_SECTION = 3
"""Two let a section cross-fade into itself; a third lets a seek cross-fade out of such a
cross-fade into the same section."""

STINGER_SLOTS = 2

SlotKey = tuple[str, int]


class SlotAllocator:
    def __init__(self, slots: int, reserved: Mapping[SlotKey, float] | None = None) -> None:
        """`reserved`: slots another conductor's voices hold until a sample (a seek)."""
        self.slots = slots
        self._free_at: dict[SlotKey, float] = dict(reserved or {})

    def take(self, name: str, at: int) -> int:
        """The first slot free at `at` (else the one free soonest); busy until released."""
        candidates = [(self._free_at.get((name, s), -math.inf), s) for s in range(self.slots)]
        free = [s for free_at, s in candidates if free_at <= at]
        slot = free[0] if free else min(candidates)[1]
        self._free_at[(name, slot)] = math.inf
        return slot

    def release(self, name: str, slot: int, free_at: float) -> None:
        self._free_at[(name, slot)] = free_at

    def snapshot(self) -> dict[SlotKey, float]:
        return dict(self._free_at)

    def restore(self, snapshot: Mapping[SlotKey, float]) -> None:
        self._free_at = dict(snapshot)
