"""The lanes of a training step's timeline: which row each trace event is drawn on.

One lane per pipeline stage of the first class of replicas (the one that stands for the healthy
replicas), then each class a straggler split off ("slowed 1" ...), then the data-parallel
groups of each stage, then a neighbour job if one shared the fabric. Both pictures of a step
(the PNG beside ``train --emit-trace`` and the interactive one in a scenario's report) read
their rows from here, so they show the same lanes in the same order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from interconnect_sim.engines.records import CallRecord

__all__ = ["KIND_COLOURS", "KIND_LABELS", "NEIGHBOUR_LANE", "Span", "step_lanes"]

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
KIND_LABELS = {
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
NEIGHBOUR_LANE = "neighbour job"

Span = tuple[float, float, CallRecord]
"""Start (ms), length (ms) and the event drawn."""


def _lane_name(klass: int, stage: int, classes: int) -> str:
    if klass < 0:
        return f"stage {stage} DP"
    if classes == 1:
        return f"stage {stage}"
    return f"stage {stage} (slowed {klass})" if klass else f"stage {stage} (healthy)"


def step_lanes(
    calls: Sequence[CallRecord],
    lanes: Mapping[str, tuple[int, int]],
    neighbour: Sequence[CallRecord] = (),
) -> tuple[list[str], dict[tuple[str, str], list[Span]]]:
    """Lane names in drawing order and ``(lane, kind) -> [(start_ms, length_ms, call)]``.

    Parameters
    ----------
    calls : sequence of CallRecord
        The replayed step (compute events and collectives), times in seconds.
    lanes : mapping
        Event id to ``(class, stage)`` from the step trace (class -1: a data-parallel group).
    neighbour : sequence of CallRecord, optional
        A second job's calls on the same fabric, drawn on a lane of their own.

    Events of zero length are left out; a pipeline send is drawn under its sender.
    """
    classes = len({k for k, _ in lanes.values() if k >= 0})
    bars: dict[tuple[str, str], list[Span]] = defaultdict(list)
    keys: set[tuple[int, int]] = set()
    for call in calls:
        klass, stage = lanes[call.id]
        lane = _lane_name(klass, stage, classes)
        keys.add((klass, stage))
        if call.duration_s > 0:
            bars[(lane, call.tag or call.op)].append(
                (call.start_s * 1e3, call.duration_s * 1e3, call)
            )
    order = sorted(keys, key=lambda k: (k[0] < 0, k[0], k[1]))
    names = [_lane_name(k, s, classes) for k, s in order]
    for call in neighbour:
        if call.duration_s > 0:
            bars[(NEIGHBOUR_LANE, "neighbour")].append(
                (call.start_s * 1e3, call.duration_s * 1e3, call)
            )
    if neighbour:
        names.append(NEIGHBOUR_LANE)
    return names, bars
