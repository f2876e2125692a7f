"""Hit points: a cue sheet compiled to the command history the conductor plays.

Theory of operation
-------------------
A hit is a moment of the picture (film seconds) the music must land on. Compiling places
commands so that the hit's event sounds on the hit's sample (film seconds x sample rate),
by one of the methods the score allows, and then measures where the event really sounds by
replaying the compiled history through a conductor (pure: no audio):

- **stinger**: the stinger starts on the hit, regardless of the grid;
- **rest**: the silence (the bed's release) begins on the hit;
- **pickup**: the hit's section is anchored so that bar N's downbeat falls on the hit; it
  enters at the source's sync point between that bar's position 0 and the hit (or on the
  hit itself when none comes sooner), with the transition's fades;
- **bend**: the section sounding before the hit (patches only, within its
  `max_tempo_bend`) bends its tempo from a bar line so that a downbeat meets the hit, and
  the hit's section starts on that downbeat, like a film composer fitting a click.

`method = "auto"` takes bend for a section hit when the bed can bend far enough, else a
pickup. Each outcome says the method used, the error in samples and the tempo arriving.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from adaptive.actions import StartRest, StartStinger, StartVoice
from adaptive.commands import Command, GoToSection, PlayStinger, Rest, TempoBend
from adaptive.conductor import Conductor
from adaptive.musical_time import Grid, first_sample
from adaptive.score.model import Quantize, Score
from adaptive.timeline import Hit, Timeline

History = list[tuple[int, Command]]


@dataclass(frozen=True)
class HitOutcome:
    """How one hit is met: the method used and where its event sounds."""

    label: str
    at: float  # the hit's ideal sample (film seconds x sample rate)
    event: int | None  # the sample its event sounds on; None if it never sounds
    method: str  # pickup | bend | stinger | rest
    tempo: float | None  # BPM (quarter notes) of the music arriving at the hit
    note: str = ""  # why this method, or why the hit cannot be met
    bend: float = 0.0  # the tempo bend used (0.03 is 3 % faster)

    @property
    def error(self) -> float | None:
        """Samples the event sounds after (+) or before (-) the hit."""
        return None if self.event is None else self.event - self.at

    def error_ms(self, sample_rate: int) -> float | None:
        error = self.error
        return None if error is None else 1000.0 * error / sample_rate

    @property
    def met(self) -> bool:
        error = self.error
        return error is not None and -1.0 < error < 1.0 + 1e-9


@dataclass(frozen=True)
class CompiledSheet:
    history: History  # (film sample, command), in time order
    hits: list[HitOutcome] = field(default_factory=list)

    def missed(self) -> list[HitOutcome]:
        return [outcome for outcome in self.hits if not outcome.met]


def compile_sheet(score: Score, timeline: Timeline, sample_rate: int) -> CompiledSheet:
    """The sheet's cues and hits as (film sample, command), film sample 0 = film time 0."""
    history: History = sorted(timeline.at_samples(sample_rate), key=lambda item: item[0])
    placed: list[tuple[Hit, str, str, float, int]] = []  # hit, method, note, bend, placed at
    for hit in timeline.hits:
        method, note, commands, bend = _plan(score, history, hit, sample_rate)
        history = sorted([*history, *commands], key=lambda item: item[0])
        placed.append((hit, method, note, bend, commands[0][0] if commands else 0))
    outcomes = _measure(score, history, placed, sample_rate)
    return CompiledSheet(history, outcomes)


# ------------------------------------------------------------------ planning

def _plan(score: Score, history: History, hit: Hit, rate: int
          ) -> tuple[str, str, History, float]:
    instant = hit.at * rate
    if hit.kind == "stinger":
        assert hit.name is not None
        return "stinger", "", [(round(instant), PlayStinger(name=hit.name,
                                                             when=Quantize.IMMEDIATE))], 0.0
    if hit.kind == "rest":
        return "rest", "", [(round(instant), Rest(when=Quantize.IMMEDIATE))], 0.0
    assert hit.name is not None
    if hit.method in ("auto", "bend"):
        bent = _bend(score, history, hit, instant, rate)
        if isinstance(bent, tuple):
            return bent
        if hit.method == "bend":
            return "bend", f"cannot bend: {bent}", [], 0.0
        note = f"pickup, since {bent}"
    else:
        note = "pickup, as the sheet asks"
    return "pickup", note, _pickup(score, hit, instant, rate), 0.0


def _pickup(score: Score, hit: Hit, instant: float, rate: int) -> History:
    assert hit.name is not None
    spec = score.sections[hit.name]
    samples_per_bar = Grid(rate, spec.tempo, spec.parsed_meter).samples_per_bar
    origin = instant - (hit.bar - 1) * samples_per_bar
    at = max(0, min(first_sample(origin), math.floor(instant)))
    return [(at, GoToSection(name=hit.name, bar=hit.bar, land_after=(instant - at) / rate))]


def _bend(score: Score, history: History, hit: Hit, instant: float, rate: int
          ) -> tuple[str, str, History, float] | str:
    """A tempo bend meeting the hit, or why there is none."""
    assert hit.name is not None
    before = _replay(score, [item for item in history if item[0] < instant], math.floor(instant),
                     rate)
    bed = before.planner.sounding(math.floor(instant) - 1)
    if bed is None or before.resting:
        return "no section sounds before the hit"
    spec = score.sections[bed.section]
    if spec.max_tempo_bend <= 0:
        return f"{bed.section!r} does not bend (max_tempo_bend = 0)"
    grid = bed.grid
    bar = grid.samples_per_bar
    arriving = (instant - grid.origin) / bar
    downbeat = round(arriving)
    gained = downbeat * bar - (instant - grid.origin)
    if abs(gained) < 1e-6:
        return "the grid meets the hit already"  # a pickup onto its downbeat is exact
    needed = abs(gained) / spec.max_tempo_bend  # samples of bending at the limit
    start_bar = math.floor((instant - needed - grid.origin) / bar)
    begin = first_sample(grid.origin + start_bar * bar)
    last_cue = max((at for at, _ in history if at < instant), default=0)
    if begin < max(bed.start, last_cue) or downbeat <= start_bar:
        return (f"bending {bed.section!r} by at most {100 * spec.max_tempo_bend:g} % needs "
                f"{needed / rate:.2f} s before the hit, and it has only "
                f"{(instant - max(bed.start, last_cue)) / rate:.2f} s")
    length = first_sample(instant) - begin
    bend = gained / length
    at = math.floor(instant)
    commands: History = [(begin, TempoBend(land_after=(instant - begin) / rate)),
                         (at, GoToSection(name=hit.name, bar=1, land_after=(instant - at) / rate,
                                          when=Quantize.IMMEDIATE))]
    return "bend", f"{bed.section!r} bent {100 * bend:+.2f} % from bar {start_bar + 1}", \
        commands, bend


def _replay(score: Score, history: Sequence[tuple[int, Command]], until: int, rate: int,
            keep: bool = False) -> Conductor:
    conductor = Conductor(score, rate, keep_released=keep)
    for at, command in history:
        conductor.submit(command, at, why="sheet")
    conductor.advance(until)
    return conductor


# ----------------------------------------------------------------- measuring

def _measure(score: Score, history: History, placed: list[tuple[Hit, str, str, float, int]],
             rate: int) -> list[HitOutcome]:
    if not placed:
        return []
    end = max(math.ceil(hit.at * rate) for hit, *_ in placed) + rate
    conductor = _replay(score, history, end, rate, keep=True)
    released = conductor.released
    outcomes = []
    for hit, method, note, bend, placed_at in placed:
        instant = hit.at * rate
        event: int | None = None
        tempo: float | None = None
        if hit.kind == "stinger":
            event = next((a.at for a in released if isinstance(a, StartStinger)
                          and a.name == hit.name and a.at >= placed_at), None)
        elif hit.kind == "rest":
            event = next((a.at for a in released if isinstance(a, StartRest)
                          and a.at >= placed_at), None)
        elif note.startswith("cannot"):
            event = None
        else:
            for action in released:
                if isinstance(action, StartVoice) and action.section == hit.name and \
                        not action.bridge and action.at >= placed_at - 1:
                    grid = conductor.planner.grid(action.section, action.origin)
                    event = first_sample(grid.origin + (hit.bar - 1) * grid.samples_per_bar)
                    break
        arriving = _tempo_arriving(score, conductor, released, math.floor(instant))
        if arriving is not None:
            tempo = arriving * (1.0 + bend)
        outcomes.append(HitOutcome(hit.label, instant, event, method, tempo, note, bend))
    return outcomes


def _tempo_arriving(score: Score, conductor: Conductor, released: Sequence[object],
                    sample: int) -> float | None:
    section = None
    for action in released:
        if isinstance(action, StartVoice) and action.at < sample:
            section = action.section
    return None if section is None else score.sections[section].tempo


# ------------------------------------------------------------------ reporting

def film_click(bpm: float, fps: float) -> str:
    """A tempo as a film click: frames and eighths of a frame per beat ("12-2" at 24 fps
    is 12 2/8 frames, 117.55 BPM)."""
    eighths = round(fps * 60.0 / bpm * 8)
    return f"{eighths // 8}-{eighths % 8}"


def table(sheet: CompiledSheet, timeline: Timeline, sample_rate: int) -> str:
    """The `adaptive hits` table: label, timecode, event, method, error, tempo and click."""
    fps = float(timeline.clock.rate.fps) if timeline.clock is not None else 24.0
    rows = [("hit", "timecode", "event", "method", "error (samples)", "error (ms)", "BPM",
             f"click @{fps:g}")]
    hits = {hit.label: hit for hit in timeline.hits}
    for outcome in sheet.hits:
        hit = hits.get(outcome.label)
        event = "?" if hit is None else (f"section {hit.name} bar {hit.bar}"
                                         if hit.kind == "section" else
                                         f"stinger {hit.name}" if hit.kind == "stinger"
                                         else "rest")
        error = outcome.error
        ms = outcome.error_ms(sample_rate)
        rows.append((outcome.label, timeline.timecode(outcome.at / sample_rate), event,
                     outcome.method,
                     "not met" if error is None else f"{error:+.2f}",
                     "not met" if ms is None else f"{ms:+.3f}",
                     "" if outcome.tempo is None else f"{outcome.tempo:.2f}",
                     "" if outcome.tempo is None else film_click(outcome.tempo, fps)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip() for row in rows]
    notes = [f"  {o.label}: {o.note}" for o in sheet.hits if o.note]
    return "\n".join([*lines, *(["", "notes:", *notes] if notes else [])])
