"""MIDI controllers without JACK: raw messages → commands by a map, map validation, the
coalescing of fader floods, the reader's path into the core, and the CLI's refusals."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from adaptive.commands import (
    Arm,
    Command,
    Devamp,
    Disarm,
    Go,
    GoToSection,
    LayerGain,
    LayerMute,
    LayerSolo,
    Panic,
    PlayStinger,
    Rest,
    Resume,
    SetParam,
    SetState,
    Vamp,
)
from adaptive.live.controller import InputStats
from adaptive.live.inputs import Timed
from adaptive.live.midi import JackMidiEndpoint, MidiConfig
from adaptive.live.midi_bridge import DROPPED, EVENT, LOG, frame, read_frames
from adaptive.live.midi_map import (
    Malformed,
    MidiMapError,
    MidiMapper,
    MidiMessage,
    load_midi_map,
    parse_message,
    parse_midi_map,
    scaled,
)
from adaptive.score.load import load_score
from adaptive.score.model import Score

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "adaptive" / "demo" / "score.toml"

SCORE = Score.model_validate({
    "parameters": {"tension": {}, "wide": {"min": -2.0, "max": 2.0}},
    "states": {"calm": {"tension": 0.1}},
    "sections": {
        "a": {"tempo": 120, "bars": 4, "layers": {"low": {"stem": "low.wav"},
                                                  "mid": {"stem": "mid.wav"}}},
        "b": {"tempo": 120, "bars": 1, "layers": {"beats": {"stem": "beats.wav"}}}},
    "stingers": {"hit": {"stem": "hit.wav"}},
})

MAP = """
name = "test pad"
[[cc]]
cc = 0
param = "tension"
[[cc]]
cc = 1
param = "wide"
[[cc]]
cc = 2
param = "tension"
range = [1.0, 0.0]
channel = 2
[[cc]]
cc = 7
layer = "low"
db = [-20.0, 0.0]
[[cc]]
cc = 8
layer = "mid"
[[cc]]
cc = 41
cmd = "go"
[[cc]]
cc = 42
cmd = "panic"
seconds = 0.5
[[note]]
note = 36
cmd = "stinger"
name = "hit"
[[note]]
note = 37
cmd = "mute"
layer = "low"
[[note]]
note = 38
cmd = "mute"
layer = "mid"
on = true
[[note]]
note = 39
cmd = "solo"
layer = "a.mid"
[[note]]
note = 40
cmd = "state"
name = "calm"
[[note]]
note = 41
cmd = "section"
name = "b"
when = "bar"
[[note]]
note = 42
cmd = "arm"
what = "section"
name = "b"
[[note]]
note = 43
cmd = "vamp"
bars = 2
[[note]]
note = 44
cmd = "devamp"
exit = "beat"
[[note]]
note = 45
cmd = "rest"
[[note]]
note = 46
cmd = "resume"
[[note]]
note = 47
cmd = "disarm"
"""


def cc(number: int, value: int, channel: int = 1) -> bytes:
    return bytes([0xB0 | (channel - 1), number, value])


def note_on(number: int, velocity: int = 100, channel: int = 1) -> bytes:
    return bytes([0x90 | (channel - 1), number, velocity])


class Counts:
    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.messages: list[str] = []

    def __call__(self, kind: str, message: str, level: int = logging.WARNING) -> None:
        self.kinds.append(kind)
        self.messages.append(message)


def mapper(text: str = MAP) -> MidiMapper:
    return MidiMapper(parse_midi_map(text, Path("pad.toml"), SCORE))


def one(m: MidiMapper, data: bytes) -> Command | None:
    out = m.translate([data], Counts())
    assert len(out) <= 1
    return out[0] if out else None


# ---------------------------------------------------------------- messages


def test_messages_are_read_by_kind_channel_and_number() -> None:
    assert parse_message(cc(7, 100, channel=3)) == MidiMessage("cc", 3, 7, 100)
    assert parse_message(note_on(60, 1, channel=16)) == MidiMessage("note_on", 16, 60, 1)
    assert parse_message(note_on(60, 0)).kind == "note_off"  # velocity 0 is a release
    assert parse_message(bytes([0x80, 60, 64])).kind == "note_off"
    for other in (b"\xc0\x05", b"\xe0\x00\x40", b"\xf8", b"\xfe", b"\xf0\x7e\x01\xf7",
                  b"\xd0\x10", b"\xf2\x00\x00"):
        assert parse_message(other).kind == "other", other


@pytest.mark.parametrize("data", [b"", b"\x07\x40", b"\xb0\x07", b"\xb0\x07\x40\x00",
                                  b"\xb0\x87\x40", b"\x90\x40\xff", b"\xf4", b"\xf0\x01",
                                  b"\xf0\x01\x90\xf7", b"\xc0", b"\xf8\x00"])
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(Malformed):
        parse_message(data)


def test_scaled_values_reach_both_ends_exactly() -> None:
    assert scaled(0, -60.0, 6.0) == -60.0
    assert scaled(127, -60.0, 6.0) == 6.0
    assert scaled(127, 1.0, 0.0) == 0.0  # an inverted fader
    assert scaled(64, 0.0, 127.0) == 64.0


# ---------------------------------------------------------------- mapping


def test_a_fader_sets_its_parameter_over_its_range() -> None:
    m = mapper()
    assert one(m, cc(0, 0)) == SetParam(name="tension", value=0.0)
    assert one(m, cc(0, 127)) == SetParam(name="tension", value=1.0)
    # the parameter's own range by default: wide is -2..2
    assert one(m, cc(1, 0)) == SetParam(name="wide", value=-2.0)
    assert one(m, cc(1, 127)) == SetParam(name="wide", value=2.0)
    # an explicit range, inverted, on channel 2 (channel 1's CC 2 is unmapped)
    assert one(m, cc(2, 127, channel=2)) == SetParam(name="tension", value=0.0)
    assert one(m, cc(2, 127)) is None


def test_a_gain_fader_sets_the_layer_gain_in_db() -> None:
    m = mapper()
    assert one(m, cc(7, 0)) == LayerGain(layer="low", db=-20.0)
    assert one(m, cc(7, 127)) == LayerGain(layer="low", db=0.0)
    low = one(m, cc(8, 0))  # the default range: -60 dB to unity
    high = one(m, cc(8, 127))
    assert isinstance(low, LayerGain) and low.db == -60.0
    assert isinstance(high, LayerGain) and high.db == 0.0


def test_notes_fire_their_commands() -> None:
    m = mapper()
    expected: dict[int, Command] = {
        36: PlayStinger(name="hit"), 38: LayerMute(layer="mid", on=True),
        40: SetState(name="calm"), 41: GoToSection(name="b", when="bar"),  # type: ignore[arg-type]
        42: Arm(what="section", name="b"), 43: Vamp(bars=2), 44: Devamp(exit="beat"),
        45: Rest(), 46: Resume(), 47: Disarm()}
    for number, command in expected.items():
        assert one(m, note_on(number)) == command, number
        assert one(m, bytes([0x80, number, 0])) is None  # the release does nothing


def test_a_cc_button_fires_once_per_press() -> None:
    m = mapper()
    counts = Counts()
    presses = [cc(41, 127), cc(41, 127), cc(41, 100), cc(41, 0), cc(41, 64), cc(41, 63),
               cc(42, 127)]
    assert m.translate(presses, counts) == [Go(), Go(), Panic(seconds=0.5)]
    assert counts.kinds == []


def test_mute_and_solo_without_on_toggle() -> None:
    m = mapper()
    assert one(m, note_on(37)) == LayerMute(layer="low", on=True)
    assert one(m, note_on(37)) == LayerMute(layer="low", on=False)
    assert one(m, note_on(39)) == LayerSolo(layer="a.mid", on=True)
    # with `on` given it sets, every time
    assert one(m, note_on(38)) == one(m, note_on(38)) == LayerMute(layer="mid", on=True)


def test_a_toggle_follows_the_music_when_it_can_read_it() -> None:
    """A mute set elsewhere (OSC, the page) is what the next press toggles from."""
    muted: set[str] = set()
    m = mapper()
    m.muted = muted.__contains__
    muted.add("low")  # muted over OSC
    assert one(m, note_on(37)) == LayerMute(layer="low", on=False)
    m.settle()
    muted.discard("low")
    # two presses in one read: the second toggles the first, which the music has not heard
    assert m.translate([note_on(37), note_on(37)], Counts()) == [
        LayerMute(layer="low", on=True), LayerMute(layer="low", on=False)]


def test_a_fader_flood_keeps_each_faders_latest_value_in_place() -> None:
    m = mapper()
    counts = Counts()
    batch = [cc(0, v) for v in range(0, 100)] + [cc(7, 0), note_on(36), cc(7, 127)] + \
        [cc(0, 127)]
    assert m.translate(batch, counts) == [PlayStinger(name="hit"),
                                          LayerGain(layer="low", db=0.0),
                                          SetParam(name="tension", value=1.0)]
    assert counts.kinds == ["midi_coalesced"]
    assert "101 fader values" in counts.messages[0]  # 100 of tension, 1 of low


def test_bad_and_unmapped_messages_are_counted_never_raised() -> None:
    m = mapper()
    counts = Counts()
    out = m.translate([cc(99, 1), note_on(99), b"\xb0\x00", b"", b"\xf8", cc(0, 127)], counts)
    assert out == [SetParam(name="tension", value=1.0)]
    assert counts.kinds == ["midi_unmapped", "midi_unmapped", "midi_malformed",
                            "midi_malformed", "midi_ignored"]
    assert "CC 99 on channel 1" in counts.messages[0] and "pad.toml" in counts.messages[0]
    rng = random.Random(7)
    for _ in range(2000):  # whatever bytes arrive, the translation returns
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
        for command in m.translate([data], counts):
            assert isinstance(command, SetParam | LayerGain | Go | Panic | PlayStinger
                              | LayerMute | LayerSolo | SetState | GoToSection | Arm | Vamp
                              | Devamp | Rest | Resume | Disarm)


# ---------------------------------------------------------------- map validation


def problems_of(text: str) -> str:
    with pytest.raises(MidiMapError) as caught:
        parse_midi_map(text, Path("my.toml"), SCORE)
    return str(caught.value)


def test_map_errors_name_the_file_the_entry_and_the_fix() -> None:
    message = problems_of("""
[[cc]]
cc = 0
param = "tensoin"
[[cc]]
cc = 1
layer = "lwo"
[[note]]
note = 36
cmd = "stinger"
name = "hti"
[[note]]
note = 37
cmd = "stingr"
[[note]]
note = 38
cmd = "vamp"
bars = 0
[[note]]
note = 39
cmd = "go"
colour = "red"
[[cc]]
cc = 200
param = "tension"
[[cc]]
cc = 3
param = "tension"
layer = "low"
[[cc]]
cc = 4
param = "tension"
range = [0.0, 2.0]
[[note]]
note = 36
cmd = "go"
""")
    assert message.startswith("my.toml: 10 problem(s) in the MIDI map")
    for line in ("cc[0].param: unknown parameter 'tensoin'; fix: did you mean 'tension'?",
                 "cc[1].layer: unknown layer 'lwo'; fix: did you mean 'low'?",
                 "note[0].name: unknown stinger 'hti'; fix: did you mean 'hit'?",
                 "note[1].cmd: unknown command 'stingr'; fix: did you mean 'stinger'",
                 "note[2].bars: Input should be greater than or equal to 1 (got 0)",
                 "note[3].colour: unknown key (got 'red'); fix: remove it; (keys here: "
                 "channel, cmd, note, toggle, when)",
                 "cc[2].cc: Input should be less than or equal to 127 (got 200)",
                 "cc[3]: a [[cc]] drives one thing",
                 "cc[4].range: goes beyond tension's own range [0, 1]",
                 "note[4]: note 36 on channel 1 is already mapped by note[0]"):
        assert line in message, (line, message)


def test_map_file_level_errors() -> None:
    assert "not valid TOML" in problems_of("[[cc]\n")
    assert "maps nothing" in problems_of("name = 'empty'\n")
    assert "faders: unknown key; fix: a map has [[cc]] and [[note]]" in problems_of(
        "[[faders]]\ncc = 1\n")
    assert "note[0]: a [[note]] needs cmd" in problems_of("[[note]]\nnote = 1\n")
    assert "cc[0]: toggle is for a mute or solo button" in problems_of(
        "[[cc]]\ncc = 1\ncmd = 'go'\ntoggle = true\n")


def test_a_missing_map_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MidiMapError, match="cannot read the file"):
        load_midi_map(tmp_path / "nowhere.toml", SCORE)


@pytest.mark.parametrize("name", ["nanokontrol2.toml", "apc_mini.toml"])
def test_the_shipped_maps_fit_the_demo_score(name: str) -> None:
    midi_map = load_midi_map(REPO / "docs" / "midi" / name, load_score(DEMO).score)
    assert midi_map.cc and midi_map.describe()


def test_the_readme_map_fits_the_demo_score() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### MIDI controllers"):]
    block = section[section.index("```toml\n") + 8:]
    midi_map = parse_midi_map(block[:block.index("```")], Path("README.md"),
                              load_score(DEMO).score)
    assert len(midi_map.cc) == 8


def test_the_nanokontrol2_layout() -> None:
    """Faders CC 0-7 on parameters and gains; transport buttons on GO and panic."""
    m = MidiMapper(load_midi_map(REPO / "docs" / "midi" / "nanokontrol2.toml",
                                 load_score(DEMO).score))
    assert one(m, cc(2, 127)) == SetParam(name="tension", value=1.0)
    assert one(m, cc(3, 127)) == LayerGain(layer="pad", db=6.0)
    assert one(m, cc(41, 127)) == Go()
    assert one(m, cc(42, 127)) == Panic(seconds=2.0)


# ---------------------------------------------------------------- the reader's path


class FakeCore:
    def __init__(self) -> None:
        self.stats = InputStats(logging.getLogger("test.midi"))
        self.batches: list[tuple[list[Timed], str, str]] = []

    def admit(self, command: Command, source: str = "") -> Command | None:
        return None if isinstance(command, Disarm) else command  # as if refused

    def submit_batch(self, commands: list[Timed], source: str, counter: str) -> None:
        self.batches.append((commands, source, counter))


def test_the_reader_submits_a_read_together_and_counts_overflow(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text(MAP)
    endpoint = JackMidiEndpoint(MidiConfig(path), SCORE)
    core = FakeCore()
    endpoint._core = core  # type: ignore[assignment]
    # what one read of the bridge's pipe holds: events, a drop count, a log line, and a
    # frame cut short (the rest comes with the next read)
    events = [cc(0, 10), cc(0, 127), note_on(36), note_on(47), cc(5, 1)]
    late = frame(EVENT, cc(5, 2))
    data = bytearray(b"".join(frame(EVENT, e) for e in events)
                     + frame(DROPPED, b"3") + frame(LOG, b"hello") + late[:-1])
    whole = read_frames(data)
    assert len(whole) == 7 and data == late[:-1]  # the cut frame waits for its last byte
    endpoint.handle(whole)
    data += late[-1:]
    assert read_frames(data) == [(EVENT, cc(5, 2))] and not data
    (commands, source, counter), = core.batches
    assert commands == [(SetParam(name="tension", value=1.0), None),
                        (PlayStinger(name="hit"), None)]
    assert (source, counter) == ("MIDI ", "midi_coalesced")
    assert core.stats.snapshot() == {"midi_overflow": 3, "midi_coalesced": 1,
                                     "midi_unmapped": 1}
    endpoint.stop()


# ---------------------------------------------------------------- the command line


def adaptive(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "adaptive.cli", *args], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={"PYO_GUI_WX": "0", "PATH": "/usr/bin:/bin"})


def test_midi_without_jack_is_one_line() -> None:
    result = adaptive("serve", "--audio", "none", "--midi", "--midi-map", "x.toml")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "adaptive: error: --midi reads JACK MIDI, and ALSA MIDI is not supported yet; fix: "
        "run with --audio jack (an ALSA controller reaches JACK through a2jmidid)")
    assert adaptive("serve", "--audio", "jack", "--midi").returncode == 2


def test_a_bad_map_stops_serve_and_validate_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[cc]]\ncc = 0\nparam = 'tensoin'\n")
    for args in (("validate", str(DEMO), "--midi-map", str(bad)),
                 ("serve", str(DEMO), "--audio", "jack", "--jack-server", "nowhere-at-all",
                  "--midi-map", str(bad), "--show-log", "none")):
        result = adaptive(*args)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{bad}: 1 problem(s) in the MIDI map" in result.stderr
        assert "cc[0].param: unknown parameter 'tensoin'; fix: did you mean 'tension'?" \
            in result.stderr

