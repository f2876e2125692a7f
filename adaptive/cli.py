"""The `adaptive` command: a thin layer over the library (validate, schema, render, demo)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from adaptive.errors import AdaptiveError

log = logging.getLogger("adaptive")

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def demo_paths() -> tuple[Path, Path]:
    """The demo score and timeline shipped inside the package."""
    base = Path(str(resources.files("adaptive.demo")))
    return base / "score.toml", base / "timeline.toml"


def _cmd_validate(args: argparse.Namespace) -> int:
    from adaptive.score.load import load_score

    loaded = load_score(args.score)
    score = loaded.score
    layers = sum(len(s.layers) for s in score.sections.values())
    print(f"{loaded.path}: ok — {len(score.sections)} sections, {layers} layers, "
          f"{len(score.parameters)} parameters, {len(score.stingers)} stingers, "
          f"{len(loaded.stems)} stems, {len(loaded.patches)} patches")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from adaptive.score.model import Score

    print(json.dumps(Score.model_json_schema(by_alias=True), indent=2))
    return 0


def _render(score_path: Path, timeline_path: Path, output: Path, plot: Path | None,
            seed: int, subtype: str, duration: float | None) -> int:
    from adaptive.render import Progress, render_to_file
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline

    loaded = load_score(score_path)
    timeline = load_timeline(timeline_path)
    seconds = duration if duration is not None else timeline.duration
    frames = round(seconds * loaded.sample_rate)
    progress = Progress(seconds)
    result = render_to_file(loaded, timeline.at_samples(loaded.sample_rate), frames, output,
                            subtype=subtype, seed=seed, progress=progress,
                            keep_audio=plot is not None)
    for at, command, message in result.rejected:
        log.warning("cue at %.3f s (%s) ignored: %s", at / loaded.sample_rate,
                    command.cmd, message)
    print(f"wrote {output} ({seconds:.1f} s at {loaded.sample_rate} Hz, "
          f"{result.speed:.1f}x real time)")
    if plot is not None:
        from adaptive.plot import plot_render
        from adaptive.trace import build_trace

        trace = build_trace(loaded.score, result.actions, loaded.sample_rate, seconds)
        plot_render(trace, result.audio, loaded.sample_rate, plot, loaded.score.score.name)
        print(f"wrote {plot}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    return _render(Path(args.score), Path(args.timeline), Path(args.output),
                   Path(args.plot) if args.plot else None, args.seed, SUBTYPES[args.format],
                   args.duration)


def _cmd_demo(args: argparse.Namespace) -> int:
    score, timeline = demo_paths()
    return _render(score, timeline, Path(args.output),
                   None if args.no_plot else Path(args.plot), args.seed,
                   SUBTYPES[args.format], None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adaptive", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a score and the files it names")
    validate.add_argument("score")
    validate.set_defaults(func=_cmd_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the score format")
    schema.set_defaults(func=_cmd_schema)

    def audio_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--seed", type=int, default=1, help="seed of the patches' randomness")
        sub.add_argument("--format", choices=sorted(SUBTYPES), default="24",
                         help="sample format of the output file")

    render = commands.add_parser("render", help="render a score driven by a timeline")
    render.add_argument("score")
    render.add_argument("--timeline", required=True, help="TOML file of timed commands")
    render.add_argument("-o", "--output", required=True, help="audio file to write (.wav)")
    render.add_argument("--plot", help="PNG picture of parameters, sections and layer gains")
    render.add_argument("--duration", type=float, help="seconds (default: the timeline's)")
    audio_options(render)
    render.set_defaults(func=_cmd_render)

    demo = commands.add_parser("demo", help="render the bundled demo to demo.wav and demo.png")
    demo.add_argument("-o", "--output", default="demo.wav")
    demo.add_argument("--plot", default="demo.png")
    demo.add_argument("--no-plot", action="store_true")
    audio_options(demo)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except AdaptiveError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
