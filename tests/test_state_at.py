"""`state_at` answers "what is sounding at sample N" from a command history, without audio.

Expected positions and values are computed here from tempo, meter and the ramp rule.
"""

from __future__ import annotations

import math

from adaptive.commands import parse_command
from adaptive.runtime.state import state_at
from adaptive.score.model import Score

SR = 48000


def _score() -> Score:
    return Score.model_validate({
        "parameters": {"x": {"smoothing": 2.0}},
        "sections": {"a": {"tempo": 97, "bars": 4}, "b": {"tempo": 120, "meter": "3/4",
                                                          "bars": 2}},
        "transitions": [{"when": "bar", "fade_out": 1.0}],
        "stingers": {"hit": {"patch": "hit", "length": 1.5, "when": "beat"}},
        "rests": {"when": "beat", "release": 0.5},
    })


def _history(*cues: tuple[float, dict[str, object]]) -> list[tuple[int, object]]:
    return [(round(at * SR), parse_command(body)) for at, body in cues]


def test_position_section_and_smoothed_parameter() -> None:
    history = _history((1.0, {"cmd": "param", "name": "x", "value": 1.0}),
                       (3.0, {"cmd": "section", "name": "b"}))
    bar_a = SR * 60 / 97 * 4
    ideal = math.ceil(3.0 * SR / bar_a) * bar_a  # a's next bar (fractional)
    switch = math.ceil(ideal)
    # mid-ramp: x moves 0 -> 1 over 2 s from 1.0 s
    during = state_at(_score(), history, round(2.0 * SR), SR)  # type: ignore[arg-type]
    assert during.sounding == ("a",)
    assert during.params["x"] == (2.0 * SR - SR + 1) / (2 * SR)
    assert during.targets["x"] == 1.0
    assert [p.kind for p in during.pending] == []  # the section command is still ahead
    voice = during.voices[0]
    beats = math.floor(2.0 * 97 / 60)  # 3.23 beats in
    assert voice.position == round(2.0 * SR)
    assert (voice.bar, voice.beat) == (beats // 4 + 1, beats % 4 + 1)
    # inside the crossfade both sound; b is the destination
    crossing = state_at(_score(), history, switch + SR // 2, SR)  # type: ignore[arg-type]
    assert set(crossing.sounding) == {"a", "b"} and crossing.section == "b"
    # later only b, at its own position (3/4 at 120: a bar is 1.5 s)
    later = state_at(_score(), history, switch + 2 * SR, SR)  # type: ignore[arg-type]
    assert later.sounding == ("b",)
    b = later.voices[0]
    assert abs(b.position - (switch + 2 * SR - ideal)) < 1e-6 and (b.bar, b.beat) == (2, 2)
    # before the sync point the move is pending, with its sample
    before = state_at(_score(), history, round(3.0 * SR) + 10, SR)  # type: ignore[arg-type]
    kinds = {(p.kind, p.name, p.at) for p in before.pending}
    assert ("section", "b", switch) in kinds


def test_rest_stop_and_overrides_are_distinct_states() -> None:
    history = _history((1.0, {"cmd": "rest"}), (4.0, {"cmd": "resume"}),
                       (6.0, {"cmd": "mute", "layer": "a.x"}), (8.0, {"cmd": "stop"}))
    score = Score.model_validate({**_score().model_dump(by_alias=True), "sections": {
        "a": {"tempo": 97, "bars": 4, "layers": {"x": {"patch": "pad"}}}}})
    resting = state_at(score, history, round(2.0 * SR), SR)  # type: ignore[arg-type]
    assert resting.resting and not resting.stopped
    muted = state_at(score, history, round(7.0 * SR), SR)  # type: ignore[arg-type]
    assert not muted.resting and muted.layer_overrides == {("a", "x"): 0.0}
    stopped = state_at(score, history, round(9.0 * SR), SR)  # type: ignore[arg-type]
    assert stopped.resting and stopped.stopped


def test_a_stinger_is_sounding_for_its_length() -> None:
    history = _history((1.0, {"cmd": "stinger", "name": "hit"}))
    beat = SR * 60 / 97
    start = math.ceil(math.ceil(SR / beat) * beat)
    assert state_at(_score(), history, start + SR, SR).stingers == (  # type: ignore[arg-type]
        ("hit", start),)
    assert state_at(_score(), history, start + 2 * SR, SR).stingers == ()  # type: ignore[arg-type]
