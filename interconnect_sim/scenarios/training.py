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
from interconnect_sim.scenarios.options import apply_failures, fabric_request
from interconnect_sim.specs.catalog import Catalog, load_catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import ModelConfig, load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate, estimate_step
from interconnect_sim.training.time_to_train import Goodput, TimeToTrain, time_to_train

__all__ = [
    "COLLECTIVE_NAMES",
    "REQUIRED_TRAINING_OPTIONS",
    "TrainingRun",
    "parallel_config",
    "run_training",
    "training_fabric",
]

REQUIRED_TRAINING_OPTIONS = ("model", "system", "tp", "pp")
"""Options a training run cannot do without (plus ``nodes`` or ``scalable_units``)."""

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
                "system": self.request.system,
                "gpus": self.parallel.world_size,
                "time_to_train_days": None if ttt is None else ttt["time_to_train_days"],
            }
        )
        if ttt is not None:
            payload["time_to_train"] = ttt
        return payload


def training_fabric(catalog: Catalog, values: Mapping[str, Any]) -> Fabric:
    """The fabric a training run's option values describe, failures applied."""
    return apply_failures(build_fabric(catalog, fabric_request(values)), values)


def _check_required(values: Mapping[str, Any]) -> None:
    for required in REQUIRED_TRAINING_OPTIONS:
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


def _goodput(values: Mapping[str, Any]) -> Goodput | None:
    if not values.get("mtbf_node"):
        return None
    return Goodput(
        mtbf_per_node_s=values["mtbf_node"],
        checkpoint_interval_s=values.get("checkpoint_interval") or 3600.0,
        checkpoint_cost_s=values.get("checkpoint_cost") or 60.0,
        restart_s=values.get("restart") or 600.0,
    )


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
        Default: the shipped catalog.
    fabric : Fabric, optional
        Run on this fabric instead of the one ``values`` describe (a what-if with failures).
    progress : callable, optional
        Called with a description before each discrete-event simulation (``--engine des``).
    """
    _check_required(values)
    catalog = catalog or load_catalog()
    model = load_model(str(values["model"]))
    request = fabric_request(values)
    fabric = fabric if fabric is not None else training_fabric(catalog, values)
    parallel = parallel_config(values, len(fabric.gpus), values.get("seq") or model.seq_len)
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
    run = TrainingRun(model, request, fabric, parallel, step, None, engine)
    ttt = None
    if values.get("tokens"):
        ttt = time_to_train(
            values["tokens"],
            step.tokens_per_s,
            parallel.world_size,
            run.nodes_in_job,
            _goodput(values),
        )
    return TrainingRun(model, request, fabric, parallel, step, ttt, engine)
