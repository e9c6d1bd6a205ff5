"""``train --engine des``: the step as a timeline, its what-ifs, the emitted trace and picture.

Parsing and orchestration only: the model is in :mod:`interconnect_sim.training.step_timeline`.
With a what-if (a straggler, a fabric edit, a neighbour job) the step is timed twice, without
and with it, and the difference is attributed along the critical path.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import fabric_request_from
from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import check_output_file
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.schedule import SCHEDULES
from interconnect_sim.training.step import StepEstimate
from interconnect_sim.training.timeline import TimelineRun, attribute_change
from interconnect_sim.workload.events import TraceEvent
from interconnect_sim.workload.placement import (
    PLACEMENTS,
    choose_nodes,
    place_trace,
    repeat_trace,
    trace_nodes,
)

__all__ = ["add_timeline_options", "fabric_whatifs", "slowdowns", "timeline_options"]

_FABRIC_WHATIFS = ("fail_link", "disable_links", "fail_device", "degrade_link", "degrade_device")


def add_timeline_options(train: argparse.ArgumentParser) -> None:
    """Options of the timeline (``--engine des``)."""
    group = train.add_argument_group("timeline (--engine des)")
    group.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="pipeline schedule (default: interleaved with vpp > 1, else 1f1b)",
    )
    group.add_argument(
        "--slow-node",
        action="append",
        default=[],
        metavar="NODE=PCT",
        help="a straggler: node NODE's GPUs take PCT %% longer to compute, e.g. 5=10%% "
        "(repeatable)",
    )
    group.add_argument(
        "--slow-gpu",
        action="append",
        default=[],
        metavar="RANK=PCT",
        help="a straggler GPU by rank (node x GPUs per node + local GPU), e.g. 41=25%%",
    )
    group.add_argument(
        "--neighbour-trace",
        type=Path,
        metavar="FILE.jsonl",
        help="a second job's trace (ranks numbered over its own nodes) sharing the fabric",
    )
    group.add_argument(
        "--neighbour-nodes", metavar="LIST", help="its fabric nodes, e.g. 40-47 or 3,9,12"
    )
    group.add_argument(
        "--neighbour-placement",
        choices=PLACEMENTS,
        help="how to choose its nodes among those the job leaves free (default packed)",
    )
    group.add_argument("--neighbour-seed", type=int, help="seed of random placement (default 0)")
    group.add_argument(
        "--neighbour-repeat",
        type=int,
        metavar="N",
        help="run the neighbour's trace N times back to back (default 1)",
    )
    group.add_argument(
        "--emit-trace",
        type=Path,
        metavar="FILE.jsonl",
        help="write the step's trace (replay it with `replay`) and FILE.png, its timeline",
    )


def _percent(text: str, where: str) -> tuple[int, float]:
    head, sep, tail = str(text).partition("=")
    try:
        index = int(head)
        value = float(tail.strip().rstrip("%"))
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not INDEX=PCT such as 5=10%") from None
    if not sep or index < 0 or not value > 0:
        raise ScenarioError(f"{where}: {text!r} needs an index >= 0 and a percentage > 0")
    return index, 1.0 + value / 100.0


def slowdowns(values: dict[str, Any], gpus_per_node: int, ranks: int) -> dict[int, float]:
    """Rank -> compute slowdown factor from ``--slow-node`` and ``--slow-gpu``."""
    slow: dict[int, float] = {}
    for text in values.get("slow_node") or ():
        node, factor = _percent(text, "--slow-node")
        for local in range(gpus_per_node):
            rank = node * gpus_per_node + local
            slow[rank] = max(factor, slow.get(rank, 1.0))
    for text in values.get("slow_gpu") or ():
        rank, factor = _percent(text, "--slow-gpu")
        slow[rank] = max(factor, slow.get(rank, 1.0))
    outside = sorted(r for r in slow if r >= ranks)
    if outside:
        raise ScenarioError(
            f"--slow-node/--slow-gpu: rank {outside[0]} is not in the job (ranks 0-{ranks - 1})"
        )
    return slow


def _node_list(text: str) -> list[int]:
    nodes: list[int] = []
    for part in str(text).split(","):
        head, sep, tail = part.strip().partition("-")
        if not head.isdigit() or (sep and not tail.isdigit()):
            raise ScenarioError(f"--neighbour-nodes: {text!r} is not a list such as 40-47,52")
        nodes.extend(range(int(head), int(tail) + 1) if sep else [int(head)])
    return nodes


def neighbour_events(
    values: dict[str, Any], fabric: Fabric, parallel: ParallelConfig
) -> tuple[list[TraceEvent], list[int]]:
    """The neighbour job's events placed on the fabric, and its nodes."""
    from interconnect_sim.importers.traces import load_trace

    path = values.get("neighbour_trace")
    if not path:
        return [], []
    g = int(fabric.graph.graph["gpus_per_node"])
    events = list(load_trace([Path(path)]).calls)
    times = int(values.get("neighbour_repeat") or 1)
    if times < 1:
        raise ScenarioError("--neighbour-repeat must be at least 1")
    count = trace_nodes(events, g)
    job = -(-parallel.world_size // g)
    total = int(fabric.graph.graph["node_count"])
    if values.get("neighbour_nodes"):
        nodes = _node_list(values["neighbour_nodes"])
        clash = sorted(set(nodes) & set(range(job)) | {n for n in nodes if n >= total})
        if clash or len(nodes) < count:
            raise ScenarioError(
                f"--neighbour-nodes: the neighbour needs {count} nodes among {job}-{total - 1} "
                f"(the training job holds 0-{job - 1}); got {values['neighbour_nodes']}"
            )
    else:
        free = list(range(job, total))
        policy = values.get("neighbour_placement") or "packed"
        nodes = choose_nodes(policy, count, free, seed=int(values.get("neighbour_seed") or 0))
    return place_trace(repeat_trace(events, times), nodes[:count], g), nodes[:count]


def fabric_whatifs(values: dict[str, Any]) -> bool:
    """Whether the options edit the fabric (failed, disabled or degraded links and devices)."""
    return any(values.get(key) for key in _FABRIC_WHATIFS)


def healthy_fabric(values: dict[str, Any], catalog: Catalog) -> Fabric:
    """The fabric without its what-ifs (the baseline a what-if is compared with)."""
    plain = {k: v for k, v in values.items() if k not in _FABRIC_WHATIFS}
    return build_fabric(catalog, fabric_request_from(plain))


def timeline_options(values: dict[str, Any], engine: str) -> dict[str, Any]:
    """Check the timeline options against the engine before any work."""
    wants = [
        name
        for name in ("schedule", "slow_node", "slow_gpu", "neighbour_trace", "emit_trace")
        if values.get(name)
    ]
    if wants and engine != "des":
        flag = "--" + wants[0].replace("_", "-")
        raise ScenarioError(f"{flag} needs --engine des (it is answered by the step's timeline)")
    emit = values.get("emit_trace")
    if emit:
        check_output_file(Path(emit), "--emit-trace")
        check_output_file(Path(emit).with_suffix(".png"), "--emit-trace")
    return {"schedule": values.get("schedule")}


def progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Any]:
    """A tqdm bar on a terminal's stderr, updated as events end."""
    if not enabled or not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(unit="event", desc="timeline", file=sys.stderr, mininterval=0.5)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        if done % 500 == 0 or done == total:
            bar.refresh()

    return update, bar


def whatif_summary(
    base: tuple[StepEstimate, TimelineRun], changed: tuple[StepEstimate, TimelineRun]
) -> dict[str, Any]:
    """How much the what-if changed the step, and where on the critical path it went."""
    before, after = base[0].step_time_s, changed[0].step_time_s
    return {
        "baseline_step_time_s": before,
        "step_time_s": after,
        "change_s": after - before,
        "change_pct": 100.0 * (after / before - 1.0),
        "absorbed_by": [
            {"where": where, "seconds": seconds}
            for where, seconds in attribute_change(base[1].path, changed[1].path)
        ],
    }
