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
    RampLayers,
    RampParams,
    StartRest,
    StartStinger,
    StartVoice,
    StopVoice,
)
from adaptive.choice import REST, Debounce, explain, pick
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
    SetParams,
    SetState,
    Stop,
    TempoBend,
    Transport,
)
from adaptive.curves import MIN_SMOOTHING
from adaptive.errors import CommandError
from adaptive.overrides import LayerOverrides
from adaptive.planner import ActionQueue, Bed, Planner, Queued
from adaptive.ramps import Ramp
from adaptive.score.model import Quantize, Score
from adaptive.slots import SLOTS_PER_SECTION, STINGER_SLOTS, SlotAllocator, SlotKey
from adaptive.snapshot import MusicState, Pending, SoundingVoice

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
                 silent: bool = False) -> None:
        """`carry` continues another conductor's music (a hot reload): its parameters, and
        its section at the same bar position if this score has a section of that name.
        `keep_released` records every released action in `released` (a render's trace); a
        live server runs for hours and thousands of messages a second, so it does not.
        `reserved`: voice slots still sounding for a conductor this one takes over from.
        `silent`: start stopped, with no section (a film's pause: see `Driver.halt`)."""
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
        self.planner.stinger(command.name, now, why, command.when)

    def _on_rest(self, command: Rest, now: int, why: str) -> None:
        self.planner.rest(now, command.beats, command.bars, command.when, why=why)

    def _on_bend(self, command: TempoBend, now: int, why: str) -> None:
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
        self.planner.resume(now, command.section, why)

    def _on_stop(self, command: Stop, now: int, why: str) -> None:
        self.planner.rest(now, None, None, when=Quantize.IMMEDIATE, why=why, stop=True)

    def _on_play(self, command: Play, now: int, why: str) -> None:
        self.planner.resume(now, None, why)

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
        if target is None:
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
        resting = stopped = False
        stingers: list[tuple[str, int]] = []
        pending: list[Pending] = []
        for action in self._recent:
            if action.at > sample:
                pending.append(_pending(action))
            elif isinstance(action, StartRest):
                resting, stopped = True, action.stop
            elif isinstance(action, EndRest):
                resting = stopped = False
            elif isinstance(action, StartStinger):
                length = self._stinger_length(action.name)
                if sample < action.at + length:
                    stingers.append((action.name, action.at))
        pending.extend(_pending(q.action) for q in self._queue)
        overrides = {key: ramp.value_at(sample) for key, ramp in self.layer_ramps.items()}
        return MusicState(
            sample=sample, voices=tuple(sorted(voices, key=lambda v: v.started)),
            section=self.bed.section if self.bed is not None else None,
            params={name: ramp.value_at(sample) for name, ramp in self.param_ramps.items()},
            targets=dict(self.params), resting=resting, stopped=stopped,
            layer_overrides={k: v for k, v in overrides.items() if v != 1.0},
            stingers=tuple(stingers), pending=tuple(pending))

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
        return actions, reserved

    def enter_at(self, at: int, fade: int, previous: Conductor) -> list[Action]:
        """Make this (replayed) conductor's music sound from `at`, cross-fading from what
        `previous` was playing: its voices restarted at their positions with a fade-in, its
        parameters and overrides ramped from the values heard, its rest state."""
        actions: list[Action] = []
        for run in self._runs.values():
            start, stop = run.start, run.stop
            if start.at >= at or (stop is not None and stop.at < at):
                continue  # not sounding yet (still queued), or fading out already
            voice = (start.section, start.slot)
            bend = self._bends.pop(voice, None)
            offset = bend.value_at(at - 1) if bend is not None else 0.0
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
}
"""The command vocabulary → its handler: one table, checked complete by a test."""
