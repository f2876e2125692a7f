"""The show log without audio: its format, its errors, its writer and its replay.

The replay is checked against the real controller (conductor, driver, checks, bus and the
writer's threads) driven by a `ManualClock`, with a recording engine in place of the graph:
the replayed driver must write exactly the actions the live one wrote, on the same samples.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from adaptive.cli import main
from adaptive.commands import (
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
from adaptive.conductor import Conductor
from adaptive.live.clock import ManualClock
from adaptive.live.controller import HORIZON_BLOCKS, Controller
from adaptive.live.show_writer import ShowWriter, show_log_path
from adaptive.runtime.driver import Driver
from adaptive.score.load import load_score
from adaptive.score.model import Quantize
from adaptive.showlog import (
    ReplaySchedule,
    ShowLogError,
    check_show,
    command_line,
    dumps,
    parse_show,
    read_show,
)
from tests.test_bus import RecordingEngine

RATE, BLOCK = 48000, 256
BAR = 2 * RATE  # 120 bpm, 4/4
BLOCKS = 1300  # 6.9 s
SCORE = """
[score]
initial_section = "a"
[parameters.x]
smoothing = 0.2
[states.calm]
x = 0.1
[sections.a]
tempo = 120
bars = 4
[sections.a.layers.low]
stem = "low.wav"
gain = { x = [[0.0, -24.0], [1.0, 0.0]] }
[sections.b]
tempo = 120
bars = 4
[sections.b.layers.tone]
stem = "tone.wav"
[[transitions]]
when = "bar"
fade_out = 0.1
[stingers.hit]
stem = "hit.wav"
when = "beat"
[rests]
when = "beat"
reenter = "bar"
"""


@pytest.fixture
def score_path(tmp_path: Path) -> Path:
    from tests.audio import write_marker, write_sine

    write_sine(tmp_path / "low.wav", 220.0, 9.0, amplitude=0.05)
    write_sine(tmp_path / "tone.wav", 660.0, 9.0, amplitude=0.05)
    write_marker(tmp_path / "hit.wav", 0.5, amplitude=0.5)
    path = tmp_path / "score.toml"
    path.write_text(SCORE)
    return path


# ------------------------------------------------------------------ the replay


Cues = dict[int, list[tuple[Any, int | None]]]
"""block -> what arrives in it (with a timetag in samples, or None: at once)"""

CUES: Cues = {
    40: [(SetParam(name="x", value=1.0), None)],
    200: [(GoToSection(name="b"), None)],
    # b's first release is 8 blocks before bar 2 (sample 96000 = block 375): in block
    # 371 it is released, and the plan committed; "a" then starts from b's destination
    371: [(GoToSection(name="a"), None)],
    500: [(PlayStinger(name="hit"), None), (SetParams(values={"x": 0.3}), 130_000)],
    640: [(Rest(), None)],
    700: [(SetState(name="calm"), None)],
    760: [(Resume(), None), (LayerGain(layer="low", db=-6.0), None)],
    900: [(Transport(time=1.0), None)],  # no sheet: counted, logged, no effect
}


def _live_show(score_path: Path, log_path: Path, cues: Cues = CUES, phase: int = 0,
               late: frozenset[int] = frozenset()) -> list[Any]:
    """A show on the real controller, ticked every 4 blocks (from block `phase`) as the
    live ticker idles, with commands between ticks (after the tick in the blocks `late`):
    the actions it wrote to the 'graph'."""
    loaded = load_score(score_path)
    clock = ManualClock(RATE, BLOCK)
    engine = RecordingEngine()
    control = Controller(loaded.score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    writer = ShowWriter.open(log_path, control, score_path, 1, HORIZON_BLOCKS)
    assert writer is not None
    control.tick()
    for block in range(1, BLOCKS):
        clock.advance(BLOCK)
        if block % 4 == phase and block in late:
            control.tick()
        for command, at in cues.get(block, []):
            assert control.submit(command, at, source="OSC ")
        if block % 4 == phase and block not in late:
            control.tick()
    control.bus.close()  # as the session stops: the bus first, its events into the log
    writer.close()
    return engine.applied


def _replayed(score_path: Path, log_path: Path) -> list[Any]:
    loaded = load_score(score_path)
    show = read_show(log_path)
    check_show(show, loaded.score, score_path, str(log_path), RATE)
    engine = RecordingEngine()
    driver = Driver(Conductor(loaded.score, RATE), engine, show.header.block,
                    show.header.horizon_blocks)
    schedule = ReplaySchedule(show, loaded.score)
    for block in range(BLOCKS):
        schedule.pump(driver, block * BLOCK)
    return engine.applied


def _key(action: Any) -> tuple[int, str]:
    return (action.at, repr(action))


def test_a_replay_writes_what_the_live_controller_wrote(score_path: Path,
                                                        tmp_path: Path) -> None:
    log_path = tmp_path / "show.jsonl"
    live = _live_show(score_path, log_path)
    replayed = _replayed(score_path, log_path)
    assert sorted(map(_key, replayed)) == sorted(map(_key, live))
    starts = [(a.section, a.at) for a in live if type(a).__name__ == "StartVoice"
              and not a.bridge]
    # the committed plan held: b starts on bar 2 though "a" came before it sounded
    assert starts[:2] == [("a", 0), ("b", BAR)], starts
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [line["kind"] for line in lines].count("command") == 10
    assert lines[-1]["kind"] == "end"
    events = {line["event"] for line in lines if line["kind"] == "event"}
    assert {"section", "stinger", "rest", "resume"} <= events


def test_the_performers_commands_are_logged_and_replayed_too(score_path: Path,
                                                             tmp_path: Path) -> None:
    """Commands added to the model after the log was written (arm, go, vamp, panic) need
    nothing of their own: the log and the replay take any command."""
    from adaptive.commands import Arm, Devamp, Go, Panic, Vamp

    cues: Cues = {
        40: [(Arm(what="section", name="b"), None)], 60: [(Go(), None)],
        62: [(Go(), None)],  # a double press: ignored live, and in the replay
        300: [(Vamp(bars=1), None)], 700: [(Devamp(), None)],
        900: [(Panic(seconds=0.5), None)], 1100: [(Resume(), None)],
    }
    log_path = tmp_path / "show.jsonl"
    live = _live_show(score_path, log_path, cues)
    assert sorted(map(_key, _replayed(score_path, log_path))) == sorted(map(_key, live))
    logged = [json.loads(line)["command"]["cmd"] for line in log_path.read_text().splitlines()
              if '"kind":"command"' in line]
    assert logged == ["arm", "go", "go", "vamp", "devamp", "panic", "resume"]
    from adaptive.perform import GO_LOCKOUT_SECONDS

    assert read_show(log_path).header.go_lockout == round(GO_LOCKOUT_SECONDS * RATE)


@pytest.mark.parametrize(("phase", "block", "late", "b_plays"), [
    (0, 368, True, True),  # b released by the tick just before "a": committed
    (1, 369, False, False),  # the last tick was 4 blocks before: not yet, "a" replaces b
])
def test_a_command_near_a_release_replays_as_it_went_live(
        score_path: Path, tmp_path: Path, phase: int, block: int, late: bool,
        b_plays: bool) -> None:
    """b's start (bar 2, sample 96000) is first released by a pump in block 368 (the
    horizon is 8 blocks). Whether "a", arriving then, replaces b's plan depends on the
    ticks live; the replay must do what the show did either way (`until`)."""
    cues: Cues = {200: [(GoToSection(name="b"), None)], block: [(GoToSection(name="a"), None)]}
    log_path = tmp_path / "show.jsonl"
    live = _live_show(score_path, log_path, cues, phase, frozenset({block} if late else ()))
    assert sorted(map(_key, _replayed(score_path, log_path))) == sorted(map(_key, live))
    starts = [(a.section, a.at) for a in live if type(a).__name__ == "StartVoice"
              and not a.bridge]
    assert (("b", BAR) in starts) == b_plays, starts


def test_a_replay_that_ignored_the_release_horizon_would_differ(score_path: Path,
                                                               tmp_path: Path) -> None:
    """Why `until` is logged: submitting every command up front lets "a" replace b's
    committed plan, so the check above is not vacuous."""
    log_path = tmp_path / "show.jsonl"
    live = _live_show(score_path, log_path)
    loaded = load_score(score_path)
    show = read_show(log_path)
    engine = RecordingEngine()
    conductor = Conductor(loaded.score, RATE)
    for at, command in show.commands():
        conductor.submit(command, at)
    driver = Driver(conductor, engine, BLOCK, HORIZON_BLOCKS)
    for block in range(BLOCKS):
        driver.pump(block * BLOCK)
    assert sorted(map(_key, engine.applied)) != sorted(map(_key, live))


# ------------------------------------------------------------------ the format

EVERY_COMMAND = [
    SetParam(name="x", value=0.25), SetParams(values={"x": 0.5}), SetState(name="calm"),
    GoToSection(name="b", when=Quantize.BAR), GoToSection(name="b", bar=2, land_after=1.5),
    PlayStinger(name="hit"), Rest(beats=2.0), Resume(section="a"), Play(), Stop(),
    LayerMute(layer="low"), LayerSolo(layer="a.low", on=False), LayerGain(layer="low", db=-3),
    LayerAuto(layer="low"), TempoBend(land_after=2.0), Transport(time=12.5, state="play"),
]


def _header(**fields: Any) -> str:
    header = {"kind": "show", "version": 1, "adaptive": "0.1.0", "score": "/x/score.toml",
              "sample_rate": RATE, "block": BLOCK, "horizon_blocks": 8, "seed": 3,
              "wall": 1.0, **fields}
    return json.dumps(header) + "\n"


def test_every_command_round_trips_through_the_log() -> None:
    lines = [_header()] + [dumps(command_line("OSC", command, 1000 + i, 900, 2948, 2.0,
                                              None)) + "\n"
                           for i, command in enumerate(EVERY_COMMAND)]
    show = parse_show(lines, "show.jsonl")
    assert [step.command for step in show.steps] == EVERY_COMMAND  # type: ignore[union-attr]
    assert [step.sample for step in show.steps] == [1000 + i for i in range(len(EVERY_COMMAND))]
    assert show.lines == list(range(2, 2 + len(EVERY_COMMAND)))
    assert show.header.seed == 3 and show.end is None


def _bad(lines: list[str]) -> str:
    with pytest.raises(ShowLogError) as error:
        parse_show(lines, "show.jsonl")
    return str(error.value)


def test_bad_lines_are_named_with_the_fix() -> None:
    good = dumps(command_line("OSC", SetParam(name="x", value=1), 10, 0, 2048, 1.0, None))
    cut = _bad([_header(), good + "\n", good[:30]])
    assert cut.startswith("show.jsonl: line 3: not JSON") and "cut short" in cut
    assert "fix: delete the line" in cut
    wrong = json.loads(good) | {"sample": -4}
    assert _bad([_header(), json.dumps(wrong) + "\n"]).startswith(
        "show.jsonl: line 2: sample: Input should be greater than or equal to 0")
    field = json.loads(good)
    field["command"]["value"] = "loud"
    message = _bad([_header(), json.dumps(field) + "\n"])
    assert "line 2: command.value:" in message and "fix:" in message
    assert "first line must be the show's header" in _bad([good + "\n"])
    assert "empty" in _bad([])


def test_commands_from_a_later_version_are_refused_clearly() -> None:
    future = json.loads(dumps(command_line("OSC", Play(), 10, 0, 2048, 1.0, None)))
    future["command"] = {"cmd": "teleport", "to": 3}
    message = _bad([_header(adaptive="9.0"), json.dumps(future) + "\n"])
    assert message.startswith("show.jsonl: line 2: command: 'teleport' is a command this "
                              "adaptive")
    assert "fix: replay with the adaptive that played the show" in message
    assert "line 1: version: show log format 2 (written by adaptive 9.0)" in \
        _bad([_header(version=2, adaptive="9.0")])
    kind = _bad([_header(), json.dumps({"kind": "marker", "sample": 3}) + "\n"])
    assert "line 2: kind: 'marker' is a kind of entry this adaptive" in kind


# ------------------------------------------------------------------ the command line


def _write_show(path: Path, score_path: Path, *lines: dict[str, Any],
                **header: Any) -> None:
    from adaptive.showlog import score_digest

    text = _header(score=str(score_path), score_sha256=score_digest(score_path), **header)
    path.write_text(text + "".join(dumps(line) + "\n" for line in lines))


def test_the_cli_names_file_line_and_fix_without_a_traceback(
        score_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    show = tmp_path / "show.jsonl"
    out = tmp_path / "out.wav"
    good = command_line("OSC", SetParam(name="x", value=1), 10, 0, 2048, 1.0, None)
    _write_show(show, score_path, good)
    with show.open("a") as file:
        file.write(dumps(good)[:25])  # a kill mid-line
    assert main(["render", str(score_path), "--replay", str(show), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{show}: line 3: not JSON" in err and "fix: delete the line" in err
    assert "Traceback" not in err and not out.exists()

    unknown = command_line("OSC", GoToSection(name="chorus"), 10, 0, 2048, 1.0, None)
    _write_show(show, score_path, good, unknown)
    assert main(["render", str(score_path), "--replay", str(show), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{show}: line 3: command.name: unknown section 'chorus'" in err
    assert "fix: use one of the score's sections: a, b" in err and "Traceback" not in err


def test_another_score_is_refused_unless_asked(score_path: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    show = tmp_path / "show.jsonl"
    out = tmp_path / "out.wav"
    _write_show(show, score_path, {"kind": "end", "sample": RATE // 2, "wall": 2.0})
    score_path.write_text(SCORE.replace("fade_out = 0.1", "fade_out = 0.2"))  # a new mix
    argv = ["render", str(score_path), "--replay", str(show), "-o", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{show}: line 1: score_sha256:" in err and "fix: give the score the show " \
        "played, or add --other-score" in err
    assert main([*argv, "--other-score"]) == 0
    assert "0.5 s of the show" in capsys.readouterr().out and out.exists()
    assert main(["render", str(score_path), "--replay", str(show), "--timeline", "x.toml",
                 "-o", str(out)]) == 2
    assert "fix: give one" in capsys.readouterr().err


# ------------------------------------------------------------------ the writer


def test_where_the_log_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    from adaptive.cli import demo_paths

    score = tmp_path / "cue.toml"
    when = datetime(2026, 12, 3, 9, 30, 5)
    assert show_log_path(None, score, when) == tmp_path / "cue.show-2026-12-03T09-30-05.jsonl"
    assert show_log_path("none", score, when) is None
    assert show_log_path(str(tmp_path), score, when) == \
        tmp_path / "cue.show-2026-12-03T09-30-05.jsonl"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    # the bundled demo's: not inside the installed package
    assert show_log_path(None, demo_paths()[0], when) == \
        tmp_path / "state" / "adaptive" / "score.show-2026-12-03T09-30-05.jsonl"
    taken = tmp_path / "tonight.jsonl"
    taken.write_text(_header())
    assert show_log_path(str(taken), score, when) == tmp_path / "tonight-2.jsonl"


class _StuckFile(io.StringIO):
    """A disk that hangs until released (a network share gone away)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait()
        return super().write(text)

    def close(self) -> None:
        """Kept open: the test reads what was written."""


def test_a_stuck_disk_never_holds_the_control_path(score_path: Path, tmp_path: Path) -> None:
    loaded = load_score(score_path)
    clock = ManualClock(RATE, BLOCK)
    engine = RecordingEngine()
    control = Controller(loaded.score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    stuck = _StuckFile()
    writer = ShowWriter(tmp_path / "show.jsonl", stuck, control)
    control.show_log = writer
    done = threading.Event()

    def perform() -> None:
        for value in range(200):
            clock.advance(BLOCK)
            control.submit(SetParam(name="x", value=value / 200), source="OSC ")
            control.tick()
        done.set()

    thread = threading.Thread(target=perform, daemon=True)
    thread.start()
    assert done.wait(30), "the controller waited for the show log's disk"
    assert stuck.getvalue() == ""  # nothing written yet: the disk still hangs
    stuck.release.set()
    writer.close()
    commands = [json.loads(line) for line in stuck.getvalue().splitlines()
                if '"kind":"command"' in line]
    assert len(commands) == 200
    assert [c["command"]["value"] for c in commands] == [v / 200 for v in range(200)]


@pytest.mark.parametrize("drift", [0.0, 0.003], ids=["steady", "drifting"])
def test_a_film_chase_replays_its_relocations_and_halts(tmp_path: Path, drift: float) -> None:
    """A show following a film: the player's reports are logged, and the seeks and halts
    they made (with the sheet's history, written once) are replayed on their samples.
    Drifting (a player 3,000 ppm fast, with varispeed): its nudges are replayed too."""
    import tomllib

    from adaptive.chase import ChaseSettings
    from adaptive.hits import compile_sheet
    from adaptive.live.film import FilmFollower
    from adaptive.score.model import Score
    from adaptive.timeline import parse_timeline
    from tests.live.conftest import STEM_SCORE
    from tests.test_film_follow import SHEET

    score_file = tmp_path / "score.toml"
    score_file.write_text(STEM_SCORE)
    score = Score.model_validate(tomllib.loads(STEM_SCORE))
    engine = RecordingEngine()
    clock = ManualClock(RATE, BLOCK)
    control = Controller(score, engine, RATE, BLOCK, clock=clock)  # type: ignore[arg-type]
    control.wall = lambda: clock.wall_at(clock.now())
    log_path = tmp_path / "film.jsonl"
    writer = ShowWriter.open(log_path, control, score_file, 1, HORIZON_BLOCKS)
    assert writer is not None
    timeline = parse_timeline(tomllib.loads(SHEET), "sheet.toml")
    sheet = compile_sheet(score, timeline, RATE)
    settings = ChaseSettings(fps=24.0, varispeed=0.01 if drift else 0.0)
    control.attach_film(FilmFollower(timeline, sheet, settings, RATE), None)
    control.tick()
    # (from block, film time reported or None: no reports, state)
    plan = [(0, None, ""), (100, 5.0, "play"), (400, 6.6, "pause"), (600, 12.0, "play"),
            (900, 18.0, "play"), (1500, None, "")]
    frame, blocks = RATE / 24, 1800
    if drift:  # 10 s of play: the nudges' window (4 s) fills, and the drift grows past it
        plan, blocks = [(0, None, ""), (100, 5.0, "play"), (2000, None, "")], 2300
    film: float | None = None
    state, since, next_report = "", 0, 0.0
    for block in range(1, blocks):
        clock.advance(BLOCK)
        for first, time_, what in plan:
            if block == first:
                film, state, since, next_report = time_, what, clock.now(), clock.now()
        if film is not None and clock.now() >= next_report:
            moving = (clock.now() - since) / RATE * (1 + drift) if state == "play" else 0.0
            control.submit(Transport(time=film + moving, state=state))  # type: ignore[arg-type]
            next_report += frame
        control.tick()
    control.bus.close()
    writer.close()

    show = read_show(log_path)
    kinds = [step.kind for step in show.steps]
    if drift:
        assert kinds.count("nudge") >= 1 and kinds.count("seek") >= 1, kinds
    else:
        assert kinds.count("seek") >= 3 and kinds.count("halt") >= 2, kinds
    assert len(show.histories) == 1  # the sheet, once
    replay_engine = RecordingEngine()
    driver = Driver(Conductor(score, RATE), replay_engine, BLOCK, HORIZON_BLOCKS)
    schedule = ReplaySchedule(show, score)
    for block in range(blocks):
        schedule.pump(driver, block * BLOCK)
    assert sorted(map(_key, replay_engine.applied)) == sorted(map(_key, engine.applied))
    stingers = [a for a in engine.applied if type(a).__name__ == "StartStinger"]
    assert drift or stingers, "the hit at 20 s of film was reached"
    if drift:
        nudges = [a for a in engine.applied if type(a).__name__ == "NudgeClock"]
        assert nudges and all(a.samples > 0 for a in nudges), nudges  # the film runs fast
