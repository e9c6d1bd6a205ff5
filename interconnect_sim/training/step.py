"""One training iteration on a fabric: compute, communication, pipeline bubble, overlap.

Per micro-batch and pipeline stage the GPU runs the stage's layers forward and backward:
GEMM FLOPs (:mod:`~interconnect_sim.training.flops`, the attention core halved with flash
attention's causal skipping) at a calibrated fraction of the dense tensor peak (FP8 for the GEMMs
when training in FP8, BF16 for attention), plus memory-bound work from HBM bandwidth. The
communication of every parallelism is timed on the fabric by a collective engine, on the groups
Megatron's rank layout puts there (tensor parallel innermost, pipeline outermost):

==========  =========================================================  ==========================
parallel     collectives per micro-batch (forward + backward)           hidden behind
==========  =========================================================  ==========================
TP (+SP)     4 per layer: all-gather / reduce-scatter (all-reduce       the layer's GEMMs, only
             without SP) of the layer's activations                     with TP comm overlap
CP           ring exchange of K and V, (c-1) steps, 3x for backward     the attention core
EP           all-to-all dispatch and combine per MoE layer, 2x bwd      nothing
PP           send/recv of activations between stages                    steady state; warm-up
                                                                        and cool-down exposed
DP           gradient reduce-scatter + parameter all-gather             last micro-batch's
             (all-reduce with ZeRO 0; per layer x3 with ZeRO-3)         backward / first forward
==========  =========================================================  ==========================

The pipeline runs ``m + (p - 1) / v`` micro-batch slots, of which ``(p - 1) / v`` are bubble.
With the discrete-event engine every group of a kind issues its collective at once (all TP
groups, all DP groups ...) so they contend for the links they share, and the slowest group's
time is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.flops import Convention, flops_per_token, forward_flops_per_token
from interconnect_sim.training.memory import MemoryEstimate, estimate_memory
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.workload.trace import TraceCall

__all__ = ["CollectiveTimer", "StepEstimate", "estimate_step"]

_ACTIVATION_BYTES = 2.0  # activations and gradients travel in 16-bit
_PARAMETER_BYTES = 2.0
_OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER = 32.0  # Adam update: read/write fp32 states and copies


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
        }


_PAIRWISE_P2P = frozenset({"cp"})
"""Group kinds whose sends run on PyTorch's 2-rank per-pair communicators: Transformer Engine's
context-parallel ring uses unbatched ``isend``/``irecv`` unless ``NVTE_BATCH_MHA_P2P_COMM`` is set
or CP = 2 (Megatron's pipeline sends are batched on the pipeline group)."""


class CollectiveTimer:
    """Times the collectives of one group kind on a fabric, with either engine."""

    def __init__(
        self,
        fabric: Fabric,
        catalog: Catalog,
        analytic: AnalyticEngine,
        des: DiscreteEventEngine | None,
        parallel: ParallelConfig,
        cache: dict[Any, Any] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.fabric = fabric
        self.analytic = analytic
        self.des = des
        self.parallel = parallel
        self.gpus = fabric.gpus
        self._shared = cache if cache is not None else {}
        self._cache: dict[Any, float] = self._shared.setdefault("times", {})
        self.warnings: list[str] = []
        self.progress = progress

    def _groups(self, kind: str) -> list[list[int]]:
        first = self.parallel.group(kind)
        world = self.parallel.world_size
        members = set()
        groups = []
        for start in range(world):
            if start in members:
                continue
            group = [start + r for r in first]
            if group[-1] >= world or any(r in members for r in group):
                continue
            members.update(group)
            groups.append(group)
        return groups

    def _bandwidths(self, kind: str) -> Any:
        ranks = tuple(self.parallel.group(kind))
        gpus = [self.gpus[r] for r in ranks]
        nodes = {self.fabric.graph.nodes[g]["node"] for g in gpus}
        if kind in ("tp", "ep") and len(nodes) > 1:
            self.warnings.append(
                f"{kind.upper()} group spans {len(nodes)} nodes: its traffic leaves the "
                "NVLink domain"
            )
        analyses = self._shared.setdefault("bandwidths", {})
        if ranks not in analyses:
            analyses[ranks] = self.analytic.bandwidths(self.fabric, gpus=gpus)
        bw = analyses[ranks]
        return replace(bw, p2p_pairs=True) if kind in _PAIRWISE_P2P else bw

    def time(self, kind: str, op: CollectiveOp, size_bytes: float) -> float:
        """Seconds for one collective of this group kind (slowest group under the DES)."""
        if len(self.parallel.group(kind)) < 2 or size_bytes <= 0:
            return 0.0
        key = (tuple(self.parallel.group(kind)), self.des is not None, op.value, float(size_bytes))
        if key not in self._cache:
            bw = self._bandwidths(kind)
            if self.des is None:
                est = self.analytic.estimate(None, op, [size_bytes], bandwidths=bw)
                self._cache[key] = float(est.time_s[0])
            else:
                p2p_comm = "pairs" if kind in _PAIRWISE_P2P else "group"
                if self.progress is not None:
                    self.progress(f"{kind} {op.value} {size_bytes / 1e6:.4g} MB")
                calls = [
                    TraceCall(
                        id=f"{kind}{i}",
                        op=op,
                        size_bytes=size_bytes,
                        ranks=tuple(g),
                        start_s=0.0,
                        p2p_comm=p2p_comm if op is CollectiveOp.SENDRECV else "group",
                    )
                    for i, g in enumerate(self._groups(kind))
                ]
                result = self.des.replay(self.fabric, calls, record_links=False)
                self._cache[key] = max(c.duration_s for c in result.calls)
        return self._cache[key]


def _stage_layers(model: ModelConfig, pp: int) -> range:
    per_stage = math.ceil(model.layers / pp)
    return range(min(per_stage, model.layers))


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

    ``cache`` (a dict the caller keeps per fabric) reuses communicator analyses and collective
    times across calls, e.g. during a fit or a sweep. ``progress`` is called with a description
    before each discrete-event simulation (``engine="des"``), for a progress bar.

    Raises
    ------
    ScenarioError
        The job needs more GPUs than the fabric has, or (with ``check_memory``) more memory per
        GPU than it has, saying how much it needs and has.
    """
    p = parallel
    gpus = fabric.gpus
    if p.world_size > len(gpus):
        raise ScenarioError(
            f"tp x cp x dp x pp = {p.world_size} GPUs, but the fabric has {len(gpus)}"
        )
    gpu = catalog.gpu(str(fabric.graph.nodes[gpus[0]]["spec"]))
    analytic = analytic or AnalyticEngine(catalog)
    arch = analytic.calibration.arch_class(gpu.architecture)
    if model.layers % p.pp:
        raise ScenarioError(f"{model.layers} layers do not split evenly over pp = {p.pp}")
    memory = estimate_memory(model, p, flash_attention=flash_attention)
    if check_memory and memory.total_bytes > gpu.memory_bytes:
        raise ScenarioError(
            f"does not fit: needs {memory.total_bytes / 1e9:.1f} GB per GPU (parameters "
            f"{memory.parameters_bytes / 1e9:.1f}, gradients {memory.gradients_bytes / 1e9:.1f}, "
            f"optimizer {memory.optimizer_bytes / 1e9:.1f}, activations "
            f"{memory.activations_bytes / 1e9:.1f}); {gpu.name} has "
            f"{gpu.memory_bytes / 1e9:.0f} GB. Raise tp/pp, use ZeRO or recompute."
        )
    bf16_peak = gpu.dense_bf16_flops_per_s or gpu.dense_fp16_flops_per_s
    gemm_peak = (gpu.dense_fp8_flops_per_s or bf16_peak) if p.precision == "fp8" else bf16_peak
    gemm_eff = compute.efficiency(arch, p.precision)
    attn_eff = compute.efficiency(arch, "bf16")

    tokens = p.micro_batch * p.seq_len / p.cp  # per GPU per micro-batch
    layers = _stage_layers(model, p.pp)
    s = p.seq_len
    all_fwd = forward_flops_per_token(model, s, causal=flash_attention, layers=layers, logits=False)
    attention_core = forward_flops_per_token(
        model, s, causal=flash_attention, layers=layers, logits=False
    ) - forward_flops_per_token(model, 0, layers=layers, logits=False)
    gemm_fwd = all_fwd - attention_core
    logits_fwd = 2.0 * model.hidden * model.vocab  # on the last stage
    gemm_fwd += logits_fwd
    gemm_time = tokens * gemm_fwd / p.tp / (gemm_peak * gemm_eff)
    attn_time = tokens * attention_core / p.tp / (bf16_peak * attn_eff)
    memory_time = (
        compute.memory_bytes_per_token_layer_hidden
        * model.hidden
        * tokens
        * len(layers)
        / p.tp
        / gpu.memory_bandwidth_bytes_per_s
    )
    forward = gemm_time + attn_time + memory_time
    backward = 2.0 * forward
    if p.recompute == "full":
        backward += forward
    elif p.recompute == "selective":
        backward += attn_time

    timer = CollectiveTimer(
        fabric,
        catalog,
        analytic,
        DiscreteEventEngine(catalog, analytic.calibration) if engine == "des" else None,
        p,
        cache,
        progress,
    )
    exposed: dict[str, float] = {}
    act = tokens * model.hidden * _ACTIVATION_BYTES

    # Tensor parallel: 4 collectives per layer (AG/RS with SP, AR without), 6 with full recompute.
    tp_calls = (6 if p.recompute == "full" else 4) * len(layers)
    if p.sequence_parallel:
        tp_one = (
            timer.time("tp", CollectiveOp.ALL_GATHER, act)
            + timer.time("tp", CollectiveOp.REDUCE_SCATTER, act)
        ) / 2
    else:
        tp_one = timer.time("tp", CollectiveOp.ALL_REDUCE, act)
    tp_time = tp_calls * tp_one
    tp_exposed = max(0.0, tp_time - 3 * gemm_time) if p.tp_comm_overlap else tp_time
    # Context parallel: ring exchange of K and V hidden behind the attention core.
    kv = tokens * 2 * model.kv_heads * model.dim_head * _ACTIVATION_BYTES / p.tp
    cp_time = 3 * (p.cp - 1) * len(layers) * timer.time("cp", CollectiveOp.SENDRECV, kv)
    cp_exposed = max(0.0, cp_time - 3 * attn_time)
    # Expert parallel: dispatch + combine all-to-all per MoE layer, twice more for backward.
    moe_layers = sum(1 for layer in layers if model.is_moe_layer(layer))
    ep_time = 0.0
    if model.moe is not None and p.ep > 1 and moe_layers:
        a2a = tokens * model.hidden * model.moe.top_k * _ACTIVATION_BYTES / p.tp
        ep_time = 4 * moe_layers * timer.time("ep", CollectiveOp.ALLTOALL, a2a * p.ep)
    per_microbatch = forward + backward + tp_exposed + cp_exposed + ep_time
    m, v = p.microbatches, p.vpp
    bubble = (p.pp - 1) / v * per_microbatch if p.pp > 1 else 0.0
    pipeline = m * per_microbatch
    # Pipeline p2p: steady state overlaps compute; warm-up and cool-down are exposed.
    p2p_size = act / (p.tp if p.sequence_parallel else 1)
    pp_exposed = (
        2 * (p.pp - 1) * v * timer.time("pp", CollectiveOp.SENDRECV, p2p_size) if p.pp > 1 else 0.0
    )

    # Data parallel (over dp x cp replicas of each shard).
    params = (
        estimate_memory(model, p).parameters_bytes
        / _PARAMETER_BYTES
        * (p.dp * p.cp if p.zero_stage >= 3 else 1)
    )
    grad_bytes = params * _PARAMETER_BYTES
    dp_kind = "dp"
    if p.zero_stage == 0:
        dp_time = timer.time(dp_kind, CollectiveOp.ALL_REDUCE, grad_bytes)
        dp_exposed = max(0.0, dp_time - backward)
    elif p.zero_stage in (1, 2):
        rs = timer.time(dp_kind, CollectiveOp.REDUCE_SCATTER, grad_bytes)
        ag = timer.time(dp_kind, CollectiveOp.ALL_GATHER, grad_bytes)
        dp_time = rs + ag
        dp_exposed = max(0.0, rs - backward) + max(0.0, ag - forward)
    else:  # ZeRO-3 / FSDP: parameters gathered per layer for forward and backward
        dp_time = 2 * timer.time(dp_kind, CollectiveOp.ALL_GATHER, grad_bytes) + timer.time(
            dp_kind, CollectiveOp.REDUCE_SCATTER, grad_bytes
        )
        dp_exposed = max(0.0, dp_time - m * (forward + backward))
    optimizer = (
        params
        / (p.dp * p.cp if p.zero_stage >= 1 else 1)
        * _OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER
        / gpu.memory_bandwidth_bytes_per_s
    )

    compute_total = m * (forward + backward)
    exposed = {
        "tp": m * tp_exposed,
        "cp": m * cp_exposed,
        "ep": m * ep_time,
        "pp": pp_exposed,
        "dp": dp_exposed,
    }
    step = pipeline + bubble + pp_exposed + dp_exposed + optimizer
    breakdown = {
        "compute": compute_total,
        "bubble": bubble,
        **{f"exposed_{k}": value for k, value in exposed.items()},
        "optimizer": optimizer,
    }
    model_flops = flops_per_token(model, p.seq_len, "model")
    tokens_per_s = p.tokens_per_step / step
    achieved = tokens_per_s * model_flops / p.world_size
    limiting = sorted(((k, v_) for k, v_ in exposed.items() if v_ > 0), key=lambda kv_: -kv_[1])
    warnings = list(dict.fromkeys(timer.warnings))  # one per group kind, not per call
    if memory.total_bytes > gpu.memory_bytes:
        warnings.append(
            f"memory model says {memory.total_bytes / 1e9:.1f} GB per GPU, more "
            f"than the {gpu.memory_bytes / 1e9:.0f} GB of a {gpu.name}"
        )
    del dp_time, cp_time, ep_time
    return StepEstimate(
        step_time_s=step,
        breakdown_s=breakdown,
        tokens_per_s=tokens_per_s,
        model_flops_per_token=model_flops,
        tflops_per_gpu=achieved / 1e12,
        mfu_pct=100.0 * achieved / gemm_peak,
        peak_flops_per_gpu=gemm_peak,
        memory=memory,
        memory_capacity_bytes=gpu.memory_bytes,
        limiting_collectives=limiting,
        warnings=warnings,
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
