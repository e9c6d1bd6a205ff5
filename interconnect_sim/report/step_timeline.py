"""The picture of a training step's timeline: one lane per pipeline stage and per data-parallel
group, compute and each kind of communication coloured, idle time left blank (the bubble).

Lanes come from the step trace's ``lanes`` (class, stage): the first class of replicas (the one
that stands for the healthy replicas), then each class a straggler split off ("slowed 1" ...),
then the data-parallel groups of each stage, then a neighbour job if one shared the fabric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from interconnect_sim.engines.records import CallRecord

__all__ = ["KIND_COLOURS", "plot_step_timeline"]

KIND_COLOURS = {
    "forward": "#4c72b0",
    "backward": "#1f3f73",
    "optimizer": "#8c8c8c",
    "tp": "#dd8452",
    "cp": "#937860",
    "ep": "#8172b3",
    "etp": "#b39ddb",
    "pp": "#55a868",
    "dp": "#c44e52",
    "edp": "#e377c2",
    "neighbour": "#bcbd22",
}
_LABELS = {
    "forward": "forward",
    "backward": "backward",
    "optimizer": "optimizer",
    "tp": "TP collectives",
    "cp": "CP exchange",
    "ep": "EP all-to-all",
    "etp": "expert-TP",
    "pp": "PP send/recv",
    "dp": "DP sync",
    "edp": "expert-DP sync",
    "neighbour": "neighbour job",
}


def _lane_name(klass: int, stage: int, classes: int) -> str:
    if klass < 0:
        return f"stage {stage} DP"
    if classes == 1:
        return f"stage {stage}"
    return f"stage {stage} (slowed {klass})" if klass else f"stage {stage} (healthy)"


def _lanes(
    calls: Sequence[CallRecord],
    lanes: Mapping[str, tuple[int, int]],
    neighbour: Sequence[CallRecord],
) -> tuple[list[str], dict[tuple[str, str], list[tuple[float, float]]]]:
    """Lane names in drawing order and (lane, kind) -> [(start, length)] in milliseconds."""
    classes = len({k for k, _ in lanes.values() if k >= 0})
    bars: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    keys: set[tuple[int, int]] = set()
    for call in calls:
        klass, stage = lanes[call.id]
        # a pipeline send belongs to the link between two stages: drawn under its sender
        lane = _lane_name(klass, stage, classes)
        keys.add((klass, stage))
        if call.duration_s > 0:
            bars[(lane, call.tag or call.op)].append((call.start_s * 1e3, call.duration_s * 1e3))
    order = sorted(keys, key=lambda k: (k[0] < 0, k[0], k[1]))
    names = [_lane_name(k, s, classes) for k, s in order]
    for call in neighbour:
        if call.duration_s > 0:
            bars[("neighbour job", "neighbour")].append((call.start_s * 1e3, call.duration_s * 1e3))
    if neighbour:
        names.append("neighbour job")
    return names, bars


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
    names, bars = _lanes(calls, lanes, neighbour)
    row = {name: i for i, name in enumerate(names)}
    compute = ("forward", "backward", "optimizer")
    for (lane, kind), spans in sorted(bars.items(), key=lambda kv: kv[0][1] not in compute):
        thin = kind not in compute and kind != "neighbour"
        height = 0.35 if thin else 0.8
        offset = 0.25 if thin else 0.0  # communication below the compute it follows
        ax.broken_barh(
            spans,
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
        Patch(color=KIND_COLOURS.get(k, "#999999"), label=_LABELS.get(k, k))
        for k in KIND_COLOURS
        if k in kinds
    ]
    handles.append(Patch(facecolor="#f7f7f7", edgecolor="#cccccc", label="idle (bubble)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=9)
