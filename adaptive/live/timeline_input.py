"""A cue sheet played by the live server (`serve --timeline SHEET`), as an `Endpoint`.

The sheet is loaded, checked against the score and compiled (hit points included) in
`open`, before the audio starts, so a misspelt name or a bad timecode is a start-up error
listing every cue at fault, as `render` does. On `start` the controller follows the film
with it (`live.film`): a player's transport reports move the music to where the film is.
Without a player (`follow = False`) the sheet runs freely from `start_from` at once, as
if a perfect player played the film from there (a rehearsal without picture); a player's
first report takes over.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from adaptive.chase import ChaseSettings
from adaptive.errors import TimelineError
from adaptive.hits import CompiledSheet, compile_sheet
from adaptive.live.endpoint import Core
from adaptive.live.film import WARNING_SECONDS, FilmFollower
from adaptive.score.model import Score
from adaptive.timeline import Timeline, load_timeline, require_valid

log = logging.getLogger("adaptive.timeline")


class TimelineEndpoint:
    name = "timeline"

    def __init__(self, path: Path, score: Score, sample_rate: int | None = None,
                 settings: ChaseSettings | None = None, start_from: str | float | None = None,
                 follow: bool = False, warning: float = WARNING_SECONDS) -> None:
        self.path = path
        self.score = score
        self.sample_rate = sample_rate or score.score.sample_rate
        self.settings = settings
        self.start_from = start_from
        self.follow = follow
        self.warning = warning
        self.timeline: Timeline | None = None
        self.sheet: CompiledSheet | None = None
        self.start_seconds = 0.0

    def open(self) -> None:
        timeline = load_timeline(self.path)
        require_valid(timeline, self.score, str(self.path))
        if self.start_from is not None:
            try:
                self.start_seconds = _film_seconds(timeline, self.start_from)
            except ValueError as error:
                raise TimelineError(f"--from {self.start_from!r}: {error}") from None
        self.timeline = timeline
        self.sheet = compile_sheet(self.score, timeline, self.sample_rate)
        for outcome in self.sheet.missed():
            off = outcome.error_ms(self.sample_rate)
            log.warning("hit %r cannot be met%s: %s", outcome.label,
                        "" if off is None else f" (off by {off:+.1f} ms)", outcome.note)

    def start(self, core: Core) -> None:
        if self.timeline is None or self.sheet is None:
            self.open()
        assert self.timeline is not None and self.sheet is not None
        fps = float(self.timeline.clock.rate.fps) if self.timeline.clock is not None else 24.0
        settings = replace(self.settings or ChaseSettings(), fps=fps)
        follower = FilmFollower(self.timeline, self.sheet, settings, core.sample_rate,
                                self.warning, source=f"timeline {self.path.name}")
        core.attach_film(follower, None if self.follow else self.start_seconds)
        log.info("timeline %s: %d cues and %d hits over %.1f s, %s", self.path.name,
                 len(self.timeline.cues), len(self.timeline.hits), self.timeline.duration,
                 "following the player" if self.follow else
                 f"running from {self.timeline.timecode(self.start_seconds)} until a player "
                 "reports")

    def stop(self) -> None:
        """Nothing runs: the sheet is the controller's now."""


def _film_seconds(timeline: Timeline, at: str | float) -> float:
    """A `--from`: film seconds, or a timecode of the sheet."""
    if isinstance(at, str):
        try:
            return float(at)
        except ValueError:
            pass
        if timeline.clock is None:
            raise ValueError("a timecode needs the sheet's fps; fix: add fps = \"24\" (or the "
                             "film's rate) to the sheet, or give seconds") from None
        return timeline.clock.seconds(at)
    return float(at)
