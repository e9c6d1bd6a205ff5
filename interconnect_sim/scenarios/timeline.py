"""``engine = "des"``: the step as a timeline, with the what-ifs only a timeline answers.

From option values (``train`` or a training scenario): the stragglers (``slow_node``,
``slow_gpu``), a neighbour job's placed trace (``neighbour_*``), the pipeline ``schedule``, and
the fabric's own what-ifs (failed, disabled or degraded links and devices). With any what-if the
step is timed twice, without and with it, and the difference is attributed along the critical
path. ``emit_trace`` writes the step's trace (the picture is drawn by the caller, from the
returned run). The model is :mod:`interconnect_sim.training.step_timeline`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.scenarios.options import fabric_request_from
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate
from interconnect_sim.training.step_timeline import timeline_step
from interconnect_sim.training.timeline import TimelineRun, attribute_change
from interconnect_sim.workload.events import TraceEvent
from interconnect_sim.workload.placement import choose_nodes, place_trace, repeat_trace, trace_nodes
from interconnect_sim.workload.trace import write_trace

__all__ = ["StepTimeline", "check_timeline_options", "run_step_timeline", "slowdowns"]

_FABRIC_WHATIFS = ("fail_link", "disable_links", "fail_device", "degrade_link", "degrade_device")
_TIMELINE_ONLY = (
    "schedule",
    "slow_node",
    "slow_gpu",
    "neighbour_trace",
    "neighbour_nodes",
    "emit_trace",
)
_REPLAY_OPTIONS = (
    ("oversubscription", "--oversubscription"),
    ("levels", "--levels"),
    ("nic", "--nic"),
    ("nic_count", "--nic-count"),
    ("switch", "--switch"),
    ("nvlink_lanes", "--nvlink-lanes"),
)


@dataclass
class StepTimeline:
    """The timeline behind a ``des`` estimate: the run (for pictures) and a JSON-ready summary
    (size, schedule, classes, critical path, the what-if's cost, the emitted files)."""

    run: TimelineRun
    summary: dict[str, Any] = field(default_factory=dict)


def check_timeline_options(values: Mapping[str, Any]) -> None:
    """Timeline options need ``engine = "des"``; an emitted trace needs writable files.

    Raises
    ------
    ScenarioError
        Naming the option.
    """
    from interconnect_sim.files import check_output_file

    wants = [name for name in _TIMELINE_ONLY if values.get(name)]
    if wants and (values.get("engine") or "analytic") != "des":
        flag = "--" + wants[0].replace("_", "-")
        raise ScenarioError(f"{flag} needs --engine des (it is answered by the step's timeline)")
    emit = values.get("emit_trace")
    if emit:
        check_output_file(Path(emit), "--emit-trace")
        check_output_file(Path(emit).with_suffix(".png"), "--emit-trace")


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


def slowdowns(values: Mapping[str, Any], gpus_per_node: int, ranks: int) -> dict[int, float]:
    """Rank -> compute slowdown factor from ``slow_node`` and ``slow_gpu``."""
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


def _neighbour(
    values: Mapping[str, Any], fabric: Fabric, parallel: ParallelConfig
) -> tuple[list[TraceEvent], list[int]]:
    """The neighbour job's events placed on the fabric, and its nodes."""
    from interconnect_sim.importers.traces import load_trace

    path = values.get("neighbour_trace")
    if not path:
        return [], []
    g = int(fabric.graph.graph["gpus_per_node"])
    events = list(load_trace([Path(path)]).calls)
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
        nodes = choose_nodes(
            values.get("neighbour_placement") or "packed",
            count,
            list(range(job, total)),
            seed=int(values.get("neighbour_seed") or 0),
        )
    times = int(values.get("neighbour_repeat") or 1)
    return place_trace(repeat_trace(events, times), nodes[:count], g), nodes[:count]


def _describe(values: Mapping[str, Any], neighbour_nodes: list[int]) -> str:
    parts = [f"node {text.replace('=', ' ')} slower" for text in values.get("slow_node") or ()]
    parts += [f"GPU rank {text.replace('=', ' ')} slower" for text in values.get("slow_gpu") or ()]
    for key, label in (
        ("fail_link", "failed link"),
        ("disable_links", "disabled links"),
        ("fail_device", "failed"),
        ("degrade_link", "degraded link"),
        ("degrade_device", "degraded"),
    ):
        for item in values.get(key) or ():
            text = " ".join(map(str, item)) if isinstance(item, list | tuple) else str(item)
            parts.append(f"{label} {text}")
    if neighbour_nodes:
        parts.append(
            f"neighbour job {Path(values['neighbour_trace']).name} on {len(neighbour_nodes)} "
            f"node(s) {neighbour_nodes[0]}-{neighbour_nodes[-1]}"
        )
    return "; ".join(parts)


def _replay_command(values: Mapping[str, Any], path: Path, fabric: Fabric) -> str:
    words = ["interconnect-sim", "replay", str(path), "--system", str(values["system"])]
    words += ["--nodes", str(fabric.graph.graph["node_count"])]
    for key, flag in _REPLAY_OPTIONS:
        if values.get(key) not in (None, 1.0):
            words += [flag, str(values[key])]
    for key in _FABRIC_WHATIFS:
        flag = "--" + key.replace("_", "-")
        for item in values.get(key) or ():
            words += [flag, *(map(str, item) if isinstance(item, list | tuple) else [str(item)])]
    if values.get("neighbour_trace"):
        words += ["--copies", "separate"]
    return " ".join(words)


def _whatif(
    base: tuple[StepEstimate, TimelineRun], changed: tuple[StepEstimate, TimelineRun]
) -> dict[str, Any]:
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


def run_step_timeline(
    values: Mapping[str, Any],
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    options: Mapping[str, Any],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[StepEstimate, StepTimeline]:
    """The step as a timeline with the values' what-ifs (``options``: ``analytic``,
    ``flash_attention``); the baseline without them when there are any."""
    g = int(fabric.graph.graph["gpus_per_node"])
    slow = slowdowns(values, g, parallel.world_size)
    neighbour, nodes = _neighbour(values, fabric, parallel)
    common = {**options, "check_memory": False, "schedule": values.get("schedule")}
    changed = timeline_step(
        model,
        parallel,
        fabric,
        catalog,
        compute,
        slow_ranks=slow,
        neighbour=neighbour,
        progress=progress,
        **common,
    )
    estimate, run = changed
    summary: dict[str, Any] = {
        "events": len(run.trace.events),
        "schedule": run.trace.schedule,
        "classes": [list(c) for c in run.trace.layout.classes],
        "simulation_events": run.result.events,
        "critical_path_s": run.path.by_kind,
    }
    edited = any(values.get(key) for key in _FABRIC_WHATIFS)
    if slow or neighbour or edited:
        if edited:
            plain = {k: v for k, v in values.items() if k not in _FABRIC_WHATIFS}
            base_fabric = build_fabric(catalog, fabric_request_from(plain))
        else:
            base_fabric = fabric
        base = timeline_step(model, parallel, base_fabric, catalog, compute, **common)
        summary["whatif"] = {"description": _describe(values, nodes), **_whatif(base, changed)}
    if values.get("emit_trace"):
        path = Path(values["emit_trace"])
        command = _replay_command(values, path, fabric)
        p = parallel
        header = [
            f"interconnect-sim train: {model.id}, tp {p.tp} pp {p.pp} dp {p.dp} cp {p.cp} "
            f"ep {p.ep} vpp {p.vpp}, step {run.step_s:.6f} s",
            f"replay: {command}",
        ]
        write_trace(path, [*run.trace.events, *neighbour], header=header)
        summary.update(
            {
                "trace_file": str(path),
                "picture_file": str(path.with_suffix(".png")),
                "replay_command": command,
            }
        )
    return estimate, StepTimeline(run, summary)
