"""The conductor: commands and time in, sample-exact actions out. Pure: no pyo, no clock.

Theory of operation
-------------------
Time is a sample count supplied by the caller (`advance(until)`), never read from a clock,
so offline renders, live playback and tests drive the same logic. Commands are submitted
with the sample at which they take effect. When time reaches a command, the conductor
*plans*: it finds the sync point on the playing section's grid and queues the actions that
realise the move (stop the source with its fade, start a bridge, start the destination).
Queued actions are *released* to the engine once they fall inside the caller's horizon;
until then a newer command may replace the plan (the latest musical decision wins). Once
any action of a plan is released, the plan is committed and later moves start from its
destination.

Section choice by parameters goes through a debounce (`choice.Debounce`): a new pick acts
only after it has held for the score's dwell time.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from adaptive.actions import (
    Action,
    EndRest,
    SetLayerGains,
    SetParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.choice import REST, Debounce, pick
from adaptive.commands import (
    Command,
    GoToSection,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    Play,
    PlayStinger,
    Rest,
    Resume,
    SetParam,
    SetState,
    Stop,
)
from adaptive.commands import (
    SetParams as SetParamsCommand,
)
from adaptive.errors import CommandError
from adaptive.musical_time import Grid, Unit, first_sample
from adaptive.overrides import LayerOverrides
from adaptive.score.model import DestinationStart, Quantize, Score

SLOTS_PER_SECTION = 2
"""Two voices per section let a section cross-fade into itself."""

STINGER_SLOTS = 2
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


@dataclass(frozen=True)
class Carry:
    """What a reloaded score takes over from the playing one."""

    params: dict[str, float]
    section: str | None
    origin: float


@dataclass
class _Plan:
    """Actions of one musical decision, cancellable until the first one is released."""

    actions: list[Action]
    bed_before: Bed | None
    bed_after: Bed | None
    slots_before: dict[tuple[str, int], float]
    committed: bool = False


@dataclass
class _RestPlan:
    actions: list[Action]
    committed: bool = False


@dataclass(order=True)
class _Queued:
    at: int
    order: int
    action: Action = field(compare=False)
    plan: object = field(compare=False)


class Conductor:
    """Turns commands into actions for one score at one sample rate."""

    def __init__(self, score: Score, sample_rate: int, start: int = 0,
                 carry: Carry | None = None, keep_released: bool = True) -> None:
        """`carry` continues another conductor's music (a hot reload): its parameters, and
        its section at the same bar position if this score has a section of that name.
        `keep_released` records every released action in `released` (a render's trace); a
        live server runs for hours and thousands of messages a second, so it does not."""
        self.keep_released = keep_released
        self.score = score
        self.sample_rate = sample_rate
        self.params: dict[str, float] = score.initial_parameters()
        if carry is not None:
            self.params.update({name: score.parameters[name].clamp(value)
                                for name, value in carry.params.items()
                                if name in score.parameters})
        self.now = start
        self.released: list[Action] = []
        self.resting = False
        self.overrides = LayerOverrides(score)
        self.rejected: list[tuple[int, Command, str]] = []
        """Commands that could not apply (unknown names): the caller logs and counts them."""
        self._inputs: list[tuple[int, int, Command]] = []
        self._queue: list[_Queued] = []
        self._order = 0
        self._slot_free_at: dict[tuple[str, int], float] = {}
        self._plan: _Plan | None = None
        self._rest_plan: _RestPlan | None = None
        self._stinger_turn: dict[str, int] = {}
        self._debounce = Debounce(round(score.choice.dwell * sample_rate))
        self._declick = round(DECLICK_SECONDS * sample_rate)
        first = self._initial_section()
        origin = float(start)
        if carry is not None and carry.section in score.sections:
            first, origin = carry.section, carry.origin
        self._debounce.acted = first
        self.bed: Bed | None = None
        self._queue_action(SetParams(start, dict(self.params)), None)
        self._start_bed(first, start, origin)

    # ------------------------------------------------------------------ inputs

    def submit(self, command: Command, at: int) -> None:
        """Queue a command taking effect at sample `at` (clamped to the present)."""
        self._order += 1
        heapq.heappush(self._inputs, (max(at, self.now), self._order, command))

    def advance(self, until: int) -> list[Action]:
        """Process everything due before `until`; return the actions released to the engine.

        Inputs, dwell expiries and releases are taken in time order, so the outcome does not
        depend on how far ahead the caller looks: an action whose time has come is released
        (and its plan committed) before a later command can replace it.
        """
        released: list[Action] = []
        while True:
            next_input = self._inputs[0][0] if self._inputs else math.inf
            due = self._debounce.due()
            next_choice = due if due is not None else math.inf
            next_action = self._queue[0].at if self._queue else math.inf
            when = min(next_input, next_choice, next_action)
            if when >= until:
                break
            if next_action <= min(next_input, next_choice):
                # releasing looks ahead of the audio: it does not move "now", so a command
                # submitted next is not pushed behind what was merely released early
                released.append(self._release(heapq.heappop(self._queue)))
                continue
            self.now = max(self.now, int(when))
            if next_input <= next_choice:
                _, _, command = heapq.heappop(self._inputs)
                try:
                    self._apply(command, self.now)
                except CommandError as error:
                    self.rejected.append((self.now, command, str(error)))
            else:
                self._act_on_choice(self.now)
        if self.keep_released:
            self.released.extend(released)
        return released

    def _release(self, item: _Queued) -> Action:
        self._commit(item.plan)
        if isinstance(item.action, EndRest):
            self.resting = False
        if isinstance(item.action, StartVoice) and not item.action.bridge:
            self._continue_after_play_once()
        return item.action

    # ------------------------------------------------------------ commands

    def _apply(self, command: Command, now: int) -> None:
        if isinstance(command, SetParam):
            self._set_params({command.name: command.value}, now)
        elif isinstance(command, SetParamsCommand):
            self._set_params(command.values, now)
        elif isinstance(command, SetState):
            if command.name not in self.score.states:
                raise CommandError(f"unknown state {command.name!r}")
            self._set_params(self.score.states[command.name], now)
        elif isinstance(command, GoToSection):
            self._require_section(command.name)
            self._transition(command.name, now, command.when)
        elif isinstance(command, PlayStinger):
            self._stinger(command.name, now)
        elif isinstance(command, Rest):
            self._rest(now, command.beats, command.bars)
        elif isinstance(command, Resume):
            if command.section is not None:
                self._require_section(command.section)
            self._resume(now, command.section)
        elif isinstance(command, Stop):
            self._rest(now, None, None, when=Quantize.IMMEDIATE)
        elif isinstance(command, Play):
            self._resume(now, None)
        elif isinstance(command, LayerMute | LayerSolo | LayerGain | LayerAuto):
            before = self.overrides.multipliers()
            self.overrides.apply(command)
            changed = {key: value for key, value in self.overrides.multipliers().items()
                       if before[key] != value}
            if changed:
                self._queue_action(SetLayerGains(now, changed), None)

    def _require_section(self, name: str) -> None:
        if name not in self.score.sections:
            raise CommandError(f"unknown section {name!r}")

    def _set_params(self, values: dict[str, float], now: int) -> None:
        clamped: dict[str, float] = {}
        for name, value in values.items():
            spec = self.score.parameters.get(name)
            if spec is None:
                raise CommandError(f"unknown parameter {name!r}")
            clamped[name] = spec.clamp(value)
        self.params.update(clamped)
        self._queue_action(SetParams(now, clamped), None)
        self._observe_choice(now)

    # -------------------------------------------------------------- choice

    def _initial_section(self) -> str:
        picked = pick(self.score.choice, self.score.sections, self.score.parameters,
                      self.params, None)
        if self.score.score.initial_section is None and picked is not None and picked != REST:
            return picked
        return self.score.initial_section_name()

    def _observe_choice(self, now: int) -> None:
        current = self._debounce.acted
        picked = pick(self.score.choice, self.score.sections, self.score.parameters,
                      self.params, current)
        self._debounce.observe(picked, now)

    def _act_on_choice(self, now: int) -> None:
        before = self._debounce.acted
        target = self._debounce.take(now)
        if target is None:
            return
        if target == REST:
            self._rest(now, None, None)
        elif before == REST or self.resting:
            self._resume(now, target)
        elif self.bed is None or self.bed.section != target:
            self._transition(target, now, None)

    # ---------------------------------------------------------- transitions

    def _grid(self, section: str, origin: float) -> Grid:
        spec = self.score.sections[section]
        return Grid(self.sample_rate, spec.tempo, spec.parsed_meter, origin)

    def _length(self, section: str) -> float:
        spec = self.score.sections[section]
        return self._grid(section, 0.0).samples_per_bar * spec.bars

    def _take_slot(self, section: str, at: int) -> int:
        slots = [(self._slot_free_at.get((section, s), -math.inf), s)
                 for s in range(SLOTS_PER_SECTION)]
        free = [s for free_at, s in slots if free_at <= at]
        slot = free[0] if free else min(slots)[1]
        self._slot_free_at[(section, slot)] = math.inf
        return slot

    def _release_slot(self, section: str, slot: int, free_at: float) -> None:
        self._slot_free_at[(section, slot)] = free_at

    def _start_bed(self, section: str, at: int, origin: float | None = None) -> None:
        origin = float(at) if origin is None else origin
        slot = self._take_slot(section, at)
        grid = self._grid(section, origin)
        actions: list[Action] = [StartVoice(at, section, slot, origin, 0, "linear")]
        bed = self._bed(section, slot, grid, at)
        self.bed = bed
        plan = _Plan(actions, None, bed, {})
        for action in actions:
            self._queue_action(action, plan)
        self._plan = plan

    def carry(self) -> Carry:
        bed = self.bed
        return Carry(dict(self.params), bed.section if bed else None,
                     bed.grid.origin if bed else float(self.now))

    def _bed(self, section: str, slot: int, grid: Grid, start: int) -> Bed:
        spec = self.score.sections[section]
        end = None if spec.loop else first_sample(grid.origin + self._length(section))
        return Bed(section, slot, grid, start, end)

    def _sounding(self, now: int) -> Bed | None:
        """The bed whose grid is heard at `now`: a planned bed that has not started yet
        (after a sync point, a bridge, or a play-once section's end) is not."""
        bed = self.bed
        plan = self._plan
        if bed is not None and bed.start > now and plan is not None and \
                plan.bed_after is bed and plan.bed_before is not None:
            return plan.bed_before
        return bed

    def _cancel_pending_plan(self) -> None:
        plan = self._plan
        if plan is None or plan.committed:
            return
        self._queue = [q for q in self._queue if q.plan is not plan]
        heapq.heapify(self._queue)
        self.bed = plan.bed_before
        self._slot_free_at = dict(plan.slots_before)
        self._plan = None

    def _sync_instant(self, bed: Bed, after: int, unit: Unit) -> float:
        spec = self.score.sections[bed.section]
        if unit == "end" and bed.end is not None:
            return max(float(bed.end), float(after))
        return bed.grid.next_instant(float(max(after, bed.start)), unit, spec.phrase_bars,
                                     spec.bars)

    def _transition(self, destination: str, now: int, when: Quantize | None,
                    start_override: DestinationStart | None = None,
                    fades: bool = True) -> None:
        self._cancel_pending_plan()
        source = self.bed
        slots_before = dict(self._slot_free_at)
        sr = self.sample_rate
        actions: list[Action] = []
        if source is None:
            self._start_bed(destination, now)
            return
        rule = self.score.transition(source.section, destination)
        unit: Unit = (when or rule.when).value
        sync_instant = self._sync_instant(source, now, unit)
        sync = first_sample(sync_instant)
        fade_out = max(round(rule.fade_out * sr) if fades else 0, self._declick)
        actions.append(StopVoice(sync, source.section, source.slot, fade_out, rule.curve.value))
        self._release_slot(source.section, source.slot, sync + fade_out + 1)
        destination_instant = sync_instant
        if rule.bridge is not None:
            bridge_slot = self._take_slot(rule.bridge, sync)
            actions.append(StartVoice(sync, rule.bridge, bridge_slot, sync_instant,
                                      round(rule.fade_in * sr), rule.curve.value, bridge=True))
            destination_instant = sync_instant + self._length(rule.bridge)
            bridge_end = first_sample(destination_instant)
            tail = max(fade_out, round(END_FADE_SECONDS * sr))
            actions.append(StopVoice(bridge_end, rule.bridge, bridge_slot, tail, rule.curve.value))
            self._release_slot(rule.bridge, bridge_slot, bridge_end + tail + 1)
        start_mode = start_override or rule.start
        origin = destination_instant
        if start_mode is DestinationStart.SAME_POSITION and rule.bridge is None:
            bars = (destination_instant - source.grid.origin) / source.grid.samples_per_bar
            bars %= self.score.sections[source.section].bars
            dest_grid = self._grid(destination, 0.0)
            bars %= self.score.sections[destination].bars
            origin = destination_instant - bars * dest_grid.samples_per_bar
        start = first_sample(destination_instant)
        slot = self._take_slot(destination, start)
        fade_in = round(rule.fade_in * sr) if fades and rule.bridge is None else 0
        actions.append(StartVoice(start, destination, slot, origin, fade_in, rule.curve.value))
        bed = self._bed(destination, slot, self._grid(destination, origin), start)
        plan = _Plan(actions, source, bed, slots_before)
        for action in actions:
            self._queue_action(action, plan)
        self.bed = bed
        self._plan = plan

    def _continue_after_play_once(self) -> None:
        """A play-once bed moves on by itself at its end (to `next`, or to silence)."""
        bed = self.bed
        if bed is None or bed.end is None or (self._plan is not None and not self._plan.committed):
            return
        spec = self.score.sections[bed.section]
        if spec.next is not None:
            self._transition(spec.next, bed.end, Quantize.END, DestinationStart.BEGINNING,
                             fades=False)
            return
        fade = round(END_FADE_SECONDS * self.sample_rate)
        stop = StopVoice(bed.end - fade, bed.section, bed.slot, fade, "linear")
        plan = _Plan([stop], bed, None, dict(self._slot_free_at))
        self._queue_action(stop, plan)
        self._release_slot(bed.section, bed.slot, bed.end + 1)
        self.bed = None
        self._plan = plan

    def _commit(self, plan: object) -> None:
        if isinstance(plan, _Plan | _RestPlan):
            plan.committed = True

    # -------------------------------------------------------------- stingers

    def _stinger(self, name: str, now: int) -> None:
        spec = self.score.stingers.get(name)
        if spec is None:
            raise CommandError(f"unknown stinger {name!r}")
        at = now
        sounding = self._sounding(now)
        if sounding is not None:
            at = first_sample(self._sync_instant(sounding, now, spec.when.value))
        turn = self._stinger_turn.get(name, -1) + 1
        self._stinger_turn[name] = turn
        self._queue_action(StartStinger(at, name, turn % STINGER_SLOTS), None)

    # ------------------------------------------------------------------ rests

    def _rest(self, now: int, beats: float | None, bars: float | None,
              when: Quantize | None = None) -> None:
        if self.resting:
            return
        settings = self.score.rests
        unit: Unit = (when or settings.when).value
        sounding = self._sounding(now)
        instant = float(now) if sounding is None else self._sync_instant(sounding, now, unit)
        at = first_sample(instant)
        release = max(round(settings.release * self.sample_rate), self._declick)
        actions: list[Action] = [StartRest(at, release)]
        if (beats or bars) and sounding is not None:
            grid = sounding.grid
            length = (beats or 0.0) * grid.samples_per_beat + (bars or 0.0) * grid.samples_per_bar
            reentry = grid.next_instant(instant + length, settings.reenter)
            actions.append(EndRest(first_sample(reentry), self._reentry_fade()))
        plan = _RestPlan(actions)
        for action in actions:
            self._queue_action(action, plan)
        self._rest_plan = plan
        self.resting = True

    def _resume(self, now: int, section: str | None) -> None:
        plan = self._rest_plan
        if plan is not None and not plan.committed:
            # the rest has not begun: resuming simply cancels it
            self._queue = [q for q in self._queue if q.plan is not plan]
            heapq.heapify(self._queue)
            self._rest_plan = None
            self.resting = False
            if section is not None and (self.bed is None or self.bed.section != section):
                self._transition(section, now, None)
            return
        if not self.resting:
            if section is not None:
                self._transition(section, now, None)
            return
        # drop an automatic re-entry that has not happened yet, then re-enter on a downbeat
        self._queue = [q for q in self._queue if not isinstance(q.action, EndRest)]
        heapq.heapify(self._queue)
        settings = self.score.rests
        if self.bed is None:
            at = now
            if section is not None:
                self._start_bed(section, now)
        else:
            instant = self._sync_instant(self.bed, now, settings.reenter)
            at = first_sample(instant)
            if section is not None and section != self.bed.section:
                self._transition(section, at, Quantize.IMMEDIATE, DestinationStart.BEGINNING,
                                 fades=False)
        self._queue_action(EndRest(at, self._reentry_fade()), self._rest_plan)

    def _reentry_fade(self) -> int:
        return max(round(self.score.rests.fade_in * self.sample_rate), self._declick)

    # ------------------------------------------------------------------ queue

    def _queue_action(self, action: Action, plan: object) -> None:
        self._order += 1
        heapq.heappush(self._queue, _Queued(action.at, self._order, action, plan))
