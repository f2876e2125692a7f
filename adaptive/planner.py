"""Planning: from a musical decision to the actions that realise it, on the playing grid.

Theory of operation
-------------------
The planner knows the *bed* (the section playing, or planned to play, with its grid) and
turns a decision — go to a section, play a stinger, rest, resume — into actions placed on
the sync points of the grid that is sounding: stop the source with its fade, start a
bridge, start the destination. The actions of one decision form a plan in the
`ActionQueue`; until its first action is released a newer decision replaces it (the bed,
the slots and the queue go back to how they were), after that it is committed and later
moves start from its destination. Pure: samples in, actions out.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from adaptive.actions import Action, EndRest, StartRest, StartStinger, StartVoice, StopVoice
from adaptive.commands import GoToSection, PlayStinger, Rest, Resume, SetState
from adaptive.errors import CommandError
from adaptive.musical_time import Grid, Unit, first_sample
from adaptive.score.model import DestinationStart, Quantize, Score
from adaptive.slots import STINGER_SLOTS, SlotAllocator, SlotKey

END_FADE_SECONDS = 0.005
"""A play-once section is faded over 5 ms at its end, so a stem that ends loud never clicks."""

DECLICK_SECONDS = 0.003
"""Shortest fade-out of sounding audio (a voice cut, a rest, a re-entry): a hard cut of a
loud signal is a click. Starts are not faded: a destination's first sample must sound."""


@dataclass(frozen=True)
class Bed:
    """The section playing (or planned to play) as the bed, with its grid."""

    section: str
    slot: int
    grid: Grid
    start: int
    end: int | None  # first sample after a play-once section; None while looping


@dataclass
class Plan:
    """Actions of one musical decision, cancellable until the first one is released."""

    actions: list[Action]
    bed_before: Bed | None = None
    bed_after: Bed | None = None
    slots_before: dict[SlotKey, float] = field(default_factory=dict)
    committed: bool = False


@dataclass(order=True)
class Queued:
    at: int
    order: int
    action: Action = field(compare=False)
    plan: Plan | None = field(compare=False)


class ActionQueue:
    """Planned actions in time order (ties in the order planned), with their plans."""

    def __init__(self) -> None:
        self._heap: list[Queued] = []
        self._order = 0

    def push(self, action: Action, plan: Plan | None) -> None:
        self._order += 1
        heapq.heappush(self._heap, Queued(action.at, self._order, action, plan))

    def next_at(self) -> float:
        return self._heap[0].at if self._heap else math.inf

    def pop(self) -> Queued:
        return heapq.heappop(self._heap)

    def drop(self, matches: Callable[[Queued], bool]) -> None:
        self._heap = [q for q in self._heap if not matches(q)]
        heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()

    def __iter__(self) -> Iterator[Queued]:
        return iter(sorted(self._heap))


class Planner:
    """Places sections, bridges, stingers and rests on the grid for one score."""

    def __init__(self, score: Score, sample_rate: int, slots: SlotAllocator,
                 queue: ActionQueue) -> None:
        self.score = score
        self.sample_rate = sample_rate
        self.slots = slots
        self.queue = queue
        self.bed: Bed | None = None
        self.resting = False
        self.stopped = False
        self._plan: Plan | None = None
        self._rest_plan: Plan | None = None
        self._stinger_turn: dict[str, int] = {}
        self._declick = round(DECLICK_SECONDS * sample_rate)

    # ----------------------------------------------------------------- grids

    def grid(self, section: str, origin: float) -> Grid:
        spec = self.score.sections[section]
        return Grid(self.sample_rate, spec.tempo, spec.parsed_meter, origin)

    def length(self, section: str) -> float:
        """A section's length in samples (fractional)."""
        spec = self.score.sections[section]
        return self.grid(section, 0.0).samples_per_bar * spec.bars

    def _bed(self, section: str, slot: int, grid: Grid, start: int) -> Bed:
        spec = self.score.sections[section]
        end = None if spec.loop else first_sample(grid.origin + self.length(section))
        return Bed(section, slot, grid, start, end)

    def sounding(self, now: int) -> Bed | None:
        """The bed whose grid is heard at `now`: a planned bed that has not started yet
        (after a sync point, a bridge, or a play-once section's end) is not."""
        bed = self.bed
        plan = self._plan
        if bed is not None and bed.start > now and plan is not None and \
                plan.bed_after is bed and plan.bed_before is not None:
            return plan.bed_before
        return bed

    def _sync_instant(self, bed: Bed, after: int, unit: Unit) -> float:
        spec = self.score.sections[bed.section]
        if unit == "end" and bed.end is not None:
            return max(float(bed.end), float(after))
        return bed.grid.next_instant(float(max(after, bed.start)), unit, spec.phrase_bars,
                                     spec.bars)

    # ---------------------------------------------------------------- plans

    def _queue(self, plan: Plan) -> None:
        for action in plan.actions:
            self.queue.push(action, plan)

    def _cancel_pending_plan(self) -> None:
        plan = self._plan
        if plan is None or plan.committed:
            return
        self.queue.drop(lambda q: q.plan is plan)
        self.bed = plan.bed_before
        self.slots.restore(plan.slots_before)
        self._plan = None

    def cancel_pending(self) -> None:
        """Drop a move that has not begun (a vamp holds the music where it is)."""
        self._cancel_pending_plan()

    def start_bed(self, section: str, at: int, origin: float | None = None,
                  why: str = "") -> None:
        origin = float(at) if origin is None else origin
        slot = self.slots.take(section, at)
        bed = self._bed(section, slot, self.grid(section, origin), at)
        self.bed = bed
        self._plan = Plan([StartVoice(at, section, slot, origin, 0, "linear", why=why)],
                          None, bed)
        self._queue(self._plan)

    def transition(self, destination: str, now: int, when: Quantize | None,
                   start_override: DestinationStart | None = None,
                   fades: bool = True, why: str = "",
                   anchor: tuple[int, float] | None = None) -> None:
        """Go to `destination` by the score's transition rule, on the source's grid.

        `anchor` (bar, ideal instant) is a pickup onto a hit point: the destination's grid
        is placed so that the bar's downbeat falls on the instant, and it enters at the
        source's sync point (or on the instant itself, if the sync point comes later),
        without a bridge."""
        self._cancel_pending_plan()
        source = self.bed
        if source is None:
            self.start_bed(destination, now, why=why)
            return
        slots_before = self.slots.snapshot()
        sr = self.sample_rate
        actions: list[Action] = []
        rule = self.score.transition(source.section, destination)
        unit: Unit = (when or rule.when).value
        sync_instant = self._sync_instant(source, now, unit)
        anchored_origin: float | None = None
        if anchor is not None:
            bar, instant = anchor
            anchored_origin = instant - (bar - 1) * self.grid(destination, 0.0).samples_per_bar
            sync_instant = max(min(sync_instant, instant), float(now), anchored_origin)
        sync = first_sample(sync_instant)
        fade_out = max(round(rule.fade_out * sr) if fades else 0, self._declick)
        actions.append(StopVoice(sync, source.section, source.slot, fade_out, rule.curve.value))
        self.slots.release(source.section, source.slot, sync + fade_out + 1)
        destination_instant = sync_instant
        if rule.bridge is not None and anchor is None:
            bridge_slot = self.slots.take(rule.bridge, sync)
            actions.append(StartVoice(sync, rule.bridge, bridge_slot, sync_instant,
                                      round(rule.fade_in * sr), rule.curve.value, bridge=True,
                                      why=f"bridge to {destination}: {why}"))
            destination_instant = sync_instant + self.length(rule.bridge)
            bridge_end = first_sample(destination_instant)
            tail = max(fade_out, round(END_FADE_SECONDS * sr))
            actions.append(StopVoice(bridge_end, rule.bridge, bridge_slot, tail, rule.curve.value))
            self.slots.release(rule.bridge, bridge_slot, bridge_end + tail + 1)
        origin = destination_instant if anchored_origin is None else anchored_origin
        if (start_override or rule.start) is DestinationStart.SAME_POSITION and \
                rule.bridge is None and anchor is None:
            bars = (destination_instant - source.grid.origin) / source.grid.samples_per_bar
            bars %= self.score.sections[source.section].bars
            bars %= self.score.sections[destination].bars
            origin = destination_instant - bars * self.grid(destination, 0.0).samples_per_bar
        start = first_sample(destination_instant)
        slot = self.slots.take(destination, start)
        fade_in = round(rule.fade_in * sr) if fades and (rule.bridge is None or anchor) else 0
        actions.append(StartVoice(start, destination, slot, origin, fade_in, rule.curve.value,
                                  why=why))
        bed = self._bed(destination, slot, self.grid(destination, origin), start)
        self._plan = Plan(actions, source, bed, slots_before)
        self._queue(self._plan)
        self.bed = bed

    def continue_after_play_once(self) -> None:
        """A play-once bed moves on by itself at its end (to `next`, or to silence)."""
        bed = self.bed
        if bed is None or bed.end is None or (self._plan is not None and not self._plan.committed):
            return
        spec = self.score.sections[bed.section]
        if spec.next is not None:
            self.transition(spec.next, bed.end, Quantize.END, DestinationStart.BEGINNING,
                            fades=False, why=f"{bed.section} ended: its next is {spec.next}")
            return
        fade = round(END_FADE_SECONDS * self.sample_rate)
        self._plan = Plan([StopVoice(bed.end - fade, bed.section, bed.slot, fade, "linear")],
                          bed, None, self.slots.snapshot())
        self._queue(self._plan)
        self.slots.release(bed.section, bed.slot, bed.end + 1)
        self.bed = None

    # -------------------------------------------------------------- stingers

    def stinger(self, name: str, now: int, why: str, when: Quantize | None = None) -> None:
        spec = self.score.stingers.get(name)
        if spec is None:
            raise CommandError(f"unknown stinger {name!r}")
        at = now
        sounding = self.sounding(now)
        if sounding is not None:
            at = first_sample(self._sync_instant(sounding, now, (when or spec.when).value))
        turn = self._stinger_turn.get(name, -1) + 1
        self._stinger_turn[name] = turn
        self.queue.push(StartStinger(at, name, turn % STINGER_SLOTS, why=why), None)

    # ---------------------------------------------------------------- bends

    def bend(self, now: int, instant: float) -> tuple[tuple[str, int], int, float]:
        """Bend the sounding bed's tempo from `now` so that its next downbeat near the ideal
        `instant` falls on it: returns the voice, the bend's length and the position offset
        gained (samples). The bed's grid is the one after the bend from now on, so moves
        planned onto it land on the instant."""
        bed = self.sounding(now)
        if bed is None or bed is not self.bed or bed.start > now:
            raise CommandError("a tempo bend needs a section sounding with nothing pending")
        spec = self.score.sections[bed.section]
        if spec.max_tempo_bend <= 0:
            raise CommandError(f"section {bed.section!r} does not bend (max_tempo_bend = 0)")
        grid = bed.grid
        hit = first_sample(instant)
        length = hit - now
        if length < 1:
            raise CommandError("a tempo bend needs time before its hit")
        position = (now - grid.origin) / grid.samples_per_bar
        arriving = (instant - grid.origin) / grid.samples_per_bar
        downbeat = max(round(arriving), math.floor(position) + 1)
        gained = downbeat * grid.samples_per_bar - (instant - grid.origin)
        if abs(gained / length) > spec.max_tempo_bend + 1e-12:
            raise CommandError(f"meeting the hit needs a bend of {100 * gained / length:+.1f} %"
                               f", over max_tempo_bend {100 * spec.max_tempo_bend:g} % of "
                               f"{bed.section!r}")
        origin = grid.origin - gained
        bent = Grid(grid.sample_rate, grid.tempo, grid.meter, origin)
        end = None if bed.end is None else first_sample(float(bed.end) - gained)
        self.bed = Bed(bed.section, bed.slot, bent, bed.start, end)
        if self._plan is not None and self._plan.bed_after is bed:
            self._plan.bed_after = self.bed
        return (bed.section, bed.slot), length, gained

    # ------------------------------------------------------------------ rests

    def rest(self, now: int, beats: float | None, bars: float | None,
             when: Quantize | None = None, why: str = "", stop: bool = False) -> None:
        if self.resting:
            self.stopped = self.stopped or stop
            return
        settings = self.score.rests
        unit: Unit = (when or settings.when).value
        sounding = self.sounding(now)
        instant = float(now) if sounding is None else self._sync_instant(sounding, now, unit)
        release = max(round(settings.release * self.sample_rate), self._declick)
        actions: list[Action] = [StartRest(first_sample(instant), release, stop=stop, why=why)]
        if (beats or bars) and sounding is not None:
            grid = sounding.grid
            length = (beats or 0.0) * grid.samples_per_beat + (bars or 0.0) * grid.samples_per_bar
            reentry = grid.next_instant(instant + length, settings.reenter)
            what = f"{beats} beats" if beats else f"{bars} bars"
            actions.append(EndRest(first_sample(reentry), self._reentry_fade(),
                                   why=f"the rest's {what} are over"))
        self._rest_plan = Plan(actions)
        self._queue(self._rest_plan)
        self.resting = True
        self.stopped = stop

    def panic(self, now: int, release: int, why: str = "", drop: bool = True) -> None:
        """Everything to silence over `release` samples from `now`, held until a resume:
        a move not begun, a rest not begun, pending re-entries and stingers are dropped
        (unless not `drop`: a reloaded score takes over a panic with its first bed)."""
        if drop:
            self._cancel_pending_plan()
        rest = self._rest_plan
        if rest is not None and not rest.committed:
            self._rest_plan = None
        self.queue.drop(lambda q: isinstance(q.action, (EndRest, StartStinger)) or
                        (q.plan is not None and q.plan is rest))
        self._rest_plan = Plan([StartRest(now, release, stop=True, why=why, panic=True)])
        self._queue(self._rest_plan)
        self.resting = self.stopped = True

    def _reentry(self, now: int, section: str | None, why: str) -> int:
        """Where a resume re-enters (the bed's re-entry point, or now without a bed), with
        `section` started or taken there; an automatic re-entry not sounded yet is dropped."""
        self.queue.drop(lambda q: isinstance(q.action, EndRest))
        if self.bed is None:
            at = now
            if section is not None:
                self.start_bed(section, now, why=why)
        else:
            at = first_sample(self._sync_instant(self.bed, now, self.score.rests.reenter))
            if section is not None and section != self.bed.section:
                self.transition(section, at, Quantize.IMMEDIATE, DestinationStart.BEGINNING,
                                fades=False, why=why)
        return at

    def unpanic(self, now: int, section: str | None, why: str = "") -> None:
        """After a panic: re-enter on the re-entry point (with `section`, if named), opening
        every gate. A panic not sounded yet still sounds: a resume never races it."""
        self.stopped = False
        at = self._reentry(now, section, why)
        self._rest_plan = Plan([EndRest(at, self._reentry_fade(), why=why, unpanic=True)])
        self._queue(self._rest_plan)

    def landing(self, move: GoToSection | PlayStinger | SetState | Rest | Resume, now: int
                ) -> int:
        """The sample where a move (GoToSection, PlayStinger, Rest, Resume; anything else
        is at once) would land if it were planned at `now`: what `/status` shows armed."""
        sounding = self.sounding(now)
        known: dict[type, Mapping[str, object]] = {
            GoToSection: self.score.sections, PlayStinger: self.score.stingers,
            SetState: self.score.states}
        if isinstance(move, GoToSection | PlayStinger | SetState) and \
                move.name not in known[type(move)]:
            return now  # armed before a reload took its name away: GO will say so
        if isinstance(move, GoToSection):
            plan = self._plan
            source = plan.bed_before if plan is not None and not plan.committed else self.bed
            if source is None:
                return now
            rule = self.score.transition(source.section, move.name)
            instant = self._sync_instant(source, now, (move.when or rule.when).value)
            if rule.bridge is not None:
                instant += self.length(rule.bridge)
            return first_sample(instant)
        if isinstance(move, PlayStinger) and sounding is not None:
            spec = self.score.stingers[move.name]
            return first_sample(self._sync_instant(sounding, now, (move.when or spec.when).value))
        if isinstance(move, Rest) and sounding is not None and not self.resting:
            unit: Unit = (move.when or self.score.rests.when).value
            return first_sample(self._sync_instant(sounding, now, unit))
        if isinstance(move, Resume) and self.resting and self.bed is not None:
            return first_sample(self._sync_instant(self.bed, now, self.score.rests.reenter))
        return now

    def shift_bed(self, section: str, slot: int, shift: float) -> None:
        """The bed's grid after a vamp: its position went back by `shift` samples (the
        repeats), so its origin (and a play-once end) come that much later; a play-once
        bed then plans its end again."""
        bed = self.bed
        if bed is None or (bed.section, bed.slot) != (section, slot) or shift == 0:
            return
        grid = bed.grid
        end = None if bed.end is None else first_sample(bed.end + shift)
        self.bed = Bed(section, slot, Grid(grid.sample_rate, grid.tempo, grid.meter,
                                           grid.origin + shift), bed.start, end)
        if end is not None:
            self.continue_after_play_once()

    def resume(self, now: int, section: str | None, why: str = "") -> None:
        plan = self._rest_plan
        self.stopped = False
        if plan is not None and not plan.committed:
            # the rest has not begun: resuming simply cancels it
            self.queue.drop(lambda q: q.plan is plan)
            self._rest_plan = None
            self.resting = False
            if section is not None and (self.bed is None or self.bed.section != section):
                self.transition(section, now, None, why=why)
            return
        if not self.resting:
            if section is not None:
                self.transition(section, now, None, why=why)
            return
        # drop an automatic re-entry that has not happened yet, then re-enter on a downbeat
        at = self._reentry(now, section, why)
        self.queue.push(EndRest(at, self._reentry_fade(), why=why), self._rest_plan)

    def _reentry_fade(self) -> int:
        return max(round(self.score.rests.fade_in * self.sample_rate), self._declick)
