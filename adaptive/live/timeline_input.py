"""A timeline played into the live server (`serve --timeline FILE`): cues as an `Endpoint`.

The timeline is loaded and checked against the score in `open` (before the audio starts,
so a misspelt name is a start-up error listing every cue at fault, as `render` does). On
`start` every cue is submitted at once for its sample, counted from the sample the music is
at: the conductor queues future commands and applies each on its own sample, so a cue list
plays live exactly as it renders offline, and the other inputs act on top of it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from adaptive.live.endpoint import Core
from adaptive.live.inputs import Timed
from adaptive.score.model import Score
from adaptive.timeline import Timeline, load_timeline, require_valid

log = logging.getLogger("adaptive.timeline")


class TimelineEndpoint:
    name = "timeline"

    def __init__(self, path: Path, score: Score) -> None:
        self.path = path
        self.score = score
        self.timeline: Timeline | None = None

    def open(self) -> None:
        timeline = load_timeline(self.path)
        require_valid(timeline, self.score, str(self.path))
        self.timeline = timeline

    def start(self, core: Core) -> None:
        if self.timeline is None:
            self.open()
        assert self.timeline is not None
        start = core.now()
        cues: list[Timed] = [(command, start + at)
                             for at, command in self.timeline.at_samples(core.sample_rate)]
        core.submit_batch(cues, f"timeline {self.path.name}: ", "timeline_coalesced")
        log.info("timeline %s: %d cues over %.1f s from sample %d", self.path.name, len(cues),
                 self.timeline.duration, start)

    def stop(self) -> None:
        """Nothing runs: the cues are the conductor's now."""
