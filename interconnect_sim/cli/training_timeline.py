"""Running ``train --engine des``: the timeline, the what-if's baseline, the emitted trace and
its picture (orchestration only; the options are in :mod:`.training_whatif`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import PROG
from interconnect_sim.cli.training_whatif import (
    fabric_whatifs,
    healthy_fabric,
    neighbour_events,
    progress_bar,
    slowdowns,
    whatif_summary,
)
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate
from interconnect_sim.training.step_timeline import timeline_step
from interconnect_sim.training.timeline import TimelineRun
from interconnect_sim.workload.events import TraceEvent
from interconnect_sim.workload.trace import write_trace

__all__ = ["run_step_timeline"]

_REPLAY_OPTIONS = (
    ("oversubscription", "--oversubscription"),
    ("levels", "--levels"),
    ("nic", "--nic"),
    ("nic_count", "--nic-count"),
    ("switch", "--switch"),
    ("nvlink_lanes", "--nvlink-lanes"),
)


def _description(values: dict[str, Any], neighbour_nodes: list[int]) -> str:
    parts = [f"node {text.replace('=', ' ')} slower" for text in values.get("slow_node") or ()]
    parts += [f"GPU rank {text.replace('=', ' ')} slower" for text in values.get("slow_gpu") or ()]
    for key, label in (
        ("fail_link", "failed link"),
        ("disable_links", "disabled links"),
        ("fail_device", "failed"),
        ("degrade_link", "degraded link"),
        ("degrade_device", "degraded"),
    ):
        parts += [
            f"{label} {' '.join(map(str, item)) if isinstance(item, (list, tuple)) else item}"
            for item in values.get(key) or ()
        ]
    if neighbour_nodes:
        parts.append(
            f"neighbour job {Path(values['neighbour_trace']).name} on {len(neighbour_nodes)} "
            f"node(s) {neighbour_nodes[0]}-{neighbour_nodes[-1]}"
        )
    return "; ".join(parts)


def _replay_command(values: dict[str, Any], path: Path, fabric: Fabric) -> str:
    words = [PROG, "replay", str(path), "--system", str(values["system"])]
    words += ["--nodes", str(fabric.graph.graph["node_count"])]
    for key, flag in _REPLAY_OPTIONS:
        if values.get(key) not in (None, 1.0):
            words += [flag, str(values[key])]
    for key in ("fail_link", "disable_links", "fail_device", "degrade_link", "degrade_device"):
        flag = "--" + key.replace("_", "-")
        for item in values.get(key) or ():
            words += [flag, *(map(str, item) if isinstance(item, (list, tuple)) else [str(item)])]
    if values.get("neighbour_trace"):
        words += ["--copies", "separate"]
    return " ".join(words)


def _emit(
    path: Path,
    run: TimelineRun,
    neighbour: list[TraceEvent],
    header: list[str],
    title: str,
) -> Path:
    from interconnect_sim.report.drawing import save_figure
    from interconnect_sim.report.step_timeline import plot_step_timeline

    write_trace(path, [*run.trace.events, *neighbour], header=header)
    picture = path.with_suffix(".png")
    stages = len({stage for _, stage in run.trace.lanes.values()})
    lanes = stages * (len(run.trace.layout.classes) + 1) + (1 if neighbour else 0)
    save_figure(
        picture,
        lambda ax: plot_step_timeline(
            ax,
            run.result.calls,
            run.trace.lanes,
            step_s=run.step_s,
            title=title,
            neighbour=run.neighbour.calls if run.neighbour else (),
        ),
        size=(12, max(3.0, 0.28 * lanes + 1.2)),
    )
    return picture


def run_step_timeline(
    values: dict[str, Any],
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    options: dict[str, Any],
    *,
    quiet: bool,
) -> tuple[StepEstimate, dict[str, Any]]:
    """The step as a timeline with the options' what-ifs; a JSON-ready summary beside it."""
    g = int(fabric.graph.graph["gpus_per_node"])
    slow = slowdowns(values, g, parallel.world_size)
    neighbour, nodes = neighbour_events(values, fabric, parallel)
    common = {**options, "check_memory": False, "schedule": values.get("schedule")}
    progress, bar = progress_bar(not quiet)
    try:
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
    finally:
        if bar is not None:
            bar.close()
    estimate, run = changed
    summary: dict[str, Any] = {
        "events": len(run.trace.events),
        "schedule": run.trace.schedule,
        "classes": [list(c) for c in run.trace.layout.classes],
        "simulation_events": run.result.events,
        "critical_path_s": run.path.by_kind,
    }
    if slow or neighbour or fabric_whatifs(values):
        base_fabric = healthy_fabric(values, catalog) if fabric_whatifs(values) else fabric
        base = timeline_step(model, parallel, base_fabric, catalog, compute, **common)
        summary["whatif"] = {
            "description": _description(values, nodes),
            **whatif_summary(base, changed),
        }
    if values.get("emit_trace"):
        path = Path(values["emit_trace"])
        command = _replay_command(values, path, fabric)
        title = f"{model.name} on {fabric.name}: step {run.step_s:.3f} s ({run.trace.schedule})"
        header = [
            f"{PROG} train: {model.id}, tp {parallel.tp} pp {parallel.pp} dp {parallel.dp} "
            f"cp {parallel.cp} ep {parallel.ep} vpp {parallel.vpp}, step {run.step_s:.6f} s",
            f"replay: {command}",
        ]
        picture = _emit(path, run, neighbour, header, title)
        summary.update(
            {"trace_file": str(path), "picture_file": str(picture), "replay_command": command}
        )
    return estimate, summary
