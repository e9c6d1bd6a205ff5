"""The picture of a training step's timeline: one lane per pipeline stage and per data-parallel
group, compute and each kind of communication coloured, idle time left blank (the bubble).

Lanes and their order come from :func:`~interconnect_sim.scenarios.timeline_lanes.step_lanes`,
shared with the interactive picture in a scenario's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from interconnect_sim.engines.records import CallRecord
from interconnect_sim.scenarios.timeline_lanes import KIND_COLOURS, KIND_LABELS, step_lanes

__all__ = ["plot_step_timeline"]


def plot_step_timeline(
    ax: Axes,
    calls: Sequence[CallRecord],
    lanes: Mapping[str, tuple[int, int]],
    *,
    step_s: float,
    title: str,
    neighbour: Sequence[CallRecord] = (),
) -> None:
    """Draw the step: lanes top to bottom, time in milliseconds, a bar per event."""
    names, bars = step_lanes(calls, lanes, neighbour)
    row = {name: i for i, name in enumerate(names)}
    compute = ("forward", "backward", "optimizer")
    for (lane, kind), spans in sorted(bars.items(), key=lambda kv: kv[0][1] not in compute):
        thin = kind not in compute and kind != "neighbour"
        height = 0.35 if thin else 0.8
        offset = 0.25 if thin else 0.0  # communication below the compute it follows
        ax.broken_barh(
            [(start, length) for start, length, _ in spans],
            (row[lane] - height / 2 + offset, height),
            facecolors=KIND_COLOURS.get(kind, "#999999"),
            linewidth=0,
        )
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(0, step_s * 1e3)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("time (ms)")
    ax.set_facecolor("#f7f7f7")  # idle: the pipeline bubble shows as the pale background
    kinds = dict.fromkeys(kind for _, kind in bars)
    handles = [
        Patch(color=KIND_COLOURS.get(k, "#999999"), label=KIND_LABELS.get(k, k))
        for k in KIND_COLOURS
        if k in kinds
    ]
    handles.append(Patch(facecolor="#f7f7f7", edgecolor="#cccccc", label="idle (bubble)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=9)
