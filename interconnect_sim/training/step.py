"""One training iteration on a fabric, assembled from per-component timings.

The pieces, each small enough to read on one screen (and to replay one by one as a timeline):

* :mod:`.pipeline` cuts the model into chunks per pipeline rank (uneven first/last stages,
  embedding and loss in the split, virtual stages) and times the schedule: the slowest rank sets
  the pace of the steady state, the others' chunk-passes fill and drain it;
* :mod:`.stage_compute` times one chunk's forward and backward on one GPU (GEMMs in the training
  precision, routed experts, attention core, memory-bound work, recompute, LoRA);
* :mod:`.communication` times each kind of communication on the fabric (TP, CP, EP per chunk and
  micro-batch; PP warm-up and cool-down; DP gradient sync and the optimizer per step);
* :mod:`.memory` gives the memory of every rank (model states by ZeRO stage, expert sharding,
  activations in flight).

A rank's time per micro-batch is its chunks' compute plus the TP, CP and EP communication that
compute does not hide; the step is the pipeline's time plus the exposed pipeline sends plus the
exposed data-parallel sync and optimizer step of the rank holding most weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import GpuSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.communication import (
    CollectiveTimer,
    cp_time,
    ep_time,
    exposed_behind,
    pp_exposed,
    rank_weights,
)
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.data_parallel import dp_sync
from interconnect_sim.training.flops import Convention, flops_per_token
from interconnect_sim.training.memory import MemoryEstimate, estimate_memory, shortfall_message
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.moe import local_experts
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk, pipeline_time, stage_chunks
from interconnect_sim.training.stage_compute import ChunkCompute, GpuRates, chunk_compute, gpu_rates
from interconnect_sim.training.tensor_parallel import tp_exposed

__all__ = [
    "CollectiveTimer",
    "RankTiming",
    "StepEstimate",
    "StepSetup",
    "assemble_step",
    "estimate_step",
    "rank_timing",
    "step_setup",
    "step_warnings",
]


@dataclass(frozen=True, slots=True)
class StepEstimate:
    """One iteration: time, breakdown and derived throughput."""

    step_time_s: float
    breakdown_s: dict[str, float]
    tokens_per_s: float
    model_flops_per_token: float
    tflops_per_gpu: float
    mfu_pct: float
    peak_flops_per_gpu: float  # dense tensor peak of the training precision (MFU's denominator)
    memory: MemoryEstimate
    memory_capacity_bytes: float
    limiting_collectives: list[tuple[str, float]]
    warnings: list[str] = field(default_factory=list)
    rank_microbatch_s: list[float] = field(default_factory=list)
    rank_layers: list[int] = field(default_factory=list)
    slowest_rank: int = 0
    forward_fraction: float = 1.0 / 3.0  # forward share of the slowest rank's compute

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "step_time_s": self.step_time_s,
            "tokens_per_s": self.tokens_per_s,
            "tflops_per_gpu": self.tflops_per_gpu,
            "mfu_pct": self.mfu_pct,
            "memory_per_gpu_bytes": self.memory.total_bytes,
            "memory_capacity_bytes": self.memory_capacity_bytes,
            "memory_breakdown_bytes": {
                "parameters": self.memory.parameters_bytes,
                "gradients": self.memory.gradients_bytes,
                "optimizer": self.memory.optimizer_bytes,
                "activations": self.memory.activations_bytes,
            },
            "breakdown_s": self.breakdown_s,
            "limiting_collectives": [
                {"collective": name, "exposed_s": seconds}
                for name, seconds in self.limiting_collectives
            ],
            "warnings": self.warnings,
            "pipeline": {
                "layers_per_rank": self.rank_layers,
                "rank_microbatch_s": self.rank_microbatch_s,
                "slowest_rank": self.slowest_rank,
            },
        }


@dataclass(frozen=True, slots=True)
class RankTiming:
    """One pipeline rank's work per micro-batch: compute and exposed communication."""

    rank: int
    chunks: list[Chunk]
    compute: list[ChunkCompute]
    tp_s: float
    cp_s: float
    ep_s: float

    @property
    def forward_s(self) -> float:
        """Forward compute of all chunks."""
        return sum(c.forward_s for c in self.compute)

    @property
    def backward_s(self) -> float:
        """Backward compute of all chunks (recompute included)."""
        return sum(c.backward_s for c in self.compute)

    @property
    def microbatch_s(self) -> float:
        """Time the rank spends per micro-batch."""
        return self.forward_s + self.backward_s + self.tp_s + self.cp_s + self.ep_s


def rank_timing(
    timer: CollectiveTimer,
    model: ModelConfig,
    parallel: ParallelConfig,
    chunks: list[Chunk],
    rates: GpuRates,
    compute: ComputeCalibration,
    *,
    flash_attention: bool = True,
) -> RankTiming:
    """Compute and exposed TP / CP / EP communication of one rank per micro-batch."""
    p = parallel
    parts = [
        chunk_compute(model, p, c, rates, compute, flash_attention=flash_attention) for c in chunks
    ]
    tp = cp = ep = 0.0
    for chunk, part in zip(chunks, parts, strict=True):
        tp += tp_exposed(timer, model, p, chunk, part)
        cp += max(0.0, cp_time(timer, model, p, chunk) - 3 * part.attention_s)
        ep += exposed_behind(ep_time(timer, model, p, chunk), part, p)
    return RankTiming(chunks[0].rank if chunks else 0, chunks, parts, tp, cp, ep)


def _gpu(fabric: Fabric, catalog: Catalog, parallel: ParallelConfig) -> GpuSpec:
    gpus = fabric.gpus
    if parallel.world_size > len(gpus):
        raise ScenarioError(
            f"--tp {parallel.tp} x --cp {parallel.cp} x --dp {parallel.dp} x --pp {parallel.pp} "
            f"= {parallel.world_size} GPUs, but the fabric has {len(gpus)}"
        )
    return catalog.gpu(str(fabric.graph.nodes[gpus[0]]["spec"]))


def _check_memory(memory: MemoryEstimate, gpu: GpuSpec) -> None:
    if memory.total_bytes > gpu.memory_bytes:
        raise ScenarioError(shortfall_message(memory, gpu.memory_bytes, gpu.name))


def estimate_step(
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    *,
    engine: str = "analytic",
    flash_attention: bool = True,
    check_memory: bool = True,
    analytic: AnalyticEngine | None = None,
    cache: dict[Any, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> StepEstimate:
    """Time one training iteration of ``model`` split by ``parallel`` on ``fabric``.

    With ``engine="analytic"`` the closed form below; with ``"des"`` the step's trace replayed
    on the discrete-event engine (:func:`timeline_step`, which also takes the what-ifs).
    ``cache`` (a dict the caller keeps per fabric) reuses communicator analyses and collective
    times across calls, e.g. during a fit or a sweep. ``progress`` is called with a description
    before the discrete-event simulation (``engine="des"``), for a progress bar.

    Raises
    ------
    ScenarioError
        The job needs more GPUs than the fabric has, the layers or experts do not split as
        asked, the GPU lacks the precision, or (with ``check_memory``) the most loaded rank needs
        more memory than a GPU has, saying how much it needs and has.
    """
    if engine == "des":
        from interconnect_sim.training.step_timeline import timeline_step

        return timeline_step(
            model,
            parallel,
            fabric,
            catalog,
            compute,
            analytic=analytic,
            flash_attention=flash_attention,
            check_memory=check_memory,
            describe=progress,
        )[0]
    setup = step_setup(
        model, parallel, fabric, catalog, compute, analytic, check_memory, flash_attention
    )
    p, rates, memory, gpu = parallel, setup.rates, setup.memory, setup.gpu
    timer = CollectiveTimer(fabric, catalog, setup.analytic, p, cache)
    ranks = [
        rank_timing(timer, model, p, c, rates, compute, flash_attention=flash_attention)
        for c in setup.chunks
    ]
    pipe = pipeline_time([r.microbatch_s for r in ranks], p)
    pp = pp_exposed(timer, model, p)
    # The rank holding most weights has the longest gradient sync and optimizer step.
    heaviest = max(ranks, key=lambda r: sum(rank_weights(model, p, r.chunks)))
    tail = dp_sync(
        timer,
        model,
        p,
        heaviest.chunks,
        heaviest.forward_s,
        heaviest.backward_s,
        rates.memory_bytes_per_s,
    )
    step = pipe.total_s + pp + tail.exposed_s + tail.optimizer_s
    warnings = step_warnings(timer, rates, memory, gpu)
    m = p.microbatches
    slowest = ranks[pipe.slowest_rank]
    exposed = {
        "tp": m * slowest.tp_s,
        "cp": m * slowest.cp_s,
        "ep": m * slowest.ep_s,
        "pp": pp,
        "dp": tail.exposed_s,
    }
    compute_s = m * (slowest.forward_s + slowest.backward_s)
    return assemble_step(
        model,
        p,
        step,
        compute_s,
        pipe.bubble_s,
        exposed,
        tail.optimizer_s,
        ranks,
        slowest.rank,
        setup,
        warnings,
    )


@dataclass(frozen=True, slots=True)
class StepSetup:
    """What both engines start from."""

    analytic: AnalyticEngine
    gpu: GpuSpec
    chunks: list[list[Chunk]]
    memory: MemoryEstimate
    rates: GpuRates


def step_setup(
    model: ModelConfig,
    p: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    analytic: AnalyticEngine | None,
    check_memory: bool,
    flash_attention: bool,
) -> StepSetup:
    gpu = _gpu(fabric, catalog, p)
    analytic = analytic or AnalyticEngine(catalog)
    chunks = stage_chunks(model, p)
    local_experts(model, p)  # ep must divide the experts
    memory = estimate_memory(model, p, flash_attention=flash_attention)
    if check_memory:
        _check_memory(memory, gpu)
    arch = analytic.calibration.arch_class(gpu.architecture)
    rates = gpu_rates(gpu, arch, p.precision, compute)
    return StepSetup(analytic, gpu, chunks, memory, rates)


def step_warnings(
    timer: CollectiveTimer, rates: GpuRates, memory: MemoryEstimate, gpu: GpuSpec
) -> list[str]:
    warnings = list(dict.fromkeys(timer.warnings)) + list(rates.notes)
    if memory.total_bytes > gpu.memory_bytes:
        warnings.append(
            f"memory model says {memory.total_bytes / 1e9:.1f} GB per GPU (pipeline rank "
            f"{memory.rank}), more than the {gpu.memory_bytes / 1e9:.0f} GB of a {gpu.name}"
        )
    return warnings


def assemble_step(
    model: ModelConfig,
    p: ParallelConfig,
    step: float,
    compute_s: float,
    bubble: float,
    exposed: dict[str, float],
    optimizer_s: float,
    ranks: list[RankTiming],
    slowest: int,
    setup: StepSetup,
    warnings: list[str],
) -> StepEstimate:
    breakdown = {
        "compute": compute_s,
        "bubble": bubble,
        **{f"exposed_{k}": value for k, value in exposed.items()},
        "optimizer": optimizer_s,
    }
    model_flops = flops_per_token(model, p.seq_len, "model")
    tokens_per_s = p.tokens_per_step / step
    achieved = tokens_per_s * model_flops / p.world_size
    limiting = sorted(((k, v) for k, v in exposed.items() if v > 0), key=lambda kv: -kv[1])
    rank = ranks[slowest]
    return StepEstimate(
        step_time_s=step,
        breakdown_s=breakdown,
        tokens_per_s=tokens_per_s,
        model_flops_per_token=model_flops,
        tflops_per_gpu=achieved / 1e12,
        mfu_pct=100.0 * achieved / setup.rates.peak_flops_per_s,
        peak_flops_per_gpu=setup.rates.peak_flops_per_s,
        memory=setup.memory,
        memory_capacity_bytes=setup.gpu.memory_bytes,
        limiting_collectives=limiting,
        warnings=warnings,
        rank_microbatch_s=[r.microbatch_s for r in ranks],
        rank_layers=[sum(len(c.layers) for c in r.chunks) for r in ranks],
        slowest_rank=rank.rank,
        forward_fraction=rank.forward_s / (rank.forward_s + rank.backward_s),
    )


def tflops_under(
    convention: Convention,
    model: ModelConfig,
    parallel: ParallelConfig,
    step: StepEstimate,
    *,
    recompute: str = "none",
) -> float:
    """TFLOP/s per GPU of ``step`` counted with a published convention."""
    per_token = flops_per_token(model, parallel.seq_len, convention, recompute=recompute)
    return step.tokens_per_s * per_token / parallel.world_size / 1e12


ProgressHook = Callable[[str], None]
