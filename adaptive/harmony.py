"""Keys and chord symbols turned into MIDI pitches, for patches that follow the harmony.

Pure data: the engine writes these pitches into tables read at the bar position, so a
chord change lands on the downbeat's sample without Python on the audio path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}
_QUALITIES = {
    "": (0, 4, 7, 12),
    "maj": (0, 4, 7, 12),
    "m": (0, 3, 7, 12),
    "min": (0, 3, 7, 12),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "dim": (0, 3, 6, 12),
    "aug": (0, 4, 8, 12),
    "sus2": (0, 2, 7, 12),
    "sus4": (0, 5, 7, 12),
    "add9": (0, 4, 7, 14),
    "madd9": (0, 3, 7, 14),
    "5": (0, 7, 12, 19),
}
_CHORD = re.compile(r"^([A-G])([#b]?)(" + "|".join(sorted(map(re.escape, _QUALITIES), key=len,
                                                          reverse=True)) + r")$")

CHORD_TONES = 4
"""Every chord is voiced as four tones (root first), so patches can index tones 0..3."""

BASE_OCTAVE_MIDI = 48
"""Chord roots sit in the octave from C3 (MIDI 48); patches move them by octaves."""


def pitch_class(name: str) -> int:
    letter, accidental = name[0].upper(), name[1:]
    if letter not in _PITCH_CLASSES or accidental not in ("", "#", "b"):
        raise ValueError(f"{name!r} is not a note name such as C, F# or Bb")
    return (_PITCH_CLASSES[letter] + {"": 0, "#": 1, "b": -1}[accidental]) % 12


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class
    mode: str

    @classmethod
    def parse(cls, text: str) -> Key:
        parts = text.strip().split()
        if len(parts) != 2 or parts[1].lower() not in _MODES:
            modes = ", ".join(sorted(_MODES))
            raise ValueError(f"key {text!r} is not 'TONIC MODE' with a mode among {modes}")
        return cls(pitch_class(parts[0]), parts[1].lower())

    def scale(self) -> tuple[int, ...]:
        """Seven MIDI pitches of the scale from the tonic in the base octave."""
        return tuple(BASE_OCTAVE_MIDI + self.tonic + step for step in _MODES[self.mode])


def chord_tones(symbol: str) -> tuple[int, ...]:
    """Four MIDI pitches of a chord symbol such as 'Dm', 'Bb', 'F#m7', 'Csus4'."""
    match = _CHORD.match(symbol.strip())
    if match is None:
        qualities = ", ".join(q or "(major)" for q in _QUALITIES)
        raise ValueError(f"chord {symbol!r} is not ROOT[#|b]QUALITY with a quality among "
                         f"{qualities}")
    root = pitch_class(match.group(1) + match.group(2))
    return tuple(BASE_OCTAVE_MIDI + root + step for step in _QUALITIES[match.group(3)])


@dataclass(frozen=True)
class Harmony:
    """The harmony of a section: a scale and one chord per bar (cycled)."""

    scale: tuple[int, ...]
    chords: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, key: str | None, chords: list[str]) -> Harmony:
        parsed_key = Key.parse(key) if key else Key(0, "major")
        voiced = tuple(chord_tones(symbol) for symbol in chords)
        if not voiced:
            tonic = BASE_OCTAVE_MIDI + parsed_key.tonic
            scale = parsed_key.scale()
            voiced = ((tonic, scale[2], scale[4], tonic + 12),)
        return cls(parsed_key.scale(), voiced)

    def tone_per_bar(self, tone: int, bars: int) -> list[float]:
        """MIDI pitch of chord tone `tone` for each bar of a section of `bars` bars."""
        return [float(self.chords[bar % len(self.chords)][tone]) for bar in range(bars)]
