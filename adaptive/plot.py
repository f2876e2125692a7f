"""A picture of a render: parameters, the score's story, layer gains and the mix.

Four rows on one time axis, so a composer sees at a glance what the music did and why:
the emotion parameters as the graph smoothed them; a timeline strip of sections (bridges
hatched), rests and stingers; every layer's gain in dB, coloured by its section and labelled
on its line; and the stereo mix as a waveform coloured by the section playing.

With a film's cue sheet (`FilmAxis`), the time axis is the film's: ticks labelled in the
sheet's timecode (HH:MM:SS:FF, at whole timecode seconds or frames), the labelled cues as
vertical lines named at the top, and each hit as a line with its label and its error in ms,
so a composer checks sync against the picture's numbers, not the render's seconds.

matplotlib is imported inside `plot_render` (Agg, no display), never when the package loads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from adaptive.filmtime import FilmClock, frames_to_timecode, timecode_to_frames
from adaptive.trace import Span, Trace

if TYPE_CHECKING:
    from adaptive.hits import CompiledSheet
    from adaptive.timeline import Timeline

Array = npt.NDArray[np.float64]
Colour = tuple[float, float, float]
Box = tuple[float, float, float, float]  # display pixels: x0, y0, x1, y1

SILENCE_FLOOR_DB = -60.0
GAIN_TOP_DB = 3.0
WIDTH_IN, HEIGHT_IN, DPI = 14.0, 9.0, 110

# Tableau 10: distinct, calm, and readable on white; sections take them in order of entry.
SECTION_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1",
                   "#edc948", "#9c755f", "#ff9da7", "#bab0ac"]
PARAM_COLOURS = ["#1d3557", "#d1495b", "#2a9d8f", "#8f5fbf", "#e09f3e", "#3d405b",
                 "#66a182", "#c44536"]
INK = "#2b2b2b"
MUTED = "#6b6b6b"
REST_GREY = "#9a9a9a"
STINGER = "#8b1e3f"
NEUTRAL_WAVE = "#7f8c8d"
CUE_INK = "#3d405b"
HIT_MET = "#1b7f3b"
HIT_MISSED = "#d62728"
MAX_TIME_TICKS = 12


@dataclass(frozen=True)
class FilmAxis:
    """What a film's cue sheet adds to the picture of a render that starts at film time
    `offset` (a render --from): the timecode of the axis, the cues' labels, the hits."""

    offset: float  # film seconds at the plot's time 0
    clock: FilmClock | None  # None: film seconds on the axis (a sheet without fps)
    cues: tuple[tuple[float, str], ...] = ()  # (film seconds, label)
    hits: tuple[tuple[float, str, float | None, bool], ...] = ()  # film s, label, ms, met

    @classmethod
    def of_sheet(cls, timeline: Timeline, sheet: CompiledSheet, sample_rate: int,
                 offset: float = 0.0) -> FilmAxis | None:
        """None for a plain timeline (no fps, labels, hits or offset): the plot as before."""
        cues = tuple((cue.at, cue.label) for cue in timeline.cues if cue.label)
        hits = tuple((outcome.at / sample_rate, outcome.label, outcome.error_ms(sample_rate),
                      outcome.met) for outcome in sheet.hits)
        if timeline.clock is None and not cues and not hits and offset == 0:
            return None
        return cls(offset, timeline.clock, cues, hits)

    def label(self, x: float) -> str:
        """The film time at x seconds of the plot, as the sheet writes it."""
        film = self.offset + x
        if self.clock is None:
            return f"{film:g}"
        return self.clock.timecode(max(0.0, film) + 1e-9)

    def ticks(self, end: float) -> list[float]:
        """Plot positions of round timecodes (whole seconds, or frames when short) in
        [0, end]: a frame's time is frames / fps, so 29.97 ticks sit 1.001 s apart."""
        if self.clock is None:
            return []
        rate = self.clock.rate
        fps = float(rate.fps)
        nominal = rate.nominal
        first = self.clock.start_frames + max(0, self.clock.frame(self.offset))
        last = self.clock.start_frames + self.clock.frame(self.offset + end)
        low = _label_index(frames_to_timecode(first, rate), nominal)
        high = _label_index(frames_to_timecode(last, rate), nominal)
        seconds = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]
        # frames that divide a second (so every second is a tick), then whole seconds
        steps = [d for d in range(1, nominal) if nominal % d == 0] + [n * nominal for n in seconds]
        step = next((s for s in steps if (high - low) / s <= MAX_TIME_TICKS), steps[-1])
        ticks = []
        for index in range(-(-low // step) * step, high + 1, step):
            text = _label_text(index, nominal, ";" if rate.drop_frame else ":")
            try:
                frames = timecode_to_frames(text, rate)
            except ValueError:
                continue  # a label drop-frame skips
            x = (frames - self.clock.start_frames) / fps - self.offset
            if -1e-9 <= x <= end + 1e-9:
                ticks.append(x)
        return ticks


def _label_index(timecode: str, nominal: int) -> int:
    """A timecode as a count of labels (nominal frames per second, no drops)."""
    h, m, s, f = (int(part) for part in timecode.replace(";", ":").split(":"))
    return ((h * 60 + m) * 60 + s) * nominal + f


def _label_text(index: int, nominal: int, separator: str) -> str:
    seconds, f = divmod(index, nominal)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{separator}{f:02d}"


def _blend(colour: Colour, amount: float) -> Colour:
    """Darker toward black (amount < 0) or lighter toward white (amount > 0)."""
    target = 1.0 if amount > 0 else 0.0
    weight = abs(amount)
    r, g, b = colour
    return (r + (target - r) * weight, g + (target - g) * weight, b + (target - b) * weight)


def _section_colours(trace: Trace) -> dict[str, Colour]:
    from matplotlib.colors import to_rgb

    order: list[str] = []
    for span in sorted(trace.sections, key=lambda s: s.start):
        if span.name not in order:
            order.append(span.name)
    for key in trace.layer_gains:
        section = key.split(".", 1)[0]
        if section not in order:
            order.append(section)
    return {name: to_rgb(SECTION_COLOURS[i % len(SECTION_COLOURS)])
            for i, name in enumerate(order)}


def _layer_colours(keys: list[str], sections: dict[str, Colour]) -> dict[str, Colour]:
    """Each layer a shade of its section's colour, dark to light in score order."""
    by_section: dict[str, list[str]] = {}
    for key in keys:
        by_section.setdefault(key.split(".", 1)[0], []).append(key)
    colours: dict[str, Colour] = {}
    for section, members in by_section.items():
        base = sections.get(section, (0.4, 0.4, 0.4))
        count = len(members)
        for i, key in enumerate(members):
            amount = 0.0 if count == 1 else -0.4 + 0.65 * i / (count - 1)
            colours[key] = _blend(base, amount)
    return colours


def _to_db(gains: Array) -> Array:
    floor = 10 ** (SILENCE_FLOOR_DB / 20)
    db: Array = 20 * np.log10(np.maximum(np.asarray(gains, dtype=np.float64), floor))
    return db


def _hide_silence(db: Array) -> Array:
    """NaN where a layer sits at the floor, keeping the samples next to sound so fades land."""
    sounding = db > SILENCE_FLOOR_DB + 1e-6
    keep = sounding.copy()
    keep[1:] |= sounding[:-1]
    keep[:-1] |= sounding[1:]
    return np.where(keep, db, np.nan)


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True stretches of a mask."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _envelope(audio: npt.NDArray[np.floating[Any]], columns: int
              ) -> tuple[Array, Array, Array, int]:
    """Min, max and RMS of both channels per pixel column (reshape, no per-sample plotting).

    Returns the three arrays and the frames per column.
    """
    frames = audio.reshape(len(audio), -1)
    per = max(1, -(-len(frames) // max(columns, 1)))
    full = len(frames) // per
    blocks = [frames[: full * per].reshape(full, -1)]
    if full * per < len(frames):
        blocks.append(frames[full * per:].reshape(1, -1))
    low = np.concatenate([b.min(axis=1) for b in blocks]).astype(np.float64)
    high = np.concatenate([b.max(axis=1) for b in blocks]).astype(np.float64)
    rms = np.sqrt(np.concatenate([np.mean(np.square(b), axis=1, dtype=np.float64)
                                  for b in blocks]))
    return low, high, rms, per


def _lanes(spans: list[Span]) -> list[int]:
    """A lane per span so overlapping sections (crossfades, layered voices) stack."""
    ends: list[float] = []
    lanes: list[int] = []
    for span in spans:
        for lane, end in enumerate(ends):
            if span.start >= end - 1e-9:
                ends[lane] = span.end
                lanes.append(lane)
                break
        else:
            ends.append(span.end)
            lanes.append(len(ends) - 1)
    return lanes


def _overlaps(box: Box, others: list[Box], margin: float = 1.0) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + margin and b[0] - margin < x1 and y0 < b[3] + margin
               and b[1] - margin < y1 for b in others)


def _extent(text: Any, renderer: Any) -> Box:
    bounds = text.get_window_extent(renderer)
    return (float(bounds.x0), float(bounds.y0), float(bounds.x1), float(bounds.y1))


def _fit_label(ax: Any, renderer: Any, x0: float, x1: float, y: float,
               options: list[str], shorten: bool = True, **style: Any) -> bool:
    """Write the first option that fits between x0 and x1 (data), else a shortened name."""
    left, _ = ax.transData.transform((x0, y))
    right, _ = ax.transData.transform((x1, y))
    room = right - left - 10.0
    if room < 8:
        return False
    text = ax.text(x0, y, "", va="center", ha="left", clip_on=True, **style)
    text.set_transform(ax.transData + _offset(ax, 5.0, 0.0))
    candidates = list(options)
    name = options[-1]
    if shorten:
        candidates += [name[:n] + "…" for n in range(len(name) - 1, 1, -1)]
    for candidate in candidates:
        text.set_text(candidate)
        box = _extent(text, renderer)
        if box[2] - box[0] <= room:
            return True
    text.remove()
    return False


def _offset(ax: Any, dx: float, dy: float) -> Any:
    from matplotlib.transforms import ScaledTranslation

    return ScaledTranslation(dx / 72.0, dy / 72.0, ax.figure.dpi_scale_trans)


def _stinger_groups(ax: Any, stingers: list[tuple[float, str]],
                    within_px: float = 60.0) -> list[list[tuple[float, str]]]:
    """Stingers closer than `within_px` on screen share one label."""
    groups: list[list[tuple[float, str]]] = []
    for at, name in stingers:
        x = ax.transData.transform((at, 0.0))[0]
        if groups and x - ax.transData.transform((groups[-1][0][0], 0.0))[0] < within_px:
            groups[-1].append((at, name))
        else:
            groups.append([(at, name)])
    return groups


def _place_above(ax: Any, renderer: Any, text: Any, placed: list[Box], frame: Any,
                 x: float, side: str) -> bool:
    """Put a label beside (left/right) or centred on x, kept inside the axes, if it is free."""
    dx = {"left": 4.0, "right": -4.0, "center": 0.0}[side]
    text.set_ha(side)
    text.set_transform(ax.transData + _offset(ax, dx, 0.0))
    text.set_x(x)
    box = _extent(text, renderer)
    shift = max(0.0, frame.x0 - box[0]) - max(0.0, box[2] - frame.x1)
    if shift:
        text.set_transform(ax.transData + _offset(ax, dx + shift * 72.0 / ax.figure.dpi, 0.0))
        box = _extent(text, renderer)
    if _overlaps(box, placed, margin=4.0):
        return False
    placed.append(box)
    return True


def _minor_grid(ax: Any, majors: Sequence[float], end: float) -> None:
    """Minor time gridlines as one collection (minor tick objects are slow to draw)."""
    if len(majors) < 2:
        return
    step = float(majors[1] - majors[0])
    mantissa = step / 10 ** np.floor(np.log10(step))
    parts = 4 if np.isclose(mantissa, 2.0) or np.isclose(mantissa, 2.5) else 5
    index = np.arange(int(np.ceil(end / step * parts)) + 1)
    minors = float(majors[0]) + index[index % parts != 0] * step / parts
    minors = minors[(minors > 0) & (minors < end)]
    ax.vlines(minors, 0, 1, transform=ax.get_xaxis_transform(), color="#efefef",
              linewidth=0.6, zorder=0.5)


def _draw_parameters(ax: Any, trace: Trace) -> None:
    low, high = 0.0, 1.0
    for i, (name, values) in enumerate(trace.params.items()):
        ax.plot(trace.times, values, color=PARAM_COLOURS[i % len(PARAM_COLOURS)],
                linewidth=2.0, label=name, solid_capstyle="round", zorder=3)
        if len(values):
            low = min(low, float(np.nanmin(values)))
            high = max(high, float(np.nanmax(values)))
    pad = 0.06 * (high - low)
    ax.set_ylim(low - pad, high + pad)
    if (low, high) == (0.0, 1.0):
        ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels(["0", "", "0.5", "", "1"])
    ax.set_ylabel("parameters")
    if trace.params:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(trace.params),
                  frameon=False, handlelength=1.6, borderaxespad=0.2, columnspacing=1.4)


def _draw_timeline(ax: Any, renderer: Any, trace: Trace, colours: dict[str, Colour],
                   end: float) -> None:
    from matplotlib.patches import Rectangle

    band_low, band_high = 0.06, 0.60
    ax.set_ylim(0, 1)  # before measuring any label
    placed: list[Box] = []  # labels above the band: stingers, then names of narrow sections
    frame = ax.get_window_extent(renderer)
    for group in _stinger_groups(ax, sorted(trace.stingers)):
        first = group[0][0]
        for at, _name in group:
            ax.plot([at], [band_high + 0.03], marker="v", markersize=6, color=STINGER,
                    zorder=5, clip_on=False)
        counts = Counter(name for _at, name in group)
        label = ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())
        text = ax.text(first, 0.80, label, va="center", ha="left", color=STINGER,
                       fontsize=8.5, fontweight="bold", zorder=5)
        if not any(_place_above(ax, renderer, text, placed, frame, first, side)
                   for side in ("left", "right")):
            text.remove()
    spans = sorted(trace.sections, key=lambda s: s.start)
    lanes = _lanes(spans)
    count = max(lanes, default=0) + 1
    height = (band_high - band_low) / count
    for span, lane in zip(spans, lanes, strict=True):
        bottom = band_high - (lane + 1) * height
        stop = min(span.end, end)
        colour = colours[span.name]
        ax.add_patch(Rectangle((span.start, bottom + 0.01), stop - span.start, height - 0.02,
                               facecolor=colour, edgecolor="white", linewidth=1.2,
                               hatch="////" if span.bridge else None, zorder=2))
        options = [f"{span.name} · bridge", span.name] if span.bridge else [span.name]
        style: dict[str, Any] = {"fontsize": 9.5 if count == 1 else 8.5,
                                 "fontweight": "bold", "zorder": 4}
        if _fit_label(ax, renderer, span.start, stop, bottom + height / 2, options,
                      shorten=False, color="white", **style):
            continue
        # too narrow: the name above the band, if it has room there, else shortened inside
        text = ax.text((span.start + stop) / 2, 0.80, options[0], va="center",
                       color=_blend(colour, -0.3), **style)
        for option in options:
            text.set_text(option)
            if _place_above(ax, renderer, text, placed, frame, (span.start + stop) / 2,
                            "center"):
                break
        else:
            text.remove()
            _fit_label(ax, renderer, span.start, stop, bottom + height / 2, options,
                       color="white", **style)
    for rest in trace.rests:
        stop = min(rest.end, end)
        ax.add_patch(Rectangle((rest.start, band_low - 0.03), stop - rest.start,
                               band_high - band_low + 0.06, facecolor=REST_GREY,
                               edgecolor="white", linewidth=1.2, zorder=3))
        _fit_label(ax, renderer, rest.start, stop, (band_low + band_high) / 2, ["rest"],
                   color="white", fontsize=9, fontstyle="italic", zorder=4)
    ax.set_yticks([])
    ax.set_ylabel("score")
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)


def _draw_layers(ax: Any, renderer: Any, trace: Trace, colours: dict[str, Colour]) -> None:
    keys = list(trace.layer_gains)
    shades = _layer_colours(keys, colours)
    anchors: list[tuple[str, str, Array, tuple[int, int]]] = []
    for key in keys:
        db = _to_db(trace.layer_gains[key])
        if not np.any(db > SILENCE_FLOOR_DB + 1e-6):
            continue
        shown = _hide_silence(db)
        ax.plot(trace.times, shown, color=shades[key], linewidth=1.5, zorder=3,
                solid_joinstyle="round")
        for start, stop in _runs(db > SILENCE_FLOOR_DB + 1.0):
            anchors.append((key, key.split(".", 1)[-1], db, (start, stop)))
    ax.set_ylim(SILENCE_FLOOR_DB, GAIN_TOP_DB)
    ax.set_yticks(np.arange(0.0, SILENCE_FLOOR_DB - 1, -12.0))
    ax.set_yticks(np.arange(0.0, SILENCE_FLOOR_DB - 1, -6.0), minor=True)
    ax.set_yticklabels([f"{v:.0f}".replace("-", "−") for v in ax.get_yticks()])
    ax.set_ylabel("layer gain (dB)")
    _label_layers(ax, renderer, trace.times, anchors, shades)


def _label_layers(ax: Any, renderer: Any, times: Array,
                  anchors: list[tuple[str, str, Array, tuple[int, int]]],
                  shades: dict[str, Colour]) -> None:
    """Name each sounding stretch of a layer on its line, nudging names apart."""
    frame = ax.get_window_extent(renderer)
    inside = (frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2)
    placed: list[Box] = []
    # in order of entry, loudest first: quieter names make room around louder ones
    anchors.sort(key=lambda a: (float(times[a[3][0]]), -float(np.max(a[2][a[3][0]:a[3][1]]))))
    for key, name, db, (start, stop) in anchors:
        run = db[start:stop]
        peak = float(np.max(run))
        plateau = np.flatnonzero(run >= peak - 1.0)
        first, last = start + int(plateau[0]), start + int(plateau[-1])
        x_first, x_last = float(times[first]), float(times[last])
        width = ax.transData.transform((x_last, 0))[0] - ax.transData.transform((x_first, 0))[0]
        if width < 30 and stop - start < 3:
            continue
        text = ax.text(x_first, peak, name, color=shades[key], fontsize=7.5,
                       fontweight="bold", va="bottom", ha="left", zorder=6,
                       bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                             "edgecolor": "none", "alpha": 0.8})
        chosen: Box | None = None
        for fraction in (0.0, 0.2, 0.45, 0.7):
            x = x_first + fraction * (x_last - x_first)
            for dy in (2.0, -11.0, 10.0, -19.0, 18.0, -27.0, 26.0):
                text.set_position((x, peak))
                text.set_transform(ax.transData + _offset(ax, 4.0, dy))
                box = _extent(text, renderer)
                fits = (box[0] >= inside[0] and box[1] >= inside[1] and box[2] <= inside[2]
                        and box[3] <= inside[3])
                if fits and not _overlaps(box, placed):
                    chosen = box
                    break
            if chosen is not None:
                break
        if chosen is None:
            text.remove()
        else:
            placed.append(chosen)


def _draw_waveform(ax: Any, trace: Trace, audio: npt.NDArray[np.floating[Any]] | None,
                   sample_rate: int, colours: dict[str, Colour], columns: int) -> None:
    ax.set_ylim(-1.08, 1.08)
    ax.set_yticks([-1.0, -0.5, 0.0, 0.5, 1.0])
    ax.set_yticklabels(["0", "−6", "−∞", "−6", "0"])
    ax.set_yticks([-0.25, 0.25], minor=True)
    ax.set_ylabel("mix (dBFS)")
    if audio is None or len(audio) == 0:
        ax.text(0.5, 0.5, "no audio", transform=ax.transAxes, ha="center", va="center",
                color=MUTED, fontstyle="italic")
        return
    low, high, rms, per = _envelope(audio, columns)
    x = (np.arange(len(low)) * per + per / 2) / sample_rate
    spans = sorted(trace.sections, key=lambda s: s.start)
    starts = np.array([s.start for s in spans])
    current = np.searchsorted(starts, x, side="right") - 1  # the section last entered …
    for i, span in enumerate(spans):  # … unless a later-entered one is still playing
        current[(x >= span.start) & (x < span.end)] = i
    groups: list[tuple[Colour, npt.NDArray[np.bool_]]] = []
    unassigned = current < 0
    if np.any(unassigned):
        from matplotlib.colors import to_rgb

        groups.append((to_rgb(NEUTRAL_WAVE), unassigned))
    for name in dict.fromkeys(s.name for s in spans):
        indices = [i for i, s in enumerate(spans) if s.name == name]
        groups.append((colours[name], np.isin(current, indices)))
    for colour, mask in groups:
        grown = mask.copy()
        grown[1:] |= mask[:-1]  # touch the neighbour so adjacent sections leave no gap
        ax.fill_between(x, low, high, where=grown, color=_blend(colour, -0.05),
                        linewidth=0, alpha=0.75, zorder=3)
        ax.fill_between(x, -rms, rms, where=grown, color=_blend(colour, -0.35),
                        linewidth=0, zorder=4)
    peak = float(max(np.max(np.abs(low)), np.max(np.abs(high))))
    clipped = np.flatnonzero(np.maximum(np.abs(low), np.abs(high)) >= 1.0)
    if len(clipped):
        ax.plot(x[clipped], np.full(len(clipped), 1.04), "|", color="#d62728", markersize=5,
                zorder=5)
    level = "−∞" if peak <= 0 else f"{20 * np.log10(peak):+.1f}".replace("-", "−")
    ax.text(0.998, 0.97, f"peak {level} dBFS" + (" · clipping" if len(clipped) else ""),
            transform=ax.transAxes, ha="right", va="top", fontsize=8,
            color="#d62728" if len(clipped) else MUTED, zorder=6,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                  "alpha": 0.8})


def _draw_film(axes: list[Any], film: FilmAxis, end: float) -> None:
    """The sheet's cues (named at the top) and hits (label and error at the bottom)."""
    params_ax, wave_ax = axes[0], axes[-1]
    bbox = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
            "alpha": 0.85}
    for at, label in film.cues:
        x = at - film.offset
        if not 0.0 <= x <= end:
            continue
        for ax in axes:
            ax.axvline(x, color=CUE_INK, linewidth=0.9, alpha=0.6, linestyle=(0, (1, 2)),
                       zorder=6)
        params_ax.text(x, 0.98, f" {label}", transform=params_ax.get_xaxis_transform(),
                       ha="left", va="top", fontsize=8, fontweight="bold", color=CUE_INK,
                       zorder=7, bbox=bbox)
    for at, label, error, met in film.hits:
        x = at - film.offset
        if not 0.0 <= x <= end:
            continue
        colour = HIT_MET if met else HIT_MISSED
        for ax in axes:
            ax.axvline(x, color=colour, linewidth=1.3, alpha=0.8, zorder=6)
        note = "not met" if error is None else f"{error:+.2f} ms".replace("-", "−")
        wave_ax.text(x, 0.03, f" {label}  {note}", transform=wave_ax.get_xaxis_transform(),
                     ha="left", va="bottom", fontsize=8, fontweight="bold", color=colour,
                     zorder=7, bbox=bbox)


def plot_render(trace: Trace, audio: npt.NDArray[np.floating[Any]] | None, sample_rate: int,
                path: Path, title: str = "", film: FilmAxis | None = None) -> Any:
    """Save a PNG (14 × 9 in at 110 dpi) of what a render did, on one time axis; returns
    the matplotlib Figure (for a caller or test to read its ticks). With `film`, the axis
    is the film's: timecode ticks, the sheet's cue labels and hits with their errors."""
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never yank a live session off its backend
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    colours = _section_colours(trace)
    end = float(trace.times[-1]) if len(trace.times) else 0.0
    if len(trace.times) > 1:
        end += float(trace.times[1] - trace.times[0])
    if audio is not None and len(audio):
        end = max(end, len(audio) / sample_rate)
    end = end if end > 0 else 1.0

    with matplotlib.rc_context({
            "font.size": 9,
            "axes.labelsize": 9.5,
            "axes.labelcolor": INK,
            "axes.edgecolor": "#b5b5b5",
            "axes.linewidth": 0.8,
            "xtick.color": MUTED,
            "ytick.color": MUTED,
            "xtick.labelsize": 8.5,
            "ytick.labelsize": 8,
            "legend.fontsize": 8.5,
            "hatch.color": "white",
            "hatch.linewidth": 1.2,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
        }):
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        canvas = FigureCanvasAgg(figure)
        grid = figure.add_gridspec(4, 1, height_ratios=[1.25, 0.62, 2.3, 1.3], hspace=0.14,
                                   left=0.062, right=0.985, top=0.905, bottom=0.065)
        params_ax = figure.add_subplot(grid[0])
        axes = [params_ax] + [figure.add_subplot(grid[i], sharex=params_ax)
                              for i in range(1, 4)]
        _, story_ax, gains_ax, wave_ax = axes
        params_ax.set_xlim(0.0, end)
        locator: Any = MaxNLocator(nbins=14, steps=[1, 2, 2.5, 5, 10])
        timecode = film is not None and film.clock is not None
        if film is not None and film.clock is not None:
            locator = FixedLocator(film.ticks(end))
        renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]

        for ax in axes:
            ax.xaxis.set_major_locator(locator)
            if film is not None:
                ax.xaxis.set_major_formatter(FuncFormatter(
                    lambda x, _pos, film=film: film.label(float(x))))
            ax.tick_params(which="both", length=0)
            ax.tick_params(axis="x", which="major", pad=4)
            ax.grid(which="major", axis="x" if ax is story_ax else "both", color="#dcdcdc",
                    linewidth=0.8, zorder=0)
            ax.grid(which="minor", axis="y", color="#efefef", linewidth=0.6, zorder=0)
            if not timecode:  # timecode ticks are not evenly spaced in drop-frame
                _minor_grid(ax, locator.tick_values(0.0, end), end)
            ax.set_axisbelow(True)
            for rest in trace.rests:
                if ax is not story_ax:
                    ax.axvspan(rest.start, min(rest.end, end), color=REST_GREY, alpha=0.16,
                               linewidth=0, zorder=1)
            for at, _name in trace.stingers:
                ax.axvline(at, color=STINGER, linewidth=1.0, alpha=0.75,
                           linestyle=(0, (4, 3)), zorder=2 if ax is story_ax else 5)
        for span in trace.sections:  # a faint wash of the section's colour behind the lines
            for ax in (params_ax, gains_ax):
                ax.axvspan(span.start, min(span.end, end), color=colours[span.name],
                           alpha=0.07, linewidth=0, zorder=0)
        for ax in axes[:-1]:
            ax.tick_params(axis="x", labelbottom=False)

        _draw_parameters(params_ax, trace)
        _draw_timeline(story_ax, renderer, trace, colours, end)
        _draw_layers(gains_ax, renderer, trace, colours)
        columns = int(wave_ax.get_window_extent(renderer).width)
        _draw_waveform(wave_ax, trace, audio, sample_rate, colours, columns)
        if film is not None:
            _draw_film(axes, film, end)
        wave_ax.set_xlabel("time (s)" if film is None else
                           f"timecode ({film.clock.rate} fps)" if film.clock is not None
                           else "film time (s)")
        params_ax.set_xlim(0.0, end)

        layers = sum(1 for g in trace.layer_gains.values() if np.any(g > 1e-3))
        facts = [f"{end:.1f} s", f"{len({s.name for s in trace.sections})} sections",
                 f"{layers} layers heard"]
        if trace.rests:
            facts.append(f"{len(trace.rests)} rest" + ("s" if len(trace.rests) > 1 else ""))
        if trace.stingers:
            facts.append(f"{len(trace.stingers)} stinger"
                         + ("s" if len(trace.stingers) > 1 else ""))
        if film is not None and film.hits:
            met = sum(1 for *_, hit_met in film.hits if hit_met)
            facts.append(f"{met}/{len(film.hits)} hits met")
        if film is not None and film.clock is not None:
            facts.insert(0, f"{film.label(0.0)} – {film.label(end)}")
        figure.text(0.062, 0.962, title or "adaptive render", fontsize=15, fontweight="bold",
                    color=INK, ha="left", va="baseline")
        figure.text(0.062, 0.937, "  ·  ".join(facts), fontsize=9.5, color=MUTED, ha="left",
                    va="baseline")
        figure.savefig(path, dpi=DPI, format="png")
    return figure
