"""A training estimate from option values: what ``train`` and training scenarios run.

``values`` are the dests of :func:`~interconnect_sim.scenarios.options.add_training_options`
(``vars(args)`` of the ``train`` command, or a training scenario's keys after conversion).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interconnect_sim.calibration.model import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.layout_search import SearchSpace, recheck, search_layouts
from interconnect_sim.planning.placement import hosts_of
from interconnect_sim.scenarios.options import catalog_from, fabric_request_from
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import ModelConfig, load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate, estimate_step
from interconnect_sim.training.time_to_train import (
    Goodput,
    TimeToTrain,
    checkpoint_cost_s,
    load_failure_profile,
    time_to_train,
)

__all__ = [
    "COLLECTIVE_NAMES",
    "REQUIRED_TRAINING_OPTIONS",
    "TrainingRun",
    "parallel_config",
    "run_training",
    "training_inputs",
]

REQUIRED_TRAINING_OPTIONS = ("model", "system", "tp", "pp")
"""Options a training run cannot do without (plus ``nodes`` or ``scalable_units``); with
``layout = "auto"`` only ``model`` and ``system``."""

COLLECTIVE_NAMES = {
    "tp": "TP all-gather / reduce-scatter (all-reduce without SP) per layer",
    "cp": "CP ring exchange of K and V per layer",
    "ep": "EP all-to-all dispatch and combine per MoE layer",
    "pp": "PP send/recv of activations (pipeline warm-up and cool-down)",
    "dp": "DP gradient reduce-scatter and parameter all-gather",
}
"""What each parallelism's exposed communication is, in words."""


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """One training estimate with everything it was computed from."""

    model: ModelConfig
    request: FabricRequest
    fabric: Fabric
    parallel: ParallelConfig
    step: StepEstimate
    time_to_train: TimeToTrain | None
    engine: str
    search: dict[str, Any] | None = None

    @property
    def nodes_in_job(self) -> int:
        """Systems the job's ranks occupy (the fabric may hold spares)."""
        per_node = int(self.fabric.graph.graph.get("gpus_per_node") or len(self.fabric.gpus))
        return math.ceil(self.parallel.world_size / per_node)

    def to_json(self) -> dict[str, Any]:
        """The step estimate with the model, system, GPUs and time-to-train."""
        payload = self.step.to_json()
        ttt = None if self.time_to_train is None else self.time_to_train.to_json()
        payload.update(
            {
                "model": self.model.id,
                "system": self.fabric.graph.graph.get("system", self.request.system),
                "gpus": self.parallel.world_size,
                "time_to_train_days": None if ttt is None else ttt["time_to_train_days"],
            }
        )
        if ttt is not None:
            payload["time_to_train"] = ttt
        return payload


def _check_required(values: Mapping[str, Any]) -> None:
    needed = ("model", "system") if values.get("layout") == "auto" else REQUIRED_TRAINING_OPTIONS
    for required in needed:
        if values.get(required) is None:
            raise ScenarioError(
                f"--{required.replace('_', '-')} is required (or give it in the scenario)"
            )
    if values.get("nodes") is None and values.get("scalable_units") is None:
        raise ScenarioError("--nodes or --scalable-units is required (or give it in the scenario)")


def parallel_config(values: Mapping[str, Any], gpus: int, seq: int) -> ParallelConfig:
    """The parallel layout of option values on a fabric of ``gpus`` GPUs.

    Without ``dp``, data parallelism fills the fabric; without ``global_batch``, about 4M tokens
    per step in whole micro-batches per replica.
    """
    tp, pp, cp = values["tp"], values["pp"], values.get("cp") or 1
    dp = values.get("dp")
    if dp is None:
        if gpus % (tp * pp * cp):
            raise ScenarioError(
                f"{gpus} GPUs do not split into tp x pp x cp = {tp * pp * cp}; give dp to use "
                "fewer of them"
            )
        dp = gpus // (tp * pp * cp)
    micro = values.get("micro_batch") or 1
    batch = values.get("global_batch")
    if batch is None:  # about 4M tokens per step, a whole number of micro-batches per replica
        per_step = dp * micro
        batch = max(per_step, round(4_194_304 / seq / per_step) * per_step)
    return ParallelConfig(
        tp=tp,
        pp=pp,
        dp=dp,
        cp=cp,
        ep=values.get("ep") or 1,
        vpp=values.get("vpp") or 1,
        micro_batch=micro,
        global_batch=batch,
        seq_len=seq,
        sequence_parallel=not values.get("no_sequence_parallel", False),
        zero_stage=1 if values.get("zero") is None else values["zero"],
        recompute=values.get("recompute") or "none",
        precision=values.get("precision") or "bf16",
        tp_comm_overlap=bool(values.get("tp_overlap", False)),
    )


def _goodput(values: Mapping[str, Any], model: ModelConfig) -> Goodput:
    cost = values.get("checkpoint_cost")
    if cost is None and values.get("storage_bandwidth"):
        cost = checkpoint_cost_s(model.parameters(), values["storage_bandwidth"])
    return Goodput(
        mtbf_per_node_s=values.get("mtbf_node"),
        rates=load_failure_profile(values.get("failure_profile")).rates,
        checkpoint_interval_s=values.get("checkpoint_interval"),
        checkpoint_cost_s=cost,
        restart_s=values.get("restart"),
    )


def _auto_layout(
    values: Mapping[str, Any], model: ModelConfig, fabric: Fabric, catalog: Catalog, seq: int
) -> tuple[ParallelConfig, dict[str, Any]]:
    """The fastest layout that fits (``layout = "auto"``); given knobs stay fixed."""
    fixed: dict[str, Any] = {
        k: (values[k],) for k in ("tp", "pp", "cp", "ep", "vpp") if values.get(k)
    }
    if values.get("micro_batch"):
        fixed["micro_batch"] = (values["micro_batch"],)
    if values.get("zero") is not None:
        fixed["zero_stages"] = (values["zero"],)
    if values.get("recompute"):
        fixed["recompute"] = (values["recompute"],)
    batch = values.get("global_batch") or max(1, round(4_194_304 / seq))
    result = search_layouts(
        model,
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=batch,
        seq_len=seq,
        precision=values.get("precision") or "bf16",
        space=SearchSpace(**fixed),
        tp_comm_overlap=bool(values.get("tp_overlap")),
        flash_attention=not values.get("no_flash_attention", False),
        analytic=AnalyticEngine(catalog, load_calibration()),
        gpus=len(fabric.gpus),
    )
    best = result.best
    if (values.get("engine") or "analytic") == "des":
        best = recheck(best[:3], model, fabric, catalog, load_compute_calibration())
    info = result.to_json()
    info["best"] = [{"layout": r.describe(), "step_time_s": r.step.step_time_s} for r in best]
    return best[0].parallel, info


def training_inputs(
    values: Mapping[str, Any], request: FabricRequest, p: ParallelConfig
) -> dict[str, Any]:
    """Every input an estimate used, after defaults and the layout search (``train --json``)."""
    return {
        "scenario": None if values.get("scenario") is None else str(values["scenario"]),
        "model": values["model"],
        "fabric": {
            "system": request.system,
            "nodes": request.node_count,
            "scalable_units": request.scalable_units,
            "nic": request.nic,
            "nic_count": request.nic_count,
            "switch": request.switch,
            "levels": request.levels,
            "oversubscription": request.oversubscription,
        },
        "layout_mode": "auto" if values.get("layout") == "auto" else "explicit",
        "parallel": {
            "tp": p.tp,
            "pp": p.pp,
            "dp": p.dp,
            "cp": p.cp,
            "ep": p.ep,
            "vpp": p.vpp,
            "micro_batch": p.micro_batch,
            "global_batch": p.global_batch,
            "seq": p.seq_len,
            "sequence_parallel": p.sequence_parallel,
            "zero": p.zero_stage,
            "recompute": p.recompute,
            "precision": p.precision,
            "tp_overlap": p.tp_comm_overlap,
        },
        "flash_attention": not values.get("no_flash_attention", False),
        "engine": values.get("engine") or "analytic",
        "tokens": values.get("tokens"),
        "failures": {
            k: values.get(k)
            for k in (
                "mtbf_node",
                "failure_profile",
                "storage_bandwidth",
                "checkpoint_interval",
                "checkpoint_cost",
                "restart",
            )
        },
    }


def run_training(
    values: Mapping[str, Any],
    *,
    catalog: Catalog | None = None,
    fabric: Fabric | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingRun:
    """Estimate the step and time-to-train that ``values`` describe.

    Parameters
    ----------
    values : mapping
        Option values (dests of ``add_training_options``).
    catalog : Catalog, optional
        Default: the shipped catalog plus any ``catalog`` folders in ``values``.
    fabric : Fabric, optional
        Run on this fabric instead of the one ``values`` describe (a what-if built in Python).
    progress : callable, optional
        Called with a description before each discrete-event simulation (``--engine des``).
    """
    _check_required(values)
    catalog = catalog or catalog_from(values)
    model = load_model(str(values["model"]))
    request = fabric_request_from(values)
    fabric = fabric if fabric is not None else build_fabric(catalog, request)
    seq = values.get("seq") or model.seq_len
    search = None
    if values.get("layout") == "auto":
        parallel, search = _auto_layout(values, model, fabric, catalog, seq)
    else:
        parallel = parallel_config(values, len(fabric.gpus), seq)
    engine = values.get("engine") or "analytic"
    step = estimate_step(
        model,
        parallel,
        fabric,
        catalog,
        load_compute_calibration(),
        engine=engine,
        flash_attention=not values.get("no_flash_attention", False),
        analytic=AnalyticEngine(catalog, load_calibration()),
        progress=progress,
    )
    run = TrainingRun(model, request, fabric, parallel, step, None, engine, search)
    ttt = None
    if values.get("tokens"):
        system = catalog.resolve_system(str(fabric.graph.graph["system"]))
        ttt = time_to_train(
            values["tokens"],
            step.tokens_per_s,
            parallel.world_size,
            hosts_of(system, run.nodes_in_job),
            _goodput(values, model),
        )
    return TrainingRun(model, request, fabric, parallel, step, ttt, engine, search)
