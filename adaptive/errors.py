"""One root exception, so callers can tell adaptive's own faults from everything else."""

from __future__ import annotations

from collections.abc import Sequence


class AdaptiveError(Exception):
    """Root of every error adaptive raises on purpose."""


class ScoreError(AdaptiveError):
    """A score file (or a file it names) is invalid.

    Each problem names the file, the field path, the bad value and the fix, so a composer
    can mend the score without reading a traceback.
    """

    def __init__(self, path: str, problems: list[ScoreProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


class ScoreProblem:
    """One thing wrong in a score: where, what, and how to fix it."""

    def __init__(self, field: str, message: str, value: object = None, fix: str = "") -> None:
        self.field = field
        self.message = message
        self.value = value
        self.fix = fix

    def __str__(self) -> str:
        text = f"{self.field or '<score>'}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f"; fix: {self.fix}"
        return text


class TimelineError(AdaptiveError):
    """A timeline file is invalid; the message names the file, the cue and the field.

    With `problems` (names that the score does not declare), every one is listed, so a
    whole misspelt timeline is mended in one pass rather than one render per typo.
    """

    def __init__(self, message: str, problems: Sequence[TimelineProblem] = ()) -> None:
        self.problems = list(problems)
        super().__init__("\n".join([message, *(f"  {problem}" for problem in self.problems)]))


class TimelineProblem:
    """One cue of a timeline that cannot apply to the score: which cue, when, what, the fix."""

    def __init__(self, index: int, at: float, field: str, message: str, fix: str = "",
                 kind: str = "cue") -> None:
        self.kind = kind  # cue | hit
        self.index = index
        self.at = at
        self.field = field
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        text = f"{self.kind}[{self.index}] at {self.at:.3f} s: {self.field}: {self.message}"
        return f"{text}; fix: {self.fix}" if self.fix else text


class AudioError(AdaptiveError):
    """The audio backend could not start (no JACK server, a busy device, a wrong rate)."""


class CommandError(AdaptiveError):
    """A command cannot be applied to the score (unknown name, wrong value)."""
