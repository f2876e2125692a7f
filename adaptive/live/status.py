"""The status a client sees (`/status`, MQTT `<prefix>/status`), built from one snapshot.

Pure: `Conductor.state(now)` says what is *sounding* at the next block (the voices heard,
with their bar and beat, parameters as smoothed, overrides, rest or stop) and what is
pending; this module turns it into JSON-ready values. Numbers are Python floats rounded to
what a person or a client can use (parameters to 1e-6, dB to 0.01, seconds to 1 µs), so no
float32 noise such as 0.8999999761581421 leaks out. `STATUS_FIELDS` documents every key once
(the README's table is generated from it and checked by a test).
"""

from __future__ import annotations

import math
from typing import Any

from adaptive.curves import amplitude_to_db, layer_gain
from adaptive.score.model import Score
from adaptive.snapshot import MusicState

STATUS_FIELDS: dict[str, str] = {
    "state": "`playing`, `resting` (until `/resume` or its beats) or `stopped` (`/transport/stop`)",
    "section": "the section heard (the bed), or null",
    "bar": "its bar (1-based, within the section; 0 when nothing plays)",
    "beat": "its beat in the bar (1-based; 0 when nothing plays)",
    "sounding": "every voice heard: section, bar, beat, since (s), fading_at (s or null), bridge",
    "next_section": "the section a pending transition moves to, or null",
    "pending": "what is planned and not heard yet: kind, name, sample, time (s), in (s), why",
    "resting": "true while resting or stopped",
    "stopped": "true after `/transport/stop`",
    "params": "parameter values as heard now (smoothed)",
    "targets": "the values the parameters move toward",
    "layers": "the layers of the section heard",
    "gains_db": "each layer heard (`section.layer`): its gain now in dB from its curves and "
                "overrides (null: silent)",
    "overrides": "performer multipliers that differ from 1 (`section.layer`)",
    "stingers": "stingers sounding: name, since (s)",
    "armed": "the move armed (`/arm`): what, name, and where it would land if `/go` came "
             "now: sample, time (s), in (s); or null",
    "vamp": "while vamping: section, bars, since (s, the first repeat); else null",
    "panic": "true while a `/panic` holds the music (until `/resume` or `/transport/play`)",
    "go_ignored": "GOs ignored by the lockout so far",
    "sample": "the sample the graph computes next",
    "time": "that sample in seconds",
    "counters": "refused, clamped, coalesced and dropped inputs and outputs, by kind",
    "dropped": "events dropped by the output bus and by each subscriber",
    "reloads": "scores reloaded by `--watch`",
    "reload_error": "why the last reload was refused, or null",
    "streams": "streamed stems (`stream_longer_than`): stems, layers playing from disk now, "
               "underruns (a layer faded out because the disk was late), resident MB "
               "(heads and rings)",
    "film": "with a cue sheet (`--timeline`), the chase: state (`stopped`, `waiting`, "
            "`locked`, `freewheel`, or `free` without a player), film_time (s), timecode, "
            "delta_ms (the player's last report against the lock), report_age (s), cue "
            "(label), next_hit (label, in (s), error_ms, method), jumps, losses, relocks, "
            "nudges (varispeed corrections); else null",
}


def _seconds(sample: int, sample_rate: int) -> float:
    return round(sample / sample_rate, 6)


def _value(value: float) -> float:
    return round(float(value), 6)


def _db(amplitude: float) -> float | None:
    db = amplitude_to_db(amplitude)
    return None if math.isinf(db) else round(db, 2)


def music_status(score: Score, state: MusicState, sample_rate: int) -> dict[str, Any]:
    """The musical part of the status at `state.sample`."""
    now = state.sample
    heard = [v for v in state.voices if not v.bridge] or list(state.voices)
    bed = min(heard, key=lambda v: (v.stopping_at is not None, -v.started), default=None)
    params = {name: _value(v) for name, v in state.params.items()}
    values = {**state.targets, **state.params}
    gains: dict[str, float | None] = {}
    for voice in state.voices:
        for name, layer in score.sections[voice.section].layers.items():
            override = state.layer_overrides.get((voice.section, name), 1.0)
            try:
                amplitude = layer_gain(layer.gain, values) * override
            except KeyError:  # a curve over a parameter the snapshot does not carry
                continue
            gains[f"{voice.section}.{name}"] = _db(amplitude)
    playing = "stopped" if state.stopped else "resting" if state.resting else "playing"
    section = bed.section if bed is not None else None
    return {
        "state": playing,
        "section": section,
        "bar": bed.bar if bed is not None else 0,
        "beat": bed.beat if bed is not None else 0,
        "sounding": [{"section": v.section, "bar": v.bar, "beat": v.beat,
                      "since": _seconds(v.started, sample_rate),
                      "fading_at": None if v.stopping_at is None
                      else _seconds(v.stopping_at, sample_rate), "bridge": v.bridge}
                     for v in state.voices],
        "next_section": state.section if state.section != section else None,
        "pending": [{"kind": p.kind, "name": p.name, "sample": p.at,
                     "time": _seconds(p.at, sample_rate),
                     "in": _seconds(p.at - now, sample_rate), "why": p.why}
                    for p in sorted(state.pending, key=lambda p: p.at)
                    if p.kind not in ("params", "layers", "stop_voice")],
        "resting": state.resting,
        "stopped": state.stopped,
        "params": params,
        "targets": {name: _value(v) for name, v in state.targets.items()},
        "layers": [] if section is None else sorted(score.sections[section].layers),
        "gains_db": gains,
        "overrides": {f"{s}.{n}": _value(v) for (s, n), v in state.layer_overrides.items()},
        "stingers": [{"name": name, "since": _seconds(at, sample_rate)}
                     for name, at in state.stingers],
        "armed": None if state.armed is None else {
            "what": state.armed.what, "name": state.armed.name, "sample": state.armed.lands,
            "time": _seconds(state.armed.lands, sample_rate),
            "in": _seconds(state.armed.lands - now, sample_rate)},
        "vamp": None if state.vamp is None else {
            "section": state.vamp.section, "bars": state.vamp.bars,
            "since": _seconds(state.vamp.since, sample_rate)},
        "panic": state.panicked,
        "go_ignored": state.go_ignored,
        "sample": now,
        "time": _seconds(now, sample_rate),
    }


def fields_table() -> str:
    """The README's table of status fields."""
    rows = ["| field | meaning |", "|---|---|"]
    rows += [f"| `{name}` | {doc} |" for name, doc in STATUS_FIELDS.items()]
    return "\n".join(rows)
