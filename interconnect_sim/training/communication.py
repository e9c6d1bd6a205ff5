"""The communication of every parallelism in a training step, timed on the fabric.

One function per kind, each returning seconds (and what of it compute hides), on the groups
Megatron's rank layout puts there (:meth:`~.parallel.ParallelConfig.group`):

==========  ==========================================================  =========================
parallel     collectives                                                 hidden behind
==========  ==========================================================  =========================
TP (+SP)     per layer and micro-batch 4 all-gather / reduce-scatter     the layer's GEMMs, only
             (all-reduce without SP), 6 with full recompute; a MoE       with TP comm overlap
             layer with ``etp = 1`` and no shared expert only its
             attention's 2
CP           ring exchange of K and V, (c-1) steps, 3x for backward      the attention core
EP           per MoE layer and micro-batch dispatch and combine          nothing, or the other
             all-to-all forward, again backward (and for the recompute);  micro-batch's compute
             with ``etp > 1`` an all-gather / reduce-scatter of the       with ``moe_a2a_overlap``
             received tokens in the expert-TP group
PP           send/recv of activations between stages                     steady state; warm-up
                                                                         and cool-down exposed
DP           per step gradient reduce-scatter + parameter all-gather     last micro-batch's
             (all-reduce with ZeRO 0; x3 with ZeRO-3), dense weights      backward / first forward
             over the DP group, routed experts over expert-DP
==========  ==========================================================  =========================

With the discrete-event engine every group of a kind issues its collective at once (all TP
groups, all DP groups ...) so they contend for the links they share, and the slowest group's
time is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.memory import chunk_parameters, lora_parameters
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.moe import ACTIVATION_BYTES, dispatch_bytes_per_gpu
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.stage_compute import ChunkCompute
from interconnect_sim.workload.trace import TraceCall

__all__ = [
    "CollectiveTimer",
    "DataParallelSync",
    "cp_time",
    "dp_sync",
    "ep_time",
    "pp_exposed",
    "rank_weights",
    "tp_time",
]

_OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER = 32.0  # Adam update: read/write fp32 states and copies
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
        if kind in ("tp", "etp") and len(nodes) > 1:
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
                self._cache[key] = self._replay(kind, op, size_bytes)
        return self._cache[key]

    def _replay(self, kind: str, op: CollectiveOp, size_bytes: float) -> float:
        assert self.des is not None
        if self.progress is not None:
            self.progress(f"{kind} {op.value} {size_bytes / 1e6:.4g} MB")
        p2p_comm = "pairs" if kind in _PAIRWISE_P2P else "group"
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
        return max(c.duration_s for c in result.calls)


def _activation_bytes(model: ModelConfig, parallel: ParallelConfig) -> float:
    """One micro-batch's hidden states of a TP group: ``b s / cp x h`` 16-bit values."""
    return parallel.micro_batch * parallel.seq_len / parallel.cp * model.hidden * ACTIVATION_BYTES


def tp_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Tensor-parallel collectives of one chunk for one micro-batch (forward and backward)."""
    p = parallel
    act = _activation_bytes(model, p)
    if p.sequence_parallel:
        one = (
            timer.time("tp", CollectiveOp.ALL_GATHER, act)
            + timer.time("tp", CollectiveOp.REDUCE_SCATTER, act)
        ) / 2
    else:
        one = timer.time("tp", CollectiveOp.ALL_REDUCE, act)
    units = 0.0
    for layer in chunk.layers:
        moe = model.moe if model.is_moe_layer(layer) else None
        mlp_free = moe is not None and p.expert_tp == 1 and not moe.shared_experts
        units += 2.0 if mlp_free else 4.0
    return units * (1.5 if p.recompute == "full" else 1.0) * one


def cp_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Context-parallel ring exchange of K and V of one chunk for one micro-batch."""
    p = parallel
    tokens = p.micro_batch * p.seq_len / p.cp
    kv = tokens * 2 * model.kv_heads * model.dim_head * ACTIVATION_BYTES / p.tp
    return 3 * (p.cp - 1) * len(chunk.layers) * timer.time("cp", CollectiveOp.SENDRECV, kv)


def ep_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Expert-parallel all-to-alls (and expert-TP gathers) of one chunk for one micro-batch."""
    p = parallel
    moe_layers = sum(1 for layer in chunk.layers if model.is_moe_layer(layer))
    if not moe_layers:
        return 0.0
    size = dispatch_bytes_per_gpu(model, p)
    per_pass = 2 * timer.time("ep", CollectiveOp.ALLTOALL, size)  # dispatch + combine
    if p.expert_tp > 1:
        gathered = size * p.expert_tp
        per_pass += timer.time("etp", CollectiveOp.ALL_GATHER, gathered) + timer.time(
            "etp", CollectiveOp.REDUCE_SCATTER, gathered
        )
    passes = 3 if p.recompute == "full" else 2
    return moe_layers * passes * per_pass


def exposed_behind(comm_s: float, compute: ChunkCompute, parallel: ParallelConfig) -> float:
    """EP time left exposed when overlapped with another micro-batch's compute."""
    if not parallel.moe_a2a_overlap:
        return comm_s
    return max(0.0, comm_s - (compute.forward_s + compute.backward_s))


def pp_exposed(timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig) -> float:
    """Pipeline send/recv left exposed per step: warm-up and cool-down, ``2 (p - 1) v``."""
    p = parallel
    if p.pp == 1:
        return 0.0
    size = _activation_bytes(model, p) / (p.tp if p.sequence_parallel else 1)
    return 2 * (p.pp - 1) * p.vpp * timer.time("pp", CollectiveOp.SENDRECV, size)


@dataclass(frozen=True, slots=True)
class DataParallelSync:
    """Gradient and parameter synchronisation of one pipeline rank per step."""

    total_s: float
    exposed_s: float
    optimizer_s: float


def rank_weights(
    model: ModelConfig, parallel: ParallelConfig, chunks: list[Chunk]
) -> tuple[float, float]:
    """(dense, expert) weights per GPU whose gradients this rank synchronises."""
    p = parallel
    if p.lora_rank:
        layers = [layer for c in chunks for layer in c.layers]
        return lora_parameters(model, p.lora_rank, layers, mlp=p.lora_mlp) / p.tp, 0.0
    dense = experts = 0.0
    for chunk in chunks:
        d, e = chunk_parameters(model, chunk, p.pp)
        dense, experts = dense + d, experts + e
    return dense / p.tp, experts / (p.ep * p.expert_tp)


def dp_sync(
    timer: CollectiveTimer,
    model: ModelConfig,
    parallel: ParallelConfig,
    chunks: list[Chunk],
    forward_s: float,
    backward_s: float,
    memory_bytes_per_s: float,
) -> DataParallelSync:
    """Data-parallel gradient sync and the optimizer step of one rank.

    ``forward_s`` / ``backward_s`` are one micro-batch's passes on this rank (what the first
    all-gather and the last reduce-scatter overlap with).
    """
    p = parallel
    m = p.microbatches
    grad_bytes = 4.0 if p.fp32_gradients else 2.0
    total = exposed = optimizer_bytes = 0.0
    groups = zip(
        ("dp", "edp"), rank_weights(model, p, chunks), (p.dp * p.cp, p.expert_dp), strict=True
    )
    for kind, weights, replicas in groups:
        size = weights * grad_bytes
        if p.zero_stage == 0:
            t = timer.time(kind, CollectiveOp.ALL_REDUCE, size)
            total, exposed = total + t, exposed + max(0.0, t - backward_s)
        elif p.zero_stage in (1, 2):
            rs = timer.time(kind, CollectiveOp.REDUCE_SCATTER, size)
            ag = timer.time(kind, CollectiveOp.ALL_GATHER, weights * 2.0)
            total += rs + ag
            exposed += max(0.0, rs - backward_s) + max(0.0, ag - forward_s)
        else:  # ZeRO-3 / FSDP: parameters gathered for forward and backward
            t = 2 * timer.time(kind, CollectiveOp.ALL_GATHER, weights * 2.0) + timer.time(
                kind, CollectiveOp.REDUCE_SCATTER, size
            )
            total, exposed = total + t, exposed + max(0.0, t - m * (forward_s + backward_s))
        shard = replicas if p.zero_stage >= 1 else 1
        optimizer_bytes += weights / shard * _OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER
    return DataParallelSync(total, exposed, optimizer_bytes / memory_bytes_per_s)
