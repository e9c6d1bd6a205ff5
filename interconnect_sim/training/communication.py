"""The communication of every parallelism in a training step, timed on the fabric.

One function per kind, each returning seconds (and what of it compute hides), on the groups
Megatron's rank layout puts there (:meth:`~.parallel.ParallelConfig.group`):

==========  ==========================================================  =========================
parallel     collectives                                                 hidden behind
==========  ==========================================================  =========================
TP (+SP)     per layer and micro-batch 2 all-gathers + 2 reduce-scatters  the pass's GEMMs: the
             forward, 4 + 2 backward (2 + 2 all-reduces without SP);      backward's async ones
             a MoE layer only its attention's (and shared experts');      always, the others with
             :mod:`.tensor_parallel` counts them with their sources       TP comm overlap
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

Each kind also lists its collectives (:class:`Collective`: group kind, op, size, count per
forward or backward pass, or per step) so that a schedule can issue them one by one
(:mod:`.step_trace`); the closed form above sums the same lists, timed on an idle fabric.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.memory import chunk_parameters, lora_parameters
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.moe import ACTIVATION_BYTES, dispatch_bytes_per_gpu
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.stage_compute import ChunkCompute

__all__ = [
    "Collective",
    "CollectiveTimer",
    "GradientSync",
    "Overlap",
    "PassCollectives",
    "cp_collectives",
    "cp_time",
    "dp_collectives",
    "ep_collectives",
    "ep_time",
    "pp_exposed",
    "pp_send",
    "rank_weights",
]

_OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER = 32.0  # Adam update: read/write fp32 states and copies
_PAIRWISE_P2P = frozenset({"cp"})
"""Group kinds whose sends run on PyTorch's 2-rank per-pair communicators: Transformer Engine's
context-parallel ring uses unbatched ``isend``/``irecv`` unless ``NVTE_BATCH_MHA_P2P_COMM`` is set
or CP = 2 (Megatron's pipeline sends are batched on the pipeline group)."""


class CollectiveTimer:
    """Times one collective of a group kind on an idle fabric (the analytic engine), on the
    group holding rank 0 (Megatron's layout makes the others alike)."""

    def __init__(
        self,
        fabric: Fabric,
        catalog: Catalog,
        analytic: AnalyticEngine,
        parallel: ParallelConfig,
        cache: dict[Any, Any] | None = None,
    ) -> None:
        self.fabric = fabric
        self.analytic = analytic
        self.parallel = parallel
        self.gpus = fabric.gpus
        self._shared = cache if cache is not None else {}
        self._cache: dict[Any, float] = self._shared.setdefault("times", {})
        self.warnings: list[str] = []

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
        """Seconds for one collective of this group kind."""
        if len(self.parallel.group(kind)) < 2 or size_bytes <= 0:
            return 0.0
        key = (tuple(self.parallel.group(kind)), kind in _PAIRWISE_P2P, op.value, float(size_bytes))
        if key not in self._cache:
            bw = self._bandwidths(kind)
            est = self.analytic.estimate(None, op, [size_bytes], bandwidths=bw)
            self._cache[key] = float(est.time_s[0])
        return self._cache[key]


def _activation_bytes(model: ModelConfig, parallel: ParallelConfig) -> float:
    """One micro-batch's hidden states of a TP group: ``b s / cp x h`` 16-bit values."""
    return parallel.micro_batch * parallel.seq_len / parallel.cp * model.hidden * ACTIVATION_BYTES


Overlap = Literal["none", "userbuffers", "async"]
"""What a collective may hide behind: ``none`` (it blocks the compute stream), ``userbuffers``
(the GEMM it feeds or follows, with TP communication overlap), ``async`` (issued on its own
stream beside the backward pass's GEMMs, with or without TP communication overlap)."""


@dataclass(frozen=True, slots=True)
class Collective:
    """``count`` collectives of one op and size on the groups of one kind, and what they may
    hide behind (:data:`Overlap`)."""

    kind: str
    op: CollectiveOp
    size_bytes: float
    count: float
    overlap: Overlap = "none"

    def time(self, timer: CollectiveTimer) -> float:
        """Seconds for all ``count`` of them."""
        return self.count * timer.time(self.kind, self.op, self.size_bytes)


@dataclass(frozen=True, slots=True)
class PassCollectives:
    """The collectives of one chunk and micro-batch: in its forward pass and in its backward
    pass (a full recompute's forward included)."""

    forward: tuple[Collective, ...] = ()
    backward: tuple[Collective, ...] = ()

    def time(self, timer: CollectiveTimer) -> float:
        """Seconds for all of them, forward and backward."""
        return sum(c.time(timer) for c in (*self.forward, *self.backward))


def _passes(per_pass: list[Collective], parallel: ParallelConfig) -> PassCollectives:
    """The same collectives in the forward and the backward pass (and the recompute)."""
    backward = 2.0 if parallel.recompute == "full" else 1.0
    return PassCollectives(
        tuple(per_pass),
        tuple(Collective(c.kind, c.op, c.size_bytes, backward * c.count) for c in per_pass),
    )


def cp_collectives(model: ModelConfig, parallel: ParallelConfig, chunk: Chunk) -> PassCollectives:
    """Context-parallel ring exchange of K and V: ``cp - 1`` steps per layer forward, twice
    that backward (and again for a full recompute)."""
    p = parallel
    if p.cp == 1 or not chunk.layers:
        return PassCollectives()
    tokens = p.micro_batch * p.seq_len / p.cp
    kv = tokens * 2 * model.kv_heads * model.dim_head * ACTIVATION_BYTES / p.tp
    steps = (p.cp - 1) * len(chunk.layers)
    forward = Collective("cp", CollectiveOp.SENDRECV, kv, steps)
    backward = 2.0 * steps + (steps if p.recompute == "full" else 0.0)
    return PassCollectives((forward,), (Collective("cp", CollectiveOp.SENDRECV, kv, backward),))


def cp_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Context-parallel ring exchange of K and V of one chunk for one micro-batch."""
    return cp_collectives(model, parallel, chunk).time(timer)


def ep_collectives(model: ModelConfig, parallel: ParallelConfig, chunk: Chunk) -> PassCollectives:
    """Per MoE layer and pass a dispatch and a combine all-to-all (and with ``etp > 1`` an
    all-gather and a reduce-scatter of the received tokens in the expert-TP group)."""
    p = parallel
    moe_layers = sum(1 for layer in chunk.layers if model.is_moe_layer(layer))
    if not moe_layers:
        return PassCollectives()
    size = dispatch_bytes_per_gpu(model, p)
    per_pass = [Collective("ep", CollectiveOp.ALLTOALL, size, 2.0 * moe_layers)]
    if p.expert_tp > 1:
        gathered = size * p.expert_tp
        per_pass += [
            Collective("etp", CollectiveOp.ALL_GATHER, gathered, moe_layers),
            Collective("etp", CollectiveOp.REDUCE_SCATTER, gathered, moe_layers),
        ]
    return _passes(per_pass, p)


def ep_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Expert-parallel all-to-alls (and expert-TP gathers) of one chunk for one micro-batch."""
    return ep_collectives(model, parallel, chunk).time(timer)


def exposed_behind(comm_s: float, compute: ChunkCompute, parallel: ParallelConfig) -> float:
    """EP time left exposed when overlapped with another micro-batch's compute."""
    if not parallel.moe_a2a_overlap:
        return comm_s
    return max(0.0, comm_s - (compute.forward_s + compute.backward_s))


def pp_send(model: ModelConfig, parallel: ParallelConfig) -> Collective:
    """One pipeline send/recv of a micro-batch's activations (or their gradients) between
    neighbouring stages (a 1/tp slice per GPU with sequence parallelism)."""
    p = parallel
    size = _activation_bytes(model, p) / (p.tp if p.sequence_parallel else 1)
    return Collective("pp", CollectiveOp.SENDRECV, size, 1.0)


def pp_exposed(timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig) -> float:
    """Pipeline send/recv left exposed per step: warm-up and cool-down, ``2 (p - 1) v``."""
    p = parallel
    if p.pp == 1:
        return 0.0
    return 2 * (p.pp - 1) * p.vpp * pp_send(model, p).time(timer)


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


@dataclass(frozen=True, slots=True)
class GradientSync:
    """The data-parallel collectives of one rank per step, by when they run, and the memory
    traffic of its optimizer step (bytes of HBM)."""

    before_forward: tuple[Collective, ...]  # parameter all-gathers (ZeRO 1-3)
    before_backward: tuple[Collective, ...]  # ZeRO-3's gather for the backward
    after_backward: tuple[Collective, ...]  # gradient reduce-scatter or all-reduce
    optimizer_bytes: float


def dp_collectives(
    model: ModelConfig, parallel: ParallelConfig, chunks: list[Chunk]
) -> GradientSync:
    """Data-parallel collectives of a rank holding ``chunks``: dense weights over the DP group,
    routed experts over expert-DP. ZeRO 0 all-reduces the gradients; 1 and 2 reduce-scatter
    them and all-gather the updated 16-bit weights; 3 (FSDP) gathers the weights for forward and
    again for backward."""
    p = parallel
    grad_bytes = 4.0 if p.fp32_gradients else 2.0
    before: list[Collective] = []
    again: list[Collective] = []
    after: list[Collective] = []
    optimizer_bytes = 0.0
    groups = zip(
        ("dp", "edp"), rank_weights(model, p, chunks), (p.dp * p.cp, p.expert_dp), strict=True
    )
    for kind, weights, replicas in groups:
        if not weights:
            continue
        size = weights * grad_bytes
        gather = Collective(kind, CollectiveOp.ALL_GATHER, weights * 2.0, 1.0)
        if p.zero_stage == 0:
            after.append(Collective(kind, CollectiveOp.ALL_REDUCE, size, 1.0))
        else:
            after.append(Collective(kind, CollectiveOp.REDUCE_SCATTER, size, 1.0))
            before.append(gather)
            if p.zero_stage == 3:
                again.append(gather)
        shard = replicas if p.zero_stage >= 1 else 1
        optimizer_bytes += weights / shard * _OPTIMIZER_TRAFFIC_BYTES_PER_PARAMETER
    return GradientSync(tuple(before), tuple(again), tuple(after), optimizer_bytes)
