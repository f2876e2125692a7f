"""A picture of a render: parameters, sections, rests, stingers, layer gains, waveform.

One shared time axis, top to bottom, so a composer sees what the music did and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from adaptive.trace import Trace

SILENCE_FLOOR_DB = -60.0


def _envelope(audio: npt.NDArray[np.float32], columns: int
              ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Min and max of the mix per pixel column, without plotting millions of points."""
    mono = audio.mean(axis=1).astype(np.float64)
    per = max(1, len(mono) // columns)
    usable = mono[: per * (len(mono) // per)].reshape(-1, per)
    return usable.min(axis=1), usable.max(axis=1)


def plot_render(trace: Trace, audio: npt.NDArray[np.float32] | None, sample_rate: int,
                path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = sorted({span.name for span in trace.sections})
    palette = plt.get_cmap("tab10")
    colours = {name: palette(i % 10) for i, name in enumerate(names)}
    end = float(trace.times[-1]) if len(trace.times) else 1.0

    figure, axes = plt.subplots(4, 1, figsize=(14, 9), dpi=110, sharex=True,
                                gridspec_kw={"height_ratios": [1.2, 0.55, 2.0, 1.2]})
    params_ax, story_ax, gains_ax, wave_ax = axes
    figure.suptitle(title or "adaptive render", fontsize=13, fontweight="bold")

    for name, values in trace.params.items():
        params_ax.plot(trace.times, values, linewidth=1.6, label=name)
    params_ax.set_ylabel("parameters")
    params_ax.legend(loc="upper left", fontsize=8, ncol=max(1, len(trace.params)),
                     frameon=False)
    params_ax.grid(alpha=0.3)

    for span in trace.sections:
        story_ax.axvspan(span.start, min(span.end, end), ymin=0.15, ymax=0.85,
                         color=colours[span.name], alpha=0.55,
                         hatch="//" if span.bridge else None, linewidth=0)
        label = f"{span.name} (bridge)" if span.bridge else span.name
        story_ax.text(span.start + 0.3, 0.5, label, va="center", fontsize=8,
                      clip_on=True)
    for rest in trace.rests:
        story_ax.axvspan(rest.start, min(rest.end, end), color="0.25", alpha=0.35, linewidth=0)
        story_ax.text(rest.start + 0.2, 0.9, "rest", fontsize=8, va="top", color="0.1")
    for at, name in trace.stingers:
        for axis in axes:
            axis.axvline(at, color="crimson", linewidth=0.9, alpha=0.7)
        story_ax.text(at + 0.2, 0.1, name, fontsize=8, color="crimson")
    story_ax.set_yticks([])
    story_ax.set_ylabel("sections")
    story_ax.set_ylim(0, 1)

    line_styles = ["-", "--", ":", "-."]
    per_section: dict[str, int] = {}
    for key, gains in sorted(trace.layer_gains.items()):
        section = key.split(".", 1)[0]
        index = per_section.get(section, 0)
        per_section[section] = index + 1
        db = 20 * np.log10(np.maximum(gains, 10 ** (SILENCE_FLOOR_DB / 20)))
        if np.all(db <= SILENCE_FLOOR_DB):
            continue
        gains_ax.plot(trace.times, db, color=colours.get(section, "0.3"),
                      linestyle=line_styles[index % len(line_styles)], linewidth=1.3,
                      label=key)
    gains_ax.set_ylim(SILENCE_FLOOR_DB, 3)
    gains_ax.set_ylabel("layer gain (dB)")
    gains_ax.grid(alpha=0.3)
    gains_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)

    if audio is not None and len(audio):
        low, high = _envelope(audio, 2800)
        times = np.linspace(0.0, len(audio) / sample_rate, len(low))
        wave_ax.fill_between(times, low, high, color="0.2", linewidth=0)
    for rest in trace.rests:
        wave_ax.axvspan(rest.start, min(rest.end, end), color="0.25", alpha=0.15, linewidth=0)
    wave_ax.set_ylim(-1, 1)
    wave_ax.set_ylabel("mix")
    wave_ax.set_xlabel("time (s)")
    wave_ax.set_xlim(0, end)
    wave_ax.grid(alpha=0.3)

    handles = [Patch(color=colours[name], alpha=0.55, label=name) for name in names]
    story_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.3), fontsize=7,
                    frameon=False)
    figure.subplots_adjust(left=0.06, right=0.83, top=0.93, bottom=0.07, hspace=0.12)
    figure.savefig(path)
    plt.close(figure)
