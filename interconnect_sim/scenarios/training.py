"""A training estimate from option values: what ``train`` and training scenarios run.

``values`` are the dests of :func:`~interconnect_sim.scenarios.options.add_training_options`
(``vars(args)`` of the ``train`` command, or a training scenario's keys after conversion).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.layout_search import SearchSpace, recheck, search_layouts
from interconnect_sim.planning.placement import hosts_of
from interconnect_sim.scenarios.options import catalog_from, fabric_request_from
from interconnect_sim.scenarios.timeline import (
    StepTimeline,
    check_timeline_options,
    run_step_timeline,
)
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.system_readers import SystemHints
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.benchmarks import Benchmark, benchmark_time, load_benchmark
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.layout import default_pipeline_split, fastest_virtual_stages
from interconnect_sim.training.memory import fits_memory, shortfall_message
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
    mlperf: dict[str, Any] | None = None
    timeline: StepTimeline | None = None

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
        payload["vpp"] = self.parallel.vpp
        if self.mlperf is not None:
            payload["mlperf"] = self.mlperf
        if self.timeline is not None:
            payload["timeline"] = self.timeline.summary
        return payload


def _check_required(values: Mapping[str, Any]) -> None:
    needed: tuple[str, ...] = (
        ("model", "system") if values.get("layout") == "auto" else REQUIRED_TRAINING_OPTIONS
    )
    if values.get("benchmark"):  # the benchmark names the model
        needed = tuple(n for n in needed if n != "model")
    for required in needed:
        if values.get(required) is None:
            raise ScenarioError(
                f"--{required.replace('_', '-')} is required (or give it in the scenario)"
            )
    if values.get("nodes") is None and values.get("scalable_units") is None:
        raise ScenarioError("--nodes or --scalable-units is required (or give it in the scenario)")


def parallel_config(values: Mapping[str, Any], gpus: int, seq: int) -> ParallelConfig:
    """The parallel layout of option values on a fabric of ``gpus`` GPUs.

    Without ``dp``, data parallelism fills the fabric; with it the job may use fewer GPUs than
    the fabric has (spares). Without ``global_batch``, about 4M tokens per step in whole
    micro-batches per replica. ``vpp = "auto"`` starts at 1 (the caller searches).
    """
    tp, pp, cp = values["tp"], values["pp"], values.get("cp") or 1
    dp = values.get("dp")
    if dp is None:
        if gpus % (tp * pp * cp):
            raise ScenarioError(
                f"--tp {tp} x --pp {pp} x --cp {cp} = {tp * pp * cp}: {gpus} GPUs do not split "
                "into it; give dp to use fewer of them"
            )
        dp = gpus // (tp * pp * cp)
    micro = values.get("micro_batch") or 1
    batch = values.get("global_batch")
    if batch is None:  # about 4M tokens per step, a whole number of micro-batches per replica
        per_step = dp * micro
        batch = max(per_step, round(4_194_304 / seq / per_step) * per_step)
    vpp = values.get("vpp") or "auto"
    return ParallelConfig(
        tp=tp,
        pp=pp,
        dp=dp,
        cp=cp,
        ep=values.get("ep") or 1,
        etp=values.get("etp"),
        vpp=1 if vpp == "auto" else int(vpp),
        pp_first_stage_layers=values.get("pp_first_stage_layers"),
        pp_last_stage_layers=values.get("pp_last_stage_layers"),
        pp_embedding_in_split=bool(values.get("pp_embedding_in_split")),
        pp_loss_in_split=bool(values.get("pp_loss_in_split")),
        micro_batch=micro,
        global_batch=batch,
        seq_len=seq,
        sequence_parallel=not values.get("no_sequence_parallel", False),
        zero_stage=1 if values.get("zero") is None else values["zero"],
        fp32_gradients=bool(values.get("fp32_grads")),
        recompute=values.get("recompute") or "none",
        precision=values.get("precision") or "bf16",
        tp_comm_overlap=bool(values.get("tp_overlap", False)),
        moe_capacity_factor=values.get("moe_capacity_factor"),
        moe_load_imbalance=values.get("moe_load_imbalance") or 1.0,
        moe_a2a_overlap=bool(values.get("moe_a2a_overlap")),
        lora_rank=values.get("lora_rank") or 0,
        lora_mlp=bool(values.get("lora_mlp")),
        packed_document_tokens=values.get("packed_document_tokens"),
    )


def benchmark_setup(values: dict[str, Any]) -> Benchmark | None:
    """Apply ``benchmark``: its model, sequence length and LoRA settings."""
    if not values.get("benchmark"):
        return None
    benchmark = load_benchmark(values["benchmark"])
    if values.get("model") not in (None, benchmark.model):
        raise ScenarioError(
            f"--benchmark {benchmark.id} trains {benchmark.model}, not {values['model']}"
        )
    if values.get("global_batch") is None:
        batches = [b for b, _ in benchmark.rcp]
        raise ScenarioError(
            f"--benchmark {benchmark.id} needs --global-batch (reference convergence points "
            f"cover {batches[0]} to {batches[-1]} sequences)"
        )
    values["model"] = benchmark.model
    values["seq"] = benchmark.seq_len
    if benchmark.lora_rank and not values.get("lora_rank"):
        values["lora_rank"], values["lora_mlp"] = benchmark.lora_rank, benchmark.lora_mlp
    return benchmark


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
    """The fastest layout that fits (``layout = "auto"``), and a JSON-ready account of the
    search; knobs the values give stay fixed."""
    fixed: dict[str, Any] = {k: (values[k],) for k in ("tp", "pp", "cp", "ep") if values.get(k)}
    if values.get("vpp") not in (None, "auto"):
        fixed["vpp"] = (int(values["vpp"]),)
    if values.get("micro_batch"):
        fixed["micro_batch"] = (values["micro_batch"],)
    if values.get("zero") is not None:
        fixed["zero_stages"] = (values["zero"],)
    if values.get("recompute"):
        fixed["recompute"] = (values["recompute"],)
    batch = values.get("global_batch") or max(1, round(4_194_304 / seq))
    compute = load_compute_calibration()
    result = search_layouts(
        model,
        fabric,
        catalog,
        compute,
        global_batch=batch,
        seq_len=seq,
        precision=values.get("precision") or "bf16",
        space=SearchSpace(**fixed),
        tp_comm_overlap=bool(values.get("tp_overlap")),
        flash_attention=not values.get("no_flash_attention", False),
        analytic=AnalyticEngine(catalog, load_calibration(values.get("calibration"))),
    )
    best = result.best
    if (values.get("engine") or "analytic") == "des":
        best = recheck(best[:3], model, fabric, catalog, compute)
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
            "gpu": request.gpu,
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
            "pp_first_stage_layers": p.pp_first_stage_layers,
            "pp_last_stage_layers": p.pp_last_stage_layers,
            "pp_embedding_in_split": p.pp_embedding_in_split,
            "pp_loss_in_split": p.pp_loss_in_split,
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


def _step(
    values: Mapping[str, Any],
    model: ModelConfig,
    fabric: Fabric,
    catalog: Catalog,
    progress: Callable[[str], None] | None,
) -> tuple[ParallelConfig, StepEstimate, dict[str, Any] | None]:
    """The layout (given, its interleaving searched, or all of it searched) and its step in the
    closed form (the timeline, with ``engine = "des"``, follows in :func:`run_training`)."""
    seq = values.get("seq") or model.seq_len
    des = (values.get("engine") or "analytic") == "des"
    flash = not values.get("no_flash_attention", False)
    analytic = AnalyticEngine(catalog, load_calibration(values.get("calibration")))
    compute = load_compute_calibration()
    if values.get("layout") == "auto":
        parallel, search = _auto_layout(values, model, fabric, catalog, seq)
        parallel = default_pipeline_split(model, parallel)
    else:
        search = None
        parallel = parallel_config(values, len(fabric.gpus), seq)
        if (values.get("vpp") or "auto") == "auto":
            parallel, step = fastest_virtual_stages(
                model,
                parallel,
                fabric,
                catalog,
                compute,
                scheduled=des,
                flash_attention=flash,
                analytic=analytic,
            )
            return parallel, step, None
        parallel = default_pipeline_split(model, parallel)
    del progress  # the closed form needs none; the timeline reports events as they end
    step = estimate_step(
        model,
        parallel,
        fabric,
        catalog,
        compute,
        check_memory=False,
        flash_attention=flash,
        analytic=analytic,
    )
    return parallel, step, search


def run_training(
    values: Mapping[str, Any],
    *,
    catalog: Catalog | None = None,
    fabric: Fabric | None = None,
    progress: Callable[[str], None] | None = None,
    timeline_progress: Callable[[int, int], None] | None = None,
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
    timeline_progress : callable, optional
        ``(done, total)`` as the step's timeline replays (``--engine des``).
    """
    values = dict(values)
    _check_required(values)
    check_timeline_options(values)
    benchmark = benchmark_setup(values)
    catalog = catalog or catalog_from(values)
    model = load_model(str(values["model"]))
    request = fabric_request_from(values)
    fabric = fabric if fabric is not None else build_fabric(catalog, request)
    if benchmark is not None and values.get("global_batch"):
        benchmark.samples_to_target(int(values["global_batch"]))  # in range, before any work
    parallel, step, search = _step(values, model, fabric, catalog, progress)
    timeline = None
    if (values.get("engine") or "analytic") == "des":
        if progress is not None:
            progress("step timeline")
        options = {
            "flash_attention": not values.get("no_flash_attention", False),
            "analytic": AnalyticEngine(catalog, load_calibration(values.get("calibration"))),
        }
        step, timeline = run_step_timeline(
            values,
            model,
            parallel,
            fabric,
            catalog,
            load_compute_calibration(),
            options,
            progress=timeline_progress,
        )
    if fits_memory(step.memory, step.memory_capacity_bytes) == "no":
        gpu_name = catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"])).name
        layout = (  # what the user chose: the --model value (a preset id or a file), the layout
            f"{values['model']} at --tp {parallel.tp} --pp {parallel.pp} --cp {parallel.cp} "
            f"--dp {parallel.dp} --micro-batch {parallel.micro_batch} --seq {parallel.seq_len}"
        )
        raise ScenarioError(
            f"{layout}: " + shortfall_message(step.memory, step.memory_capacity_bytes, gpu_name)
        )
    engine = values.get("engine") or "analytic"
    run = TrainingRun(model, request, fabric, parallel, step, None, engine, search, None, timeline)
    ttt = None
    if values.get("tokens"):
        hints = SystemHints(gpu=request.gpu, nic=request.nic)  # a dump's --gpu / --nic
        system = catalog.resolve_system(request.system, hints)
        ttt = time_to_train(
            values["tokens"],
            step.tokens_per_s,
            parallel.world_size,
            hosts_of(system, run.nodes_in_job),
            _goodput(values, model),
        )
    mlperf = None
    if benchmark is not None:
        mlperf = benchmark_time(
            benchmark, parallel.global_batch, step.step_time_s, step.forward_fraction
        ).to_json()
    return TrainingRun(
        model, request, fabric, parallel, step, ttt, engine, search, mlperf, timeline
    )
