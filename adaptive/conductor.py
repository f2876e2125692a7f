"""The conductor: commands and time in, sample-exact actions out. Pure: no pyo, no clock.

Theory of operation
-------------------
Time is a sample count supplied by the caller (`advance(until)`), never read from a clock,
so offline renders, live playback, `state_at` and tests drive the same logic. Commands are
submitted with the sample at which they take effect. When time reaches a command, the
conductor *plans*: it finds the sync point on the playing section's grid and queues the
actions that realise the move (stop the source with its fade, start a bridge, start the
destination). Queued actions are *released* to the engine once they fall inside the
caller's horizon; until then a newer command may replace the plan (the latest musical
decision wins). Once any action of a plan is released, the plan is committed and later
moves start from its destination.

Parameters and performer overrides move by `ramps.Ramp`s planned here, so what the graph
computes and what `state` reports are the same numbers. Released actions are remembered
(per voice slot, per rest) so `state(sample)` can say what is sounding at any sample up to
the horizon. Section choice by parameters goes through a debounce (`choice.Debounce`).

The performer's commands (`perform`) ride on the same machinery: a GO hands the armed move
to its handler at the GO's sample (the lockout counted in samples, so a render ignores the
same double press a show would); a vamp is a series of hard steps of a voice's position
offset, planned one repeat ahead as the music reaches each (a step already written when a
devamp comes is replaced by its start value); a panic is a rest on a gate of its own that
only `resume` or `play` opens, after dropping what is pending.

Where a move lands on the grid is the planner's job (`planner`), which voice slot plays it
the allocator's (`slots`); the command vocabulary maps to handlers through one table
(`_HANDLERS`).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adaptive.actions import (
    CONTROL_ACTIONS,
    Action,
    BendVoices,
    EndRest,
    LayerKey,
    NudgeClock,
    RampLayers,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.choice import REST, Debounce, explain, pick
from adaptive.commands import (
    Arm,
    Command,
    Devamp,
    Disarm,
    Go,
    GoToSection,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    Panic,
    Play,
    PlayStinger,
    Rest,
    Resume,
    SetParam,
    SetParams,
    SetState,
    Stop,
    TempoBend,
    Transport,
    Vamp,
)
from adaptive.curves import MIN_SMOOTHING
from adaptive.errors import CommandError
from adaptive.musical_time import Grid, first_sample
from adaptive.overrides import LayerOverrides
from adaptive.perform import GO_LOCKOUT_SECONDS, Arming, VampSteps
from adaptive.planner import DECLICK_SECONDS, ActionQueue, Bed, Plan, Planner, Queued
from adaptive.ramps import Ramp
from adaptive.score.model import Quantize, Score
from adaptive.slots import SLOTS_PER_SECTION, STINGER_SLOTS, SlotAllocator, SlotKey
from adaptive.snapshot import Armed, MusicState, Pending, SoundingVoice, VampState

__all__ = ["SLOTS_PER_SECTION", "STINGER_SLOTS", "Bed", "Carry", "Conductor"]

OVERRIDE_RAMP_SECONDS = 0.02
"""Mutes, solos and override gains ramp over 20 ms: fast, and never a click."""

RECENT_ACTIONS = 256
"""Released events remembered for `state` (rests, stingers, pending starts)."""


@dataclass(frozen=True)
class Carry:
    """What a reloaded score takes over from the playing one."""

    params: dict[str, float]
    section: str | None
    origin: float


@dataclass
class _Run:
    """A voice's latest released start (and stop), for `state`."""

    start: StartVoice
    stop: StopVoice | None = None


Handler = Callable[["Conductor", Any, int, str], None]


class Conductor:
    """Turns commands into actions for one score at one sample rate."""

    def __init__(self, score: Score, sample_rate: int, start: int = 0,
                 carry: Carry | None = None, keep_released: bool = True,
                 reserved: Mapping[SlotKey, float] | None = None,
                 silent: bool = False, go_lockout: float = GO_LOCKOUT_SECONDS) -> None:
        """`carry` continues another conductor's music (a hot reload): its parameters, and
        its section at the same bar position if this score has a section of that name.
        `keep_released` records every released action in `released` (a render's trace); a
        live server runs for hours and thousands of messages a second, so it does not.
        `reserved`: voice slots still sounding for a conductor this one takes over from.
        `silent`: start stopped, with no section (a film's pause: see `Driver.halt`).
        `go_lockout`: seconds after a GO within which another GO is ignored."""
        self.keep_released = keep_released
        self.score = score
        self.sample_rate = sample_rate
        self.params: dict[str, float] = score.initial_parameters()
        """Parameter targets (what the music is moving to)."""
        if carry is not None:
            self.params.update({name: score.parameters[name].clamp(value)
                                for name, value in carry.params.items()
                                if name in score.parameters})
        self.param_ramps: dict[str, Ramp] = {name: Ramp.constant(value)
                                             for name, value in self.params.items()}
        self._ramp_length = {name: round(max(spec.smoothing, MIN_SMOOTHING) * sample_rate)
                             for name, spec in score.parameters.items()}
        self._choosing = score.choice.mode != "manual"  # manual: parameters pick nothing
        self.now = start
        self.released: list[Action] = []
        self.overrides = LayerOverrides(score)
        self.layer_ramps: dict[LayerKey, Ramp] = {}
        self.rejected: list[tuple[int, Command, str]] = []
        """Commands that could not apply (unknown names): the caller logs and counts them."""
        self._inputs: list[tuple[int, int, Command, str]] = []
        self._order = 0
        self._queue = ActionQueue()
        self.planner = Planner(score, sample_rate, SlotAllocator(SLOTS_PER_SECTION, reserved),
                               self._queue)
        self._debounce = Debounce(round(score.choice.dwell * sample_rate))
        self._runs: dict[SlotKey, _Run] = {}
        self._bends: dict[SlotKey, Ramp] = {}
        """Per voice, the position offset of its tempo bends (samples; see `Planner.bend`)."""
        self._recent: deque[Action] = deque(maxlen=RECENT_ACTIONS)
        self.arming = Arming.seconds(go_lockout, sample_rate)
        """What is armed and the GO lockout: the performer's, kept across seeks."""
        self.ignored: list[tuple[int, Command, str]] = []
        """GOs the lockout ignored: the caller counts them (never an error)."""
        self.panicked = False
        """A panic holds the music: only `resume` or `play` ends it."""
        self._vamp: VampSteps | None = None
        self._vamp_plan = Plan([])
        self._vamp_released: BendVoices | None = None
        first = self._initial_section()
        origin = float(start)
        if carry is not None and carry.section in score.sections:
            first, origin = carry.section, carry.origin
        self._debounce.acted = first
        self._queue.push(RampParams(start, dict(self.param_ramps)), None)
        if silent:
            self.planner.resting = self.planner.stopped = True
            self._recent.append(StartRest(start, 1, stop=True, why="halted"))
        else:
            self.planner.start_bed(first, start, origin, "the score's first section")

    @property
    def bed(self) -> Bed | None:
        """The section playing, or planned to play once a pending move sounds."""
        return self.planner.bed

    @property
    def resting(self) -> bool:
        """A rest (or stop) is planned or sounding."""
        return self.planner.resting

    @property
    def stopped(self) -> bool:
        return self.planner.stopped

    # ------------------------------------------------------------------ inputs

    def submit(self, command: Command, at: int, why: str = "") -> None:
        """Queue a command taking effect at sample `at` (clamped to the present). `why`
        names its source for the log ("OSC", "timeline cue 4")."""
        self._order += 1
        heapq.heappush(self._inputs, (max(at, self.now), self._order, command, why))

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
            next_action = self._queue.next_at()
            when = min(next_input, next_choice, next_action)
            if when >= until:
                break
            if next_action <= min(next_input, next_choice):
                # releasing looks ahead of the audio: it does not move "now", so a command
                # submitted next is not pushed behind what was merely released early
                released.append(self._release(self._queue.pop()))
                continue
            self.now = max(self.now, int(when))
            if next_input <= next_choice:
                _, _, command, why = heapq.heappop(self._inputs)
                try:
                    kind = type(command)
                    _HANDLERS[kind](self, command, self.now,
                                    why if kind in _CONTROL_COMMANDS else _describe(command, why))
                except CommandError as error:
                    self.rejected.append((self.now, command, str(error)))
            else:
                self._act_on_choice(self.now)
        if self.keep_released:
            self.released.extend(released)
        return released

    def _release(self, item: Queued) -> Action:
        if item.plan is not None:
            item.plan.committed = True
            if item.plan is self._vamp_plan and isinstance(item.action, BendVoices):
                self._vamp_step_released(item.action)
        action = item.action
        if isinstance(action, CONTROL_ACTIONS):
            return action  # their state is the ramps; floods of them are not remembered
        self._recent.append(action)
        if isinstance(action, StartVoice):
            self._runs[(action.section, action.slot)] = _Run(action)
            self._bends.pop((action.section, action.slot), None)
            if not action.bridge:
                self.planner.continue_after_play_once()
        elif isinstance(action, StopVoice):
            run = self._runs.get((action.section, action.slot))
            if run is not None:
                run.stop = action
            vamp = self._vamp
            if vamp is not None and vamp.key == (action.section, action.slot):
                self._queue.drop(lambda q: q.plan is self._vamp_plan)  # it fades out as it is
                self._vamp = None
        elif isinstance(action, EndRest):
            self.planner.resting = False
        return action

    # ------------------------------------------------------------ commands

    def _on_param(self, command: SetParam, now: int, why: str) -> None:
        self._set_params({command.name: command.value}, now)

    def _on_params(self, command: SetParams, now: int, why: str) -> None:
        self._set_params(command.values, now)

    def _on_state(self, command: SetState, now: int, why: str) -> None:
        if command.name not in self.score.states:
            raise CommandError(f"unknown state {command.name!r}")
        self._set_params(self.score.states[command.name], now)

    def _on_section(self, command: GoToSection, now: int, why: str) -> None:
        self._require_section(command.name)
        anchor = None
        if command.land_after is not None:
            anchor = (command.bar, now + command.land_after * self.sample_rate)
        self.planner.transition(command.name, now, command.when, why=why, anchor=anchor)

    def _on_stinger(self, command: PlayStinger, now: int, why: str) -> None:
        if self.panicked:
            raise CommandError(f"stinger {command.name!r} during a panic; fix: /resume first")
        self.planner.stinger(command.name, now, why, command.when)

    def _on_rest(self, command: Rest, now: int, why: str) -> None:
        self.planner.rest(now, command.beats, command.bars, command.when, why=why)

    def _on_bend(self, command: TempoBend, now: int, why: str) -> None:
        if self._vamp is not None:
            raise CommandError("a tempo bend during a vamp; fix: /devamp first")
        key, length, gained = self.planner.bend(now, now + command.land_after * self.sample_rate)
        held = self._bends.get(key, Ramp.constant(0.0))
        ramp = Ramp(now, length, held.value_at(now - 1), held.value_at(now - 1) + gained)
        self._bends[key] = ramp
        self._queue.push(BendVoices(now, {key: ramp}), None)

    def _on_transport(self, command: Transport, now: int, why: str) -> None:
        """A player's report moves the chase (`chase`), which seeks this conductor; in a
        history it is only a record."""

    def _on_resume(self, command: Resume, now: int, why: str) -> None:
        if command.section is not None:
            self._require_section(command.section)
        self._resume(now, command.section, why)

    def _resume(self, now: int, section: str | None, why: str) -> None:
        if self.panicked:
            self.panicked = False
            self.planner.unpanic(now, section, why)
        else:
            self.planner.resume(now, section, why)

    def _on_stop(self, command: Stop, now: int, why: str) -> None:
        self.planner.rest(now, None, None, when=Quantize.IMMEDIATE, why=why, stop=True)

    def _on_play(self, command: Play, now: int, why: str) -> None:
        self._resume(now, None, why)

    # ------------------------------------------------------- performer commands

    def _on_arm(self, command: Arm, now: int, why: str) -> None:
        kinds: dict[str, Mapping[str, object]] = {
            "section": self.score.sections, "stinger": self.score.stingers,
            "state": self.score.states, "resume": self.score.sections}
        known = kinds.get(command.what)
        if known is not None and command.name is not None and command.name not in known:
            raise CommandError(f"unknown {'section' if command.what == 'resume' else command.what}"
                               f" {command.name!r}")
        self.arming.arm(command)

    def _on_disarm(self, command: Disarm, now: int, why: str) -> None:
        self.arming.disarm()

    def _on_go(self, command: Go, now: int, why: str) -> None:
        fired = self.arming.go(now)
        if fired is None:
            self.ignored.append((now, command, f"a second GO within the {self.arming.lockout} "
                                 "sample lockout: ignored"))
            return
        self._fire(fired, now, command.when, f"{why} ({_describe(fired, '')})")

    def _fire(self, armed: Arm, now: int, when: Quantize | None, why: str) -> None:
        move = armed.move()
        if when is not None and "when" in type(move).model_fields:
            move = move.model_copy(update={"when": when})
        _HANDLERS[type(move)](self, move, now, why)

    def _on_vamp(self, command: Vamp, now: int, why: str) -> None:
        """From the next bar, the last `bars` bars repeat (a move not begun is dropped: the
        vamp holds the music where it is)."""
        if self.panicked:
            raise CommandError("a vamp during a panic; fix: /resume first")
        if self._vamp is not None:
            raise CommandError("already vamping; fix: /devamp first")
        self.planner.cancel_pending()
        bed = self.planner.sounding(now)
        if bed is None or bed is not self.bed or bed.start > now:
            raise CommandError("a vamp needs a section sounding with nothing pending")
        key = (bed.section, bed.slot)
        held = self._bends.get(key)
        if held is not None and held.end >= now:
            raise CommandError("a vamp during a tempo bend; fix: wait for its hit")
        spec = self.score.sections[bed.section]
        grid = bed.grid
        first = grid.next_instant(float(now), "bar")
        length = command.bars * grid.samples_per_bar
        into = (first - grid.origin) / grid.samples_per_bar  # bars played at the first repeat
        if spec.loop and command.bars > spec.bars:
            raise CommandError(f"vamp of {command.bars} bars: {bed.section!r} has {spec.bars}")
        if not spec.loop and (into < command.bars - 1e-9 or
                              (bed.end is not None and first_sample(first) > bed.end)):
            raise CommandError(f"vamp of {command.bars} bars: {bed.section!r} (played once) "
                               f"has {into:.0f} bars before the next bar line and "
                               f"{spec.bars} in all")
        base = held.value_at(now) if held is not None else 0.0
        self._vamp = VampSteps(key, first, length, command.bars, base)
        self._vamp_plan = Plan([])
        self._vamp_released = None
        self._push_vamp_step()

    def _push_vamp_step(self) -> None:
        vamp = self._vamp
        assert vamp is not None
        step = vamp.step(vamp.next_index)
        vamp.next_index += 1
        self._queue.push(BendVoices(step.start, {vamp.key: step}), self._vamp_plan)

    def _vamp_step_released(self, action: BendVoices) -> None:
        vamp = self._vamp
        if vamp is None:
            return
        self._bends[vamp.key] = action.ramps[vamp.key]
        self._vamp_released = action
        bed = self.bed
        if bed is not None and bed.end is None:  # a play-once bed moves once, on leaving
            self.planner.shift_bed(vamp.key[0], vamp.key[1], vamp.length)
            vamp.shifted += vamp.length
        self._push_vamp_step()  # the next repeat, planned as the music reaches this one

    def _on_devamp(self, command: Devamp, now: int, why: str) -> None:
        vamp = self._vamp
        if vamp is None:
            raise CommandError("/devamp while not vamping")
        section = self.score.sections[vamp.key[0]]
        grid = Grid(self.sample_rate, section.tempo, section.parsed_meter, vamp.first)
        leave = first_sample(grid.next_instant(float(now), command.exit))
        self._leave_vamp(leave, now)
        armed = self.arming.disarm()
        if armed is not None:
            move = armed.move()
            if "when" in type(move).model_fields:
                move = move.model_copy(update={"when": Quantize.IMMEDIATE})
            self.submit(move, leave, f"{why} ({_describe(armed, '')})")

    def _leave_vamp(self, leave: int, now: int) -> None:
        """No repeat from sample `leave` on: the voice plays on from where it is (into the
        bar after the vamped ones when it leaves on a bar line)."""
        vamp = self._vamp
        assert vamp is not None
        self._queue.drop(lambda q: q.plan is self._vamp_plan)
        released = self._vamp_released
        if released is not None and released.at >= leave:
            # written ahead already: replace it with the offset it starts from
            step = released.ramps[vamp.key]
            undo = Ramp(now, 1, step.start_value, step.start_value)
            self._bends[vamp.key] = undo
            self._queue.push(BendVoices(now, {vamp.key: undo}), None)
        held = self._bends.get(vamp.key)
        offset = held.value_at(leave) if held is not None else vamp.base
        self.planner.shift_bed(vamp.key[0], vamp.key[1], vamp.base - offset - vamp.shifted)
        self._vamp = None

    def keep_panic(self, at: int) -> None:
        """Take over the panic of the conductor this one replaces (a reload): the new
        graph's panic gate is shut from `at`, its first sample."""
        self.planner.panic(at, 1, "a panic holds across a reload", drop=False)
        self.panicked = True

    def _on_panic(self, command: Panic, now: int, why: str) -> None:
        """Everything to silence over `seconds` and held: a move or rest not begun, pending
        re-entries, stingers, a vamp and what is armed are dropped. A second panic while
        one holds changes nothing."""
        if self.panicked:
            return
        if self._vamp is not None:
            self._leave_vamp(now, now)
        self.arming.disarm()
        release = max(round(command.seconds * self.sample_rate),
                      round(DECLICK_SECONDS * self.sample_rate), 1)
        self.planner.panic(now, release, why)
        self.panicked = True

    def _on_layer(self, command: LayerMute | LayerSolo | LayerGain | LayerAuto, now: int,
                  why: str) -> None:
        before = self.overrides.multipliers()
        self.overrides.apply(command)
        length = max(1, round(OVERRIDE_RAMP_SECONDS * self.sample_rate))
        ramps: dict[LayerKey, Ramp] = {}
        for key, value in self.overrides.multipliers().items():
            if before[key] != value:
                current = self.layer_ramps.get(key, Ramp.constant(before[key]))
                ramps[key] = current.retarget(now, value, length)
        if ramps:
            self.layer_ramps.update(ramps)
            self._queue.push(RampLayers(now, ramps), None)

    def _require_section(self, name: str) -> None:
        if name not in self.score.sections:
            raise CommandError(f"unknown section {name!r}")

    def _set_params(self, values: Mapping[str, float], now: int) -> None:
        ramps: dict[str, Ramp] = {}
        for name, value in values.items():
            spec = self.score.parameters.get(name)
            if spec is None:
                raise CommandError(f"unknown parameter {name!r}")
            target = spec.clamp(value)
            ramps[name] = self.param_ramps[name].retarget(now, target, self._ramp_length[name])
            self.params[name] = target
        self.param_ramps.update(ramps)
        self._queue.push(RampParams(now, ramps), None)
        if self._choosing:
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
        if target is None or self.panicked:  # parameters never end a panic
            return
        why = explain(self.score.choice, self.score.sections, self.score.parameters,
                      self.params, before, target)
        if target == REST:
            self.planner.rest(now, None, None, why=why)
        elif before == REST or self.resting:
            self.planner.resume(now, target, why)
        elif self.bed is None or self.bed.section != target:
            self.planner.transition(target, now, None, why=why)

    def carry(self) -> Carry:
        bed = self.bed
        return Carry(dict(self.params), bed.section if bed else None,
                     bed.grid.origin if bed else float(self.now))

    # ------------------------------------------------------------------ state

    def state(self, sample: int) -> MusicState:
        """What is sounding at `sample` (at or before the horizon released so far).

        Voices come from the released starts and stops; parameters and overrides from
        their ramps; rests from released rest actions; pending from everything planned
        after `sample`, released early or still queued."""
        voices = []
        for (section, slot), run in self._runs.items():
            start, stop = run.start, run.stop
            if start.at > sample:
                continue
            if stop is not None and stop.at + stop.fade_out <= sample:
                continue
            spec = self.score.sections[section]
            bend = self._bends.get((section, slot))
            origin = start.origin - (bend.value_at(sample) if bend is not None else 0.0)
            grid = self.planner.grid(section, origin)
            position = sample - origin
            if spec.loop:
                position %= self.planner.length(section)
            bar, beat = grid.bar_and_beat(sample, spec.bars)
            voices.append(SoundingVoice(section, slot, origin, start.at, start.bridge,
                                        position, bar, beat,
                                        stop.at if stop is not None else None, start.why))
        resting = stopped = panicked = False
        stingers: list[tuple[str, int]] = []
        pending: list[Pending] = []
        for action in self._recent:
            if action.at > sample:
                pending.append(_pending(action))
            elif isinstance(action, StartRest):
                resting, stopped = True, action.stop
                panicked = panicked or action.panic
            elif isinstance(action, EndRest):
                resting = stopped = False
                panicked = panicked and not action.unpanic
            elif isinstance(action, StartStinger):
                length = self._stinger_length(action.name)
                if sample < action.at + length:
                    stingers.append((action.name, action.at))
        pending.extend(_pending(q.action) for q in self._queue
                       if q.plan is not self._vamp_plan)
        overrides = {key: ramp.value_at(sample) for key, ramp in self.layer_ramps.items()}
        armed = self.arming.armed
        vamp = self._vamp
        return MusicState(
            sample=sample, voices=tuple(sorted(voices, key=lambda v: v.started)),
            section=self.bed.section if self.bed is not None else None,
            params={name: ramp.value_at(sample) for name, ramp in self.param_ramps.items()},
            targets=dict(self.params), resting=resting, stopped=stopped,
            layer_overrides={k: v for k, v in overrides.items() if v != 1.0},
            stingers=tuple(stingers), pending=tuple(pending), panicked=panicked,
            armed=None if armed is None else Armed(
                armed.what, armed.name, self.planner.landing(armed.move(), sample)),
            vamp=None if vamp is None else VampState(vamp.key[0], vamp.bars, vamp.at(0)),
            go_ignored=self.arming.ignored)

    def _stinger_length(self, name: str) -> int:
        spec = self.score.stingers[name]
        return round((spec.length or 0.0) * self.sample_rate) if spec.patch else 0

    # ------------------------------------------------------------------ seek

    def hand_over(self, at: int, fade: int) -> tuple[list[Action], dict[SlotKey, float]]:
        """Stop everything this conductor plays or has scheduled from `at` (a seek): the
        stops, and the slots that stay busy until their fade-out is over."""
        actions: list[Action] = []
        reserved: dict[SlotKey, float] = {}
        for (section, slot), run in self._runs.items():
            stop = run.stop
            if stop is not None and stop.at + stop.fade_out <= at:
                continue
            # a voice written to start after `at` must be stopped after its start, or the
            # graph starts it once the stop has passed, and it never ends
            stop_at = max(at, run.start.at)
            actions.append(StopVoice(stop_at, section, slot, fade, "equal_power"))
            reserved[(section, slot)] = stop_at + fade + 1
        self._queue.clear()
        self._inputs.clear()
        self._vamp = None
        return actions, reserved

    def enter_at(self, at: int, fade: int, previous: Conductor) -> list[Action]:
        """Make this (replayed) conductor's music sound from `at`, cross-fading from what
        `previous` was playing: its voices restarted at their positions with a fade-in, its
        parameters and overrides ramped from the values heard, its rest state."""
        actions: list[Action] = []
        vamp = self._vamp
        if vamp is not None:  # its next repeat is planned again from the restarted voice
            self._queue.drop(lambda q: q.plan is self._vamp_plan)
            vamp.next_index -= 1
        for run in self._runs.values():
            start, stop = run.start, run.stop
            if start.at >= at or (stop is not None and stop.at < at):
                continue  # not sounding yet (still queued), or fading out already
            voice = (start.section, start.slot)
            bend = self._bends.pop(voice, None)
            offset = bend.value_at(at - 1) if bend is not None else 0.0
            if vamp is not None and vamp.key == voice:
                vamp.rebase(offset)
            entry = StartVoice(at, start.section, start.slot, start.origin - offset, fade,
                               "equal_power", start.bridge, why=f"seek: {start.why}")
            run.start = entry
            actions.append(entry)
            if bend is not None and bend.end >= at:
                rest = Ramp(at, bend.end - at + 1, 0.0, bend.target - offset)
                self._bends[voice] = rest
                actions.append(BendVoices(at, {voice: rest}))
            if stop is not None:
                actions.append(stop)  # a restarted voice forgets its planned fade-out
        param_ramps = {}
        for name, ramp in self.param_ramps.items():
            heard = previous.param_ramps.get(name, ramp).value_at(at - 1)
            param_ramps[name] = ramp if ramp.end >= at + fade else \
                Ramp(at, max(fade, 1), heard, ramp.target)
        self.param_ramps.update(param_ramps)
        actions.append(RampParams(at, param_ramps))
        layer_ramps = {}
        for key in set(self.layer_ramps) | set(previous.layer_ramps):
            ramp = self.layer_ramps.get(key, Ramp.constant(1.0))
            heard = previous.layer_ramps.get(key, Ramp.constant(1.0)).value_at(at - 1)
            layer_ramps[key] = ramp if ramp.end >= at + fade else \
                Ramp(at, max(fade, 1), heard, ramp.target)
        if layer_ramps:
            self.layer_ramps.update(layer_ramps)
            actions.append(RampLayers(at, layer_ramps))
        if vamp is not None:
            self._push_vamp_step()
        state = self.state(at - 1)
        if state.resting:
            actions.append(StartRest(at, max(fade, 1), stop=state.stopped, why="seek"))
        else:
            actions.append(EndRest(at, max(fade, 1), why="seek"))
        self.now = max(self.now, at)
        return actions


def _pending(action: Action) -> Pending:
    if isinstance(action, StartVoice):
        return Pending(action.at, "bridge" if action.bridge else "section", action.section,
                       action.why)
    if isinstance(action, StopVoice):
        return Pending(action.at, "stop_voice", action.section)
    if isinstance(action, StartRest):
        return Pending(action.at, "stop" if action.stop else "rest", None, action.why)
    if isinstance(action, EndRest):
        return Pending(action.at, "resume", None, action.why)
    if isinstance(action, StartStinger):
        return Pending(action.at, "stinger", action.name, action.why)
    if isinstance(action, RampParams):
        return Pending(action.at, "params", ",".join(action.ramps))
    if isinstance(action, BendVoices):
        return Pending(action.at, "bend", ",".join(f"{s}.{n}" for s, n in action.ramps))
    if isinstance(action, NudgeClock):
        return Pending(action.at, "nudge", str(action.samples), action.why)
    return Pending(action.at, "layers", ",".join(f"{s}.{n}" for s, n in action.ramps))


def _describe(command: Command, source: str) -> str:
    """A command as the log says why the music moved: 'OSC: section chase'."""
    fields = command.model_dump(exclude={"cmd"}, exclude_defaults=True)
    detail = " ".join(str(value) for value in fields.values())
    text = f"{command.cmd} {detail}".strip()
    return f"{source}: {text}" if source else text


_CONTROL_COMMANDS = frozenset({SetParam, SetParams, SetState, LayerMute, LayerSolo, LayerGain,
                               LayerAuto, Transport})
"""Commands that move values: no reason text is built for them (they arrive in floods)."""

_HANDLERS: dict[type, Handler] = {
    SetParam: Conductor._on_param,
    SetParams: Conductor._on_params,
    SetState: Conductor._on_state,
    GoToSection: Conductor._on_section,
    PlayStinger: Conductor._on_stinger,
    Rest: Conductor._on_rest,
    Resume: Conductor._on_resume,
    Stop: Conductor._on_stop,
    Play: Conductor._on_play,
    LayerMute: Conductor._on_layer,
    LayerSolo: Conductor._on_layer,
    LayerGain: Conductor._on_layer,
    LayerAuto: Conductor._on_layer,
    TempoBend: Conductor._on_bend,
    Transport: Conductor._on_transport,
    Arm: Conductor._on_arm,
    Go: Conductor._on_go,
    Disarm: Conductor._on_disarm,
    Vamp: Conductor._on_vamp,
    Devamp: Conductor._on_devamp,
    Panic: Conductor._on_panic,
}
"""The command vocabulary → its handler: one table, checked complete by a test."""
