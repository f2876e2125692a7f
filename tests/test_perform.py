"""Performer commands in the pure core, without audio: arm state, the GO lockout, the
actions a GO, a vamp and a panic plan, and the status fields they show.

Expected samples are computed here from tempo and meter (120 bpm, 4/4: a bar is 96,000
samples at 48 kHz), independently of the code.
"""

from __future__ import annotations

import pytest

from adaptive.actions import BendVoices, EndRest, StartRest, StartStinger, StartVoice, StopVoice
from adaptive.commands import Arm, parse_command
from adaptive.conductor import Conductor
from adaptive.errors import CommandError
from adaptive.live.status import music_status
from adaptive.perform import Arming, VampSteps
from adaptive.score.model import Score

SR = 48000
BAR = 96000


def score() -> Score:
    return Score.model_validate({
        "parameters": {"tension": {}},
        "states": {"high": {"tension": 0.9}},
        "sections": {"a": {"tempo": 120, "bars": 4}, "b": {"tempo": 120, "bars": 4},
                     "once": {"tempo": 120, "bars": 2, "loop": False}},
        "stingers": {"hit": {"patch": "hit", "length": 1.0, "when": "bar"}},
        "transitions": [{"from": "*", "to": "*", "when": "bar", "fade_out": 0.0}],
        "choice": {"mode": "manual"},
    })


def run(conductor: Conductor, cues: list[tuple[int, dict[str, object]]], until: int
        ) -> list[object]:
    for at, body in cues:
        conductor.submit(parse_command(body), at)
    return list(conductor.advance(until))


# ------------------------------------------------------------------ arm and lockout

def test_arming_holds_one_move_and_the_lockout_counts_in_samples() -> None:
    arming = Arming.seconds(0.5, SR)
    assert arming.lockout == 24000
    with pytest.raises(CommandError, match="nothing armed"):
        arming.go(0)
    arming.arm(Arm(what="section", name="a"))
    arming.arm(Arm(what="section", name="b"))  # a newer arm replaces the older
    fired = arming.go(1000)
    assert fired == Arm(what="section", name="b") and arming.armed is None
    arming.arm(Arm(what="stinger", name="hit"))
    assert arming.go(1000 + 23999) is None and arming.ignored == 1  # within the lockout
    assert arming.armed is not None  # an ignored GO keeps what is armed
    assert arming.go(1000 + 24000) == Arm(what="stinger", name="hit")
    assert arming.disarm() is None


def test_arm_validates_its_names_and_kinds() -> None:
    with pytest.raises(ValueError, match="needs its name"):
        parse_command({"cmd": "arm", "what": "stinger"})
    with pytest.raises(ValueError, match="no name"):
        parse_command({"cmd": "arm", "what": "rest", "name": "x"})
    conductor = Conductor(score(), SR)
    run(conductor, [(0, {"cmd": "arm", "what": "section", "name": "nowhere"})], 10)
    assert "unknown section 'nowhere'" in conductor.rejected[0][2]


def test_go_fires_the_armed_section_on_its_bar_and_a_double_go_fires_once() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(10_000, {"cmd": "arm", "what": "section", "name": "b"}),
                              (30_000, {"cmd": "go"}), (30_000 + 4800, {"cmd": "go"})], 3 * BAR)
    starts = [a for a in actions if isinstance(a, StartVoice) and a.section == "b"]
    assert [s.at for s in starts] == [BAR]
    assert conductor.arming.ignored == 1 and len(conductor.ignored) == 1
    assert not conductor.rejected


def test_arm_then_disarm_does_nothing_and_go_after_it_is_refused() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(10_000, {"cmd": "arm", "what": "section", "name": "b"}),
                              (20_000, {"cmd": "disarm"}), (30_000, {"cmd": "go"})], 3 * BAR)
    assert not [a for a in actions if isinstance(a, StartVoice) and a.section == "b"]
    assert "nothing armed" in conductor.rejected[0][2]


def test_go_when_overrides_and_status_shows_the_landing() -> None:
    conductor = Conductor(score(), SR)
    run(conductor, [(10_000, {"cmd": "arm", "what": "stinger", "name": "hit"})], 20_000)
    status = music_status(conductor.score, conductor.state(20_000), SR)
    assert status["armed"] == {"what": "stinger", "name": "hit", "sample": BAR,
                               "time": 2.0, "in": round((BAR - 20_000) / SR, 6)}
    actions = run(conductor, [(30_000, {"cmd": "go", "when": "beat"})], BAR)
    assert [a.at for a in actions if isinstance(a, StartStinger)] == [2 * BAR // 4]
    assert music_status(conductor.score, conductor.state(40_000), SR)["armed"] is None


# ------------------------------------------------------------------------ vamp

def test_vamp_steps_are_hard_steps_of_the_vamped_length() -> None:
    steps = VampSteps(("a", 0), first=1000.5, length=2.25 * BAR, bars=2)
    assert steps.at(0) == 1001 and steps.at(2) == 1001 + int(4.5 * BAR)
    step = steps.step(1)
    assert (step.start, step.length, step.start_value, step.target) == \
        (steps.at(1), 1, -2.25 * BAR, -4.5 * BAR)


def test_vamp_repeats_until_devamp_leaves_on_the_bar_and_fires_what_is_armed() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(BAR + 100, {"cmd": "vamp"}),
                              (BAR + 200, {"cmd": "arm", "what": "section", "name": "b"}),
                              (4 * BAR + 300, {"cmd": "devamp"})], 7 * BAR)
    steps = [a for a in actions if isinstance(a, BendVoices)]
    assert [s.at for s in steps] == [2 * BAR, 3 * BAR, 4 * BAR]  # repeats of bar 2
    assert [s.ramps[("a", 0)].target for s in steps] == [-BAR, -2 * BAR, -3 * BAR]
    stop = next(a for a in actions if isinstance(a, StopVoice))
    start = next(a for a in actions if isinstance(a, StartVoice) and a.section == "b")
    assert stop.at == start.at == 5 * BAR  # the devamp's bar, with what was armed
    state = conductor.state(4 * BAR + 500)
    assert state.voices[0].bar == 2  # still in the vamped bar
    assert conductor.state(6 * BAR).vamp is None


def test_devamp_on_a_beat_and_a_step_written_ahead_is_undone() -> None:
    conductor = Conductor(score(), SR)
    run(conductor, [(BAR + 100, {"cmd": "vamp"})], 3 * BAR + 1)  # step at 3 BAR released
    actions = run(conductor, [(3 * BAR - 5000, {"cmd": "devamp", "exit": "beat"})], 4 * BAR)
    undo = [a for a in actions if isinstance(a, BendVoices)]
    assert len(undo) == 1 and undo[0].at == 3 * BAR - 5000
    ramp = undo[0].ramps[("a", 0)]
    assert ramp.start_value == ramp.target == -BAR
    assert conductor.state(3 * BAR + 10).voices[0].bar == 3  # played on into bar 3
    bed = conductor.bed
    assert bed is not None and bed.grid.origin == BAR  # the grid counts the bars heard


def test_vamp_refusals() -> None:
    conductor = Conductor(score(), SR)
    run(conductor, [(100, {"cmd": "devamp"}), (200, {"cmd": "vamp", "bars": 5}),
                    (300, {"cmd": "vamp"}), (400, {"cmd": "vamp"})], 1000)
    messages = [m for _, _, m in conductor.rejected]
    assert "not vamping" in messages[0] and "has 4" in messages[1]
    assert "already vamping" in messages[2]


# ----------------------------------------------------------------------- panic

def test_panic_drops_what_is_pending_and_only_resume_ends_it() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [
        (10_000, {"cmd": "section", "name": "b"}),  # pending for the bar
        (11_000, {"cmd": "arm", "what": "section", "name": "b"}),
        (20_000, {"cmd": "panic", "seconds": 1.0}),
        (30_000, {"cmd": "stinger", "name": "hit"}),
        (40_000, {"cmd": "rest", "beats": 1}),
        (50_000, {"cmd": "go"}),
        (60_000, {"cmd": "param", "name": "tension", "value": 1.0}),
    ], 2 * BAR)
    rests = [a for a in actions if isinstance(a, StartRest)]
    assert [(r.at, r.release, r.panic) for r in rests] == [(20_000, SR, True)]
    assert not [a for a in actions if isinstance(a, (EndRest, StartStinger))]
    assert not [a for a in actions if isinstance(a, StartVoice) and a.section == "b"]
    assert conductor.rejected[0][2].startswith("stinger 'hit' during a panic")
    assert "nothing armed" in conductor.rejected[1][2]  # the panic disarmed
    state = conductor.state(2 * BAR - 1)
    assert state.panicked and state.stopped
    actions = run(conductor, [(2 * BAR + 10, {"cmd": "resume"})], 4 * BAR)
    ends = [a for a in actions if isinstance(a, EndRest)]
    assert [(e.at, e.unpanic) for e in ends] == [(3 * BAR, True)]
    assert not conductor.state(3 * BAR).panicked


def test_panic_zero_uses_the_anti_click_fade_and_a_second_panic_changes_nothing() -> None:
    conductor = Conductor(score(), SR)
    actions = run(conductor, [(1000, {"cmd": "panic", "seconds": 0}),
                              (2000, {"cmd": "panic", "seconds": 0})], 10_000)
    assert [(a.at, a.release) for a in actions if isinstance(a, StartRest)] == [(1000, 144)]


def test_panic_during_a_vamp_ends_the_vamp() -> None:
    conductor = Conductor(score(), SR)
    run(conductor, [(BAR + 100, {"cmd": "vamp"}), (2 * BAR + 100, {"cmd": "panic"})], 5 * BAR)
    assert conductor.state(5 * BAR).vamp is None
    assert not [a for a in conductor.released if isinstance(a, BendVoices) and a.at > 2 * BAR]


# ------------------------------------------------------- edges: seek, inputs, sheets

class _Sink:
    def __init__(self) -> None:
        self.actions: list[object] = []

    def apply(self, action: object) -> None:
        self.actions.append(action)


def test_a_panic_holds_across_a_relocation_and_a_halt() -> None:
    from adaptive.runtime.driver import Driver

    sink = _Sink()
    driver = Driver(Conductor(score(), SR), sink, 256, 2)  # type: ignore[arg-type]
    driver.conductor.submit(parse_command({"cmd": "panic", "seconds": 0}), 1000)
    driver.pump(2000)
    driver.seek(score(), [], target=0, at=5000)  # a film's relocation: EndRest, not unpanic
    driver.halt(score(), 8000)
    assert driver.conductor.panicked
    assert not [a for a in sink.actions if isinstance(a, EndRest) and a.unpanic]
    driver.conductor.submit(parse_command({"cmd": "play"}), 9000)
    for now in range(9000, 20000, 256):
        driver.pump(now)
    assert [a for a in sink.actions if isinstance(a, EndRest) and a.unpanic]
    assert not driver.conductor.panicked


def test_osc_mqtt_and_sheets_speak_the_same_performer_commands() -> None:
    from adaptive.commands import Go, Panic, Vamp
    from adaptive.live.protocol import command_from_mqtt, command_from_osc
    from adaptive.timeline import check_timeline, parse_timeline

    assert command_from_osc("/go", []) == command_from_mqtt("cmd", b'{"cmd": "go"}') == Go()
    assert command_from_osc("/panic", [0]) == Panic(seconds=0.0)
    assert command_from_osc("/vamp", [2]) == Vamp(bars=2)
    assert command_from_osc("/arm", ["rest"]) == Arm(what="rest")
    sheet = parse_timeline({"cue": [{"at": 1.0, "cmd": "arm", "what": "section",
                                      "name": "nowhere"}, {"at": 2.0, "cmd": "go"}]}, "sheet")
    problems = check_timeline(sheet, score())
    assert len(problems) == 1 and "unknown section 'nowhere'" in str(problems[0])


def test_the_live_controller_counts_the_lockout_and_a_reload_keeps_a_panic() -> None:
    import tomllib

    from adaptive.live.clock import ManualClock
    from adaptive.live.controller import Controller
    from tests.live.conftest import STEM_SCORE
    from tests.test_bus import BLOCK, RATE, RecordingEngine
    from tests.test_bus import run as play

    clock = ManualClock(RATE, BLOCK)
    loaded = Score.model_validate(tomllib.loads(STEM_SCORE))
    engine: object = RecordingEngine()
    controller = Controller(loaded, engine, RATE, BLOCK, clock=clock,  # type: ignore[arg-type]
                            go_lockout=0.25)
    try:
        controller.tick()
        controller.submit(parse_command({"cmd": "arm", "what": "stinger", "name": "hit"}))
        controller.submit(parse_command({"cmd": "go"}))
        play(controller, clock, 0.2)
        controller.submit(parse_command({"cmd": "arm", "what": "section", "name": "b"}))
        controller.submit(parse_command({"cmd": "go"}))  # 0.2 s later: within 0.25 s
        play(controller, clock, 0.1)
        assert controller.stats.snapshot().get("go_lockout") == 1
        assert controller.status()["go_ignored"] == 1
        assert controller.status()["armed"]["name"] == "b"
        controller.submit(parse_command({"cmd": "panic", "seconds": 0}))
        play(controller, clock, 0.1)
        assert controller.status()["panic"] is True
        fresh = RecordingEngine()
        at = controller.replace(loaded, fresh)  # type: ignore[arg-type]
        play(controller, clock, 2.5)
        held = [a for a in fresh.applied if isinstance(a, StartRest) and a.panic]
        assert [(a.at, a.release) for a in held] == [(at, 1)]
        assert controller.status()["panic"] is True
        controller.submit(parse_command({"cmd": "resume"}))
        play(controller, clock, 2.5)
        assert [a for a in fresh.applied if isinstance(a, EndRest) and a.unpanic]
        assert controller.status()["panic"] is False
    finally:
        controller.bus.close()


def test_a_vamp_holds_the_last_bar_of_a_section_played_once_and_it_ends_later() -> None:
    data = score().model_dump(by_alias=True, exclude_unset=True)
    data["sections"]["once"]["next"] = "a"
    data["score"] = {"initial_section": "once"}
    conductor = Conductor(Score.model_validate(data), SR)
    actions = run(conductor, [(BAR + 100, {"cmd": "vamp"}),  # its last bar, from its end
                              (4 * BAR + 100, {"cmd": "devamp"})], 7 * BAR)
    assert [a.at for a in actions if isinstance(a, BendVoices)] == [2 * BAR, 3 * BAR, 4 * BAR]
    starts = [a for a in actions if isinstance(a, StartVoice) and a.section == "a"]
    assert [s.at for s in starts] == [5 * BAR]  # its end, three bars later: then its next
