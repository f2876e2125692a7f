"""The `adaptive` command: a thin layer over the library (validate, schema, render, demo)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from adaptive.errors import AdaptiveError

if TYPE_CHECKING:
    from adaptive.live.midi import MidiConfig
    from adaptive.web.surface import HttpConfig

log = logging.getLogger("adaptive")

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


def demo_paths() -> tuple[Path, Path]:
    """The demo score and timeline shipped inside the package."""
    base = Path(str(resources.files("adaptive.demo")))
    return base / "score.toml", base / "timeline.toml"


def _cmd_validate(args: argparse.Namespace) -> int:
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline, require_valid

    loaded = load_score(args.score)
    score = loaded.score
    layers = sum(len(s.layers) for s in score.sections.values())
    print(f"{loaded.path}: ok — {len(score.sections)} sections, {layers} layers, "
          f"{len(score.parameters)} parameters, {len(score.stingers)} stingers, "
          f"{len(loaded.stems)} stems, {len(loaded.patches)} patches")
    if args.timeline:
        from adaptive.hits import compile_sheet

        timeline = load_timeline(args.timeline)
        require_valid(timeline, score, args.timeline)
        sheet = compile_sheet(score, timeline, loaded.sample_rate)
        missed = sheet.missed()
        for outcome in missed:
            error = outcome.error_ms(loaded.sample_rate)
            print(f"{args.timeline}: hit {outcome.label!r} at "
                  f"{timeline.timecode(outcome.at / loaded.sample_rate)} cannot be met"
                  f"{'' if error is None else f': off by {error:+.1f} ms'} ({outcome.note}); "
                  "fix: allow another method (method = \"auto\"), raise the section's "
                  "max_tempo_bend, or move the hit", file=sys.stderr)
        if missed:
            return 1
        print(f"{args.timeline}: ok — {len(timeline.cues)} cues and {len(timeline.hits)} hits "
              f"over {timeline.duration:.1f} s"
              + (" (adaptive hits SCORE SHEET shows how each is met)" if timeline.hits else ""))
    if args.midi_map:
        from adaptive.live.midi_map import load_midi_map

        print(f"{args.midi_map}: ok — {load_midi_map(args.midi_map, score).describe()}")
    return 0


def _cmd_hits(args: argparse.Namespace) -> int:
    from adaptive.hits import compile_sheet, table
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline, require_valid

    loaded = load_score(args.score)
    timeline = load_timeline(args.sheet)
    require_valid(timeline, loaded.score, args.sheet)
    sheet = compile_sheet(loaded.score, timeline, loaded.sample_rate)
    if not sheet.hits:
        print(f"{args.sheet}: no [[hit]] entries")
        return 0
    print(table(sheet, timeline, loaded.sample_rate))
    return 1 if sheet.missed() else 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from adaptive.score.model import Score

    print(json.dumps(Score.model_json_schema(by_alias=True), indent=2))
    return 0


def _render(score_path: Path, timeline_path: Path, output: Path, plot: Path | None,
            seed: int, subtype: str, duration: float | None) -> int:
    from adaptive.render import Progress, render_to_file
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline, require_valid

    loaded = load_score(score_path)
    timeline = load_timeline(timeline_path)
    require_valid(timeline, loaded.score, str(timeline_path))  # before minutes of rendering
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
        from adaptive.trace import build_trace, stinger_frames

        trace = build_trace(loaded.score, result.actions, loaded.sample_rate, seconds,
                            stinger_frames=stinger_frames(loaded))
        plot_render(trace, result.audio, loaded.sample_rate, plot, loaded.score.score.name)
        print(f"wrote {plot}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    """`render`: a sheet's film time (hits compiled) `--from` a time `--to` another, into an
    audio file or, with --video, a preview of the film with the music in it. A later
    --from starts as a player's seek there would (`Driver.seek`: the state the sheet
    implies, entered with the chase fade), so the file's sample 0 is film time --from."""
    import tempfile

    from adaptive.hits import compile_sheet
    from adaptive.preview import PREVIEW_SUFFIXES, mux, read_video
    from adaptive.render import Progress, RangeError, film_span, render_to_file
    from adaptive.score.load import load_score
    from adaptive.timeline import load_timeline, require_valid

    def usage(message: str) -> int:
        print(f"adaptive: error: {message}", file=sys.stderr)
        return 2

    if args.replay:
        if args.timeline:
            return usage("--timeline and --replay both say what to render; fix: give one")
        if args.start_from or args.to or args.video or args.music:
            return usage("--replay renders the whole show; fix: drop --from, --to, --video "
                         "and --music (--duration cuts it short)")
        return _replay(args)
    if args.other_score:
        return usage("--other-score goes with --replay SHOW.jsonl; fix: drop it")
    if not args.timeline:
        return usage("render needs a sheet or a show; fix: add --timeline SHEET, or "
                     "--replay SHOW.jsonl (the show log adaptive serve wrote)")
    output = Path(args.output)
    is_video = output.suffix.lower() in PREVIEW_SUFFIXES
    if is_video and not args.video:
        return usage(f"-o {output}: a video file is a preview, which needs the film; fix: "
                     "add --video FILM, or write the music alone with -o music.wav")
    if args.video and not is_video:
        return usage(f"--video: the preview goes to -o, a video file (not {output}); fix: "
                     "-o preview.mp4 (AAC audio) or .mov/.mkv (PCM audio)")
    if args.music and not args.video:
        return usage("--music keeps the music of a preview; fix: add --video FILM and "
                     "-o preview.mp4, or write the music with -o music.wav")
    if args.chase_fade < 0:
        return usage(f"--chase-fade {args.chase_fade:g}: must be milliseconds >= 0")
    loaded = load_score(args.score)
    rate = loaded.sample_rate
    timeline = load_timeline(args.timeline)
    require_valid(timeline, loaded.score, args.timeline)  # before minutes of rendering
    try:
        span = film_span(timeline, rate, args.start_from, args.to, args.duration)
    except RangeError as error:
        return usage(str(error))
    film = read_video(Path(args.video)) if args.video else None  # a bad film fails now
    sheet = compile_sheet(loaded.score, timeline, rate)
    for outcome in sheet.missed():
        off = outcome.error_ms(rate)
        log.warning("hit %r cannot be met%s: %s", outcome.label,
                    "" if off is None else f" (off by {off:+.1f} ms)", outcome.note)
    with tempfile.TemporaryDirectory(prefix="adaptive-") as scratch:
        music = Path(args.music) if args.music else \
            Path(scratch) / "music.wav" if film is not None else output
        result = render_to_file(loaded, sheet.history, span.frames, music,
                                subtype=SUBTYPES[args.format], seed=args.seed,
                                progress=Progress(span.frames / rate),
                                keep_audio=args.plot is not None, seeks=span.seeks,
                                seek_fade=args.chase_fade / 1000.0)
        for at, command, message in result.rejected:
            log.warning("cue at %s (%s) ignored: %s", timeline.timecode(at / rate), command.cmd,
                        message)
        first, last = timeline.timecode(span.start / rate), timeline.timecode(span.end / rate)
        if film is None or args.music:
            print(f"wrote {music} ({first} to {last}, {span.frames / rate:.1f} s at {rate} Hz, "
                  f"{result.speed:.1f}x real time)")
        if film is not None:
            cut = args.to is not None or args.duration is not None
            muxed = mux(film.path, music, output, start=span.start / rate,
                        end=span.end / rate if cut else None, video=film)
            print(f"wrote {output} (the picture of {film.path} copied from "
                  f"{timeline.timecode(muxed.video_from)}, the music from {first} to {last})")
    if args.plot is not None:
        from adaptive.plot import FilmAxis, plot_render
        from adaptive.trace import build_trace, stinger_frames

        seconds = span.frames / rate
        trace = build_trace(loaded.score, result.actions, rate, seconds,
                            stinger_frames=stinger_frames(loaded))
        plot_render(trace, result.audio, rate, Path(args.plot), loaded.score.score.name,
                    film=FilmAxis.of_sheet(timeline, sheet, rate, span.start / rate))
        print(f"wrote {args.plot}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    """`render --replay SHOW`: the show again, each command on the sample it took live."""
    from adaptive.render import Progress, render_to_file
    from adaptive.score.load import load_score
    from adaptive.showlog import ReplaySchedule, check_events, check_show, read_show

    show = read_show(Path(args.replay))  # a bad log fails before the score is loaded
    loaded = load_score(args.score)
    rate = loaded.sample_rate
    check_show(show, loaded.score, loaded.path, args.replay, rate, args.other_score)
    if args.duration is not None and not args.duration > 0:
        print(f"adaptive: error: --duration {args.duration:g}: must be seconds > 0",
              file=sys.stderr)
        return 2
    for reload in show.reloads:
        log.warning("%s: the score was reloaded at %.3f s; the replay plays %s throughout",
                    args.replay, reload.sample / rate, loaded.path)
    header = show.header
    frames = show.frames() if args.duration is None else round(args.duration * rate)
    result = render_to_file(loaded, [], frames, Path(args.output),
                            subtype=SUBTYPES[args.format], seed=header.seed,
                            progress=Progress(frames / rate, label="replaying"),
                            keep_audio=args.plot is not None,
                            schedule=ReplaySchedule(show, loaded.score),
                            horizon_blocks=header.horizon_blocks, block=header.block,
                            varispeed=show.nudged)
    for at, command, message in result.rejected:
        log.warning("command at %.3f s (%s) ignored: %s", at / rate, command.cmd, message)
    checked = check_events(show, result.actions, frames)
    print(f"wrote {args.output} ({frames / rate:.1f} s of the show at {rate} Hz, "
          f"{len(show.steps)} commands, {result.speed:.1f}x real time); {checked.summary()}")
    if args.plot is not None:
        from adaptive.plot import plot_render
        from adaptive.trace import build_trace, stinger_frames

        trace = build_trace(loaded.score, result.actions, rate, frames / rate,
                            stinger_frames=stinger_frames(loaded))
        plot_render(trace, result.audio, rate, Path(args.plot), loaded.score.score.name)
        print(f"wrote {args.plot}")
    return 1 if checked.missing else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    score, timeline = demo_paths()
    return _render(score, timeline, Path(args.output),
                   None if args.no_plot else Path(args.plot), args.seed,
                   SUBTYPES[args.format], None)


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        return text or "127.0.0.1", default_port
    return host.strip("[]"), int(port)


def _cmd_serve(args: argparse.Namespace) -> int:
    from adaptive.live.audio import AudioConfig
    from adaptive.live.osc import OscConfig
    from adaptive.live.session import ServeConfig, serve

    score = Path(args.score) if args.score else demo_paths()[0]
    connect: list[str] | None = None  # the physical playback ports
    if args.jack_connect is not None:
        connect = [] if args.jack_connect.strip() == "none" else \
            [p.strip() for p in args.jack_connect.split(",") if p.strip()]
    audio = AudioConfig(backend=args.audio, sample_rate=args.sample_rate, block=args.block,
                        device=args.device, jack_name=args.jack_name,
                        jack_server=args.jack_server, jack_connect=connect)
    osc = None
    if args.osc != "off":
        host, port = _host_port(args.osc, 9000)
        osc = OscConfig(host, port, [n for n in (args.osc_allow or "").split(",") if n])
    mqtt = None
    if args.mqtt:
        from adaptive.live.mqtt import MqttConfig

        mqtt = MqttConfig.from_url(args.mqtt, prefix=args.mqtt_prefix or f"adaptive/{args.name}",
                                   qos=args.mqtt_qos, ca_file=args.mqtt_ca)
    follow = None
    if args.follow:
        if args.follow != "osc" and (not args.follow.startswith("mpv:")
                                     or len(args.follow) <= 4):
            print(f"adaptive: error: --follow {args.follow!r}: expected osc (a player sending "
                  "/transport over OSC or MQTT) or mpv:SOCKET (the path given to mpv's "
                  "--input-ipc-server)", file=sys.stderr)
            return 2
        follow = args.follow
    if (args.follow or args.start_from) and not args.timeline:
        print("adaptive: error: --follow and --from need a cue sheet; fix: add --timeline "
              "SHEET", file=sys.stderr)
        return 2
    midi = _midi_config(args)
    if isinstance(midi, str):
        print(f"adaptive: error: {midi}", file=sys.stderr)
        return 2
    from adaptive.chase import ChaseSettings

    chase = ChaseSettings(freewheel_frames=args.freewheel, on_loss=args.on_loss,
                          fade=args.chase_fade / 1000.0, film_offset=args.film_offset / 1000.0,
                          varispeed=args.varispeed / 100.0)
    return serve(ServeConfig(score, audio, osc, mqtt, args.watch, args.seed, args.name,
                             Path(args.timeline) if args.timeline else None,
                             start_from=args.start_from, follow=follow, chase=chase,
                             warning=args.warning, show_log=args.show_log,
                             http=_http_config(args), go_lockout=args.go_lockout,
                             midi=midi))


def _midi_config(args: argparse.Namespace) -> MidiConfig | str | None:
    """`--midi [PORT]` and `--midi-map MAP` (either one turns MIDI on), or what is wrong."""
    if args.midi is None and args.midi_map is None:
        return None
    if args.audio != "jack":
        return ("--midi reads JACK MIDI, and ALSA MIDI is not supported yet; fix: run with "
                "--audio jack (an ALSA controller reaches JACK through a2jmidid)")
    if args.midi_map is None:
        return "--midi needs a map of the controller; fix: add --midi-map MAP.toml " \
            "(README: MIDI controllers)"
    from adaptive.live.midi import MidiConfig

    connect = [p.strip() for p in args.midi.split(",") if p.strip()] if args.midi else None
    return MidiConfig(Path(args.midi_map), connect, f"{args.jack_name}-midi",
                      args.jack_server)


def _seconds_arg(text: str) -> float:
    """A number of seconds >= 0 (argparse reports a bad one as a usage error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds >= 0")
    return value


def _varispeed_arg(text: str) -> float:
    """A change of speed in percent, 0 (off) to 1 (17 cents: past that it is heard)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a percentage from 0 (off) to 1")
    return value


def _http_config(args: argparse.Namespace) -> HttpConfig | None:
    """`--http` and `--http-token` (a bad value raises a one-line AdaptiveError)."""
    if not args.http:
        return None
    from adaptive.web.surface import HttpConfig

    return HttpConfig.parse(args.http, args.http_token)


def _cmd_devices(args: argparse.Namespace) -> int:
    from adaptive.live.audio import list_devices

    text, status = list_devices()
    print(text, file=sys.stderr if status else sys.stdout)
    return status


def _cmd_send(args: argparse.Namespace) -> int:
    from adaptive.live.client import send

    return send(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adaptive", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a score and the files it names")
    validate.add_argument("score")
    validate.add_argument("--timeline", help="also check a timeline's cues against the score")
    validate.add_argument("--midi-map", metavar="MAP", help="also check a MIDI map (serve "
                          "--midi-map) against the score")
    validate.set_defaults(func=_cmd_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the score format")
    schema.set_defaults(func=_cmd_schema)

    def audio_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--seed", type=int, default=1, help="seed of the patches' randomness")
        sub.add_argument("--format", choices=sorted(SUBTYPES), default="24",
                         help="sample format of the output file")

    render = commands.add_parser(
        "render", help="render a score driven by a timeline or a film's cue sheet",
        description="Render a score driven by a timeline or cue sheet (hits met), in film "
        "time: from --from to --to into an audio file, or with --video into a preview of "
        "the film: its picture copied unchanged (from the keyframe at or before --from), "
        "with the music aligned so that the sheet's start timecode is the video's first "
        "frame. Audio in the preview: AAC 320 kb/s in .mp4/.m4v, 24-bit PCM in .mov/.mkv. "
        "Needs ffmpeg (Debian package ffmpeg).")
    render.add_argument("score")
    render.add_argument("--timeline", metavar="SHEET",
                        help="TOML file of timed commands (seconds or film timecode)")
    render.add_argument("--replay", metavar="SHOW", help="a show log (.jsonl) written by "
                        "serve: render the show again, each command on the sample it took "
                        "live (with the show's seed and block)")
    render.add_argument("--other-score", action="store_true", help="with --replay: play "
                        "the show with this score even if it is not the file it played")
    render.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="audio file to write (.wav), or with --video the preview "
                        "(.mp4, .mov, .mkv)")
    render.add_argument("--from", dest="start_from", metavar="TC",
                        help="start at this film time (HH:MM:SS:FF of the sheet, or film "
                        "seconds): the music as a player's seek there would make it, faded "
                        "in over --chase-fade; the output's first sample is this film time")
    render.add_argument("--to", metavar="TC", help="end at this film time (HH:MM:SS:FF or "
                        "film seconds; default: the sheet's duration)")
    render.add_argument("--duration", type=float, help="seconds to render from --from "
                        "(instead of --to; default: to the sheet's end)")
    render.add_argument("--chase-fade", type=float, default=20.0, metavar="MS",
                        help="fade-in of a render --from a later film time (default 20)")
    render.add_argument("--video", metavar="FILM", help="the film: write -o as a preview, "
                        "its video stream copied (not re-encoded) with the music muxed in")
    render.add_argument("--music", metavar="WAV", help="with --video: also keep the music "
                        "as this audio file (default: a temporary file)")
    render.add_argument("--plot", help="PNG picture of parameters, sections and layer gains "
                        "(with a film sheet: a timecode axis, cue labels and hits)")
    audio_options(render)
    render.set_defaults(func=_cmd_render)

    demo = commands.add_parser("demo", help="render the bundled demo to demo.wav and demo.png")
    demo.add_argument("-o", "--output", default="demo.wav")
    demo.add_argument("--plot", default="demo.png")
    demo.add_argument("--no-plot", action="store_true")
    audio_options(demo)
    demo.set_defaults(func=_cmd_demo)

    hits = commands.add_parser("hits", help="how each hit point of a cue sheet is met: "
                               "method, error, tempo and film click")
    hits.add_argument("score")
    hits.add_argument("sheet")
    hits.set_defaults(func=_cmd_hits)

    serve = commands.add_parser("serve", help="play a score live, driven by OSC and MQTT")
    serve.add_argument("score", nargs="?", help="score file (default: the bundled demo)")
    serve.add_argument("--audio", choices=["portaudio", "jack", "none"], default="portaudio",
                       help="a sound card (PortAudio), a JACK server, or none: the clock runs "
                       "in real time without sound, to try clients anywhere")
    serve.add_argument("--sample-rate", type=int, help="default: the score's")
    serve.add_argument("--block", type=int, default=256, help="frames per audio block "
                       "(with JACK: the JACK period)")
    serve.add_argument("--device", type=int, help="PortAudio output device (adaptive devices)")
    serve.add_argument("--jack-name", default="adaptive", help="JACK client name")
    serve.add_argument("--jack-server", help="JACK server name (default: the default server)")
    serve.add_argument("--jack-connect", help="comma-separated JACK ports for left,right "
                       "(default: the physical playback ports, e.g. system:playback_1,"
                       "system:playback_2), or 'none'")
    serve.add_argument("--osc", default="127.0.0.1:9000",
                       help="HOST:PORT to listen on, or 'off' (default 127.0.0.1:9000)")
    serve.add_argument("--osc-allow", help="comma-separated source networks allowed "
                       "(e.g. 192.168.1.0/24) when listening beyond loopback")
    serve.add_argument("--mqtt", help="mqtt://[user:pass@]host:port or mqtts://...")
    serve.add_argument("--mqtt-prefix", help="topic prefix (default adaptive/NAME)")
    serve.add_argument("--mqtt-qos", type=int, choices=[0, 1, 2], default=0)
    serve.add_argument("--mqtt-ca", help="CA certificate file for mqtts://")
    serve.add_argument("--http", metavar="HOST:PORT", help="serve the control surface (a "
                       "web page) and /metrics there, e.g. 127.0.0.1:8080; beyond loopback "
                       "(0.0.0.0:8080, for a tablet) the page asks for a token")
    serve.add_argument("--http-token", help="the token beyond loopback (default: a new one, "
                       "printed at start)")
    serve.add_argument("--midi", nargs="?", const="", metavar="PORT", help="read a MIDI "
                       "controller (JACK MIDI, with --audio jack) from these comma-separated "
                       "JACK ports (default: the physical MIDI capture ports)")
    serve.add_argument("--midi-map", metavar="MAP", help="TOML file mapping the controller's "
                       "CCs to parameters and layer gains, and its notes and buttons to "
                       "commands (implies --midi; README: MIDI controllers)")
    serve.add_argument("--name", default="default", help="instance name")
    serve.add_argument("--watch", action="store_true", help="reload the score when it changes")
    serve.add_argument("--timeline", help="a cue sheet (TOML, in seconds or film timecode): "
                       "the music follows a film's player reporting over OSC/MQTT "
                       "(/transport/...), or runs the sheet freely until one does")
    serve.add_argument("--from", dest="start_from", metavar="TC", help="run the sheet from "
                       "this film time (HH:MM:SS:FF or seconds) until a player reports")
    serve.add_argument("--follow", metavar="osc|mpv:SOCKET", help="wait for a film's player "
                       "instead of running the sheet freely: osc (any player sending "
                       "/transport over OSC or MQTT), or mpv through its JSON IPC socket "
                       "(mpv --input-ipc-server=SOCKET)")
    serve.add_argument("--film-offset", type=float, default=0.0, metavar="MS",
                       help="shift film time by MS (the picture's and the sound's delays)")
    serve.add_argument("--on-loss", choices=["keep", "pause"], default="pause",
                       help="when the player stops reporting: keep rolling, or pause "
                       "(after the freewheel time)")
    serve.add_argument("--freewheel", type=float, default=8.0, metavar="FRAMES",
                       help="frames without a report before the chase freewheels")
    serve.add_argument("--varispeed", type=_varispeed_arg, default=0.1, metavar="PERCENT",
                       help="the largest change of speed by which the music follows a "
                       "player's drift without a jump (default 0.1: 1.7 cents; 0: never, "
                       "small drift then waits for the re-chase at half a frame)")
    serve.add_argument("--chase-fade", type=float, default=20.0, metavar="MS",
                       help="fade of a relocation, a pause and a stop")
    serve.add_argument("--warning", type=float, default=3.0, metavar="SECONDS",
                       help="/event/warning this long before each hit")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--go-lockout", type=_seconds_arg, default=0.5, metavar="SECONDS",
                       help="a second /go sooner than this after one that fired is ignored "
                       "and counted (default 0.5)")
    serve.add_argument("--show-log", metavar="PATH", help="log every command acted on as "
                       "JSON lines, for render --replay: this file, a dated file in this "
                       "directory, or 'none' (default: SCORE.show-DATE.jsonl beside the "
                       "score)")
    serve.set_defaults(func=_cmd_serve)

    devices = commands.add_parser("devices", help="list PortAudio output devices")
    devices.set_defaults(func=_cmd_devices)

    from adaptive.live.protocol import osc_help

    send = commands.add_parser("send", help="send a command to a running server",
                               epilog=osc_help(),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    send.add_argument("address", help="OSC address (/param/tension) or, with --mqtt, a topic "
                      "suffix (param/tension, params, cmd)")
    send.add_argument("values", nargs="*", help="arguments (numbers or names), or one JSON "
                      "payload with --mqtt")
    send.add_argument("--to", default="127.0.0.1:9000", help="OSC server HOST:PORT")
    send.add_argument("--mqtt", help="send over MQTT to this broker URL instead")
    send.add_argument("--mqtt-prefix", default="adaptive/default")
    send.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for /status")
    send.set_defaults(func=_cmd_send)
    # -v also after the subcommand (`adaptive serve -v`); SUPPRESS keeps one given before it
    for sub in commands.choices.values():
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="debug logging")
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
