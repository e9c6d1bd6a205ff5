"""Tensor-parallel collectives of a pipeline chunk, counted as Megatron-Core issues them.

A transformer layer holds two **TP regions**, each a column-parallel linear feeding a
row-parallel one: attention (QKV, then the output projection) and the MLP (FC1, then FC2). A
mixture-of-experts layer keeps the attention region, and the MLP region only for its shared
experts (``SharedExpertMLP`` is an ordinary TP MLP); its routed experts' communication is the
expert-parallel all-to-all and the expert-TP gathers inside the token dispatcher
(:func:`.communication.ep_collectives`), never this group's. Every collective below moves one
micro-batch's hidden states of the TP group, ``S = b s / cp x h`` values (nccl-tests' ``size``:
the gathered output of an all-gather, the input of a reduce-scatter, the buffer of an
all-reduce). Per region and micro-batch (source: Megatron-LM ``d98e8a6``,
``megatron/core/tensor_parallel/layers.py`` and ``mappings.py``; Transformer Engine ``d0067d0``,
``transformer_engine/pytorch/module/linear.py`` and ``layernorm_linear.py``):

==============  =========================================================  ==============
pass            with sequence parallelism                                  without
==============  =========================================================  ==============
forward         all-gather of the input before the column GEMM             all-reduce of
                (``LinearWithGradAccumulationAndAsyncCommunication.        the row GEMM's
                forward``, ``layers.py`` L623-629; TE ``_Linear``           output
                ``gather_along_first_dim``); reduce-scatter of the row     (``reduce_from_
                GEMM's output (``RowParallelLinear.forward`` L1561,        tensor_model_
                ``_ReduceScatterToSequenceParallelRegion``)                parallel_region``)
backward,       all-gather of the output gradient before the row layer's   (none: the
blocking        data-gradient GEMM (``_ReduceScatterToSequenceParallel     all-reduce's
                Region.backward`` = ``_gather_along_first_dim``; TE        backward is the
                ``grad_output_preprocess``)                                identity)
backward,       the column layer **re-gathers its input** for the weight-  all-reduce of the
async           gradient GEMM (only the 1/tp shard was saved;              column layer's
                ``layers.py`` L667-680, TE ``ln_out_needs_gather`` /       input gradient
                ``backward_input_needs_gather``), issued beside the data-  (``allreduce_
                gradient GEMM; reduce-scatter of the input gradient        dgrad``, L697),
                (L700-710), issued beside the weight-gradient GEMM         beside the wgrad
==============  =========================================================  ==============

So a dense layer moves, per micro-batch, 2 all-gathers + 2 reduce-scatters forward and
4 all-gathers + 2 reduce-scatters backward with sequence parallelism (10 collectives of ``S``),
2 + 2 all-reduces without; full recompute runs the forward's again in the backward pass.

**What hides.** The blocking ones stall the compute stream unless TP communication overlap
(``--tp-overlap``, Transformer Engine's userbuffers) pipelines them with the GEMM they feed or
follow: ``qkv/fc1_fprop`` (all-gather), ``proj/fc2_fprop`` (reduce-scatter),
``proj/fc2_dgrad`` (all-gather); the asynchronous ones overlap the backward GEMMs either way
(with userbuffers as ``*_dgrad`` / ``*_wgrad`` bulk overlaps). Both are hidden up to the pass's
GEMM time (:func:`tp_exposed`). Megatron-LM before September 2021 (Narayanan et al. 2021) ran
the backward all-reduce blocking (``ParallelConfig.tp_async_backward = False``).

**Bytes.** The all-gathers carry the GEMM's input in the training precision (Transformer Engine
quantises before it gathers: FP8 is one byte a value, plus its block scales for MXFP8, FP8
block scaling and NVFP4); reduce-scatters and all-reduces carry the BF16 GEMM output.

**Embedding and output layer.** The input embedding (vocab-parallel) reduce-scatters its output
(an all-reduce without SP) forward and gathers its gradient backward; the output layer is a
column-parallel linear in BF16 (gather forward; re-gather and reduce-scatter, async, backward;
an async all-reduce without SP), and the vocab-parallel cross-entropy all-reduces three FP32
values per token forward (max logit, target logit, sum of exponentials;
``tensor_parallel/cross_entropy.py``). DeepSeek's multi-token-prediction depths count as one more
block and output layer each. Not counted: the once-per-step all-reduce of the norm weights'
gradients under SP (kilobytes per layer).
"""

from __future__ import annotations

from collections.abc import Iterable

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.training.communication import (
    Collective,
    CollectiveTimer,
    Overlap,
    PassCollectives,
)
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.moe import ACTIVATION_BYTES
from interconnect_sim.training.parallel import ParallelConfig, gemm_input_bytes
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.stage_compute import ChunkCompute

__all__ = [
    "pass_gemm_s",
    "tp_collectives",
    "tp_exposed",
    "tp_regions",
    "tp_time",
]

AG, RS, AR = CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER, CollectiveOp.ALL_REDUCE
_LOGIT_STATISTICS = 3  # max logit, target logit, sum of exponentials (FP32 per token)
_FP32_BYTES = 4.0


def tp_regions(model: ModelConfig, layers: Iterable[int]) -> int:
    """Column-to-row-parallel regions of ``layers``: two per dense layer, one per MoE layer
    (attention) plus one when it has shared experts."""
    regions = 0
    for layer in layers:
        moe = model.moe if model.is_moe_layer(layer) else None
        regions += 2 if moe is None else 1 + (1 if moe.shared_experts else 0)
    return regions


def _region_calls(p: ParallelConfig, regions: float, values: float) -> list[list[Collective]]:
    """[forward, backward] collectives of ``regions`` TP regions (module table)."""
    gather = values * gemm_input_bytes(p.precision)
    reduce = values * ACTIVATION_BYTES
    behind: Overlap = "async" if p.tp_async_backward else "none"
    if p.sequence_parallel:
        forward = [
            Collective("tp", AG, gather, regions, "userbuffers"),
            Collective("tp", RS, reduce, regions, "userbuffers"),
        ]
        backward = [
            Collective("tp", AG, gather, regions, "userbuffers"),  # output gradient, row layer
            Collective("tp", AG, gather, regions, behind),  # input re-gather, column layer
            Collective("tp", RS, reduce, regions, behind),  # input gradient, column layer
        ]
    else:
        forward = [Collective("tp", AR, reduce, regions)]
        backward = [Collective("tp", AR, reduce, regions, behind)]
    return [forward, backward]


def _head_calls(p: ParallelConfig, values: float, tokens: float) -> list[list[Collective]]:
    """[forward, backward] collectives of the output layer (BF16) and the cross-entropy."""
    size = values * ACTIVATION_BYTES
    behind: Overlap = "async" if p.tp_async_backward else "none"
    statistics = Collective("tp", AR, tokens * _FP32_BYTES, _LOGIT_STATISTICS)
    if p.sequence_parallel:
        return [
            [Collective("tp", AG, size, 1.0), statistics],
            [Collective("tp", AG, size, 1.0, behind), Collective("tp", RS, size, 1.0, behind)],
        ]
    return [[statistics], [Collective("tp", AR, size, 1.0, behind)]]


def _embedding_calls(p: ParallelConfig, values: float) -> list[list[Collective]]:
    """[forward, backward] collectives of the vocab-parallel input embedding."""
    size = values * ACTIVATION_BYTES
    if p.sequence_parallel:
        return [[Collective("tp", RS, size, 1.0)], [Collective("tp", AG, size, 1.0)]]
    return [[Collective("tp", AR, size, 1.0)], []]


def _merged(calls: Iterable[Collective]) -> tuple[Collective, ...]:
    """Calls of the same op, size and overlap as one entry with their counts added."""
    counts: dict[tuple[str, CollectiveOp, float, Overlap], float] = {}
    for c in calls:
        if c.count > 0 and c.size_bytes > 0:
            key = (c.kind, c.op, c.size_bytes, c.overlap)
            counts[key] = counts.get(key, 0.0) + c.count
    return tuple(Collective(k, op, size, n, o) for (k, op, size, o), n in counts.items())


def tp_collectives(model: ModelConfig, parallel: ParallelConfig, chunk: Chunk) -> PassCollectives:
    """Tensor-parallel collectives of one chunk and micro-batch, forward and backward (a full
    recompute's forward included in the backward), as the module table counts them.

    Examples
    --------
    One dense layer, TP 8, one 4096-token sequence of hidden size 4096 in BF16: ``S`` = 32 MiB;
    forward an all-gather and a reduce-scatter per region, backward two all-gathers and a
    reduce-scatter per region.

    >>> from interconnect_sim.training.model import load_model
    >>> model = load_model("llama3-8b")
    >>> p = ParallelConfig(tp=8, global_batch=1, seq_len=4096)
    >>> c = tp_collectives(model, p, Chunk(0, 0, range(1)))
    >>> [(x.op.value, x.size_bytes / 2**20, x.count, x.overlap) for x in c.forward]
    [('all_gather', 32.0, 2.0, 'userbuffers'), ('reduce_scatter', 32.0, 2.0, 'userbuffers')]
    >>> sum(x.count for x in c.backward)
    6.0
    """
    p = parallel
    if p.tp == 1:
        return PassCollectives()
    tokens = p.micro_batch * p.seq_len / p.cp
    values = tokens * model.hidden
    regions = tp_regions(model, chunk.layers)
    parts = [_region_calls(p, regions, values)] if regions else []
    if chunk.embedding:
        parts.append(_embedding_calls(p, values))
    if chunk.loss:
        depths = model.mtp_layers
        if depths:
            mtp = depths * tp_regions(model, [model.layers - 1])
            parts.append(_region_calls(p, mtp, values))
        parts += [_head_calls(p, values, tokens)] * (1 + depths)
    forward = [c for part in parts for c in part[0]]
    backward = [c for part in parts for c in part[1]]
    if p.recompute == "full":
        layer_forward = _region_calls(p, regions, values)[0] if regions else []
        backward = [*layer_forward, *backward]
    return PassCollectives(_merged(forward), _merged(backward))


def tp_time(
    timer: CollectiveTimer, model: ModelConfig, parallel: ParallelConfig, chunk: Chunk
) -> float:
    """Seconds of all tensor-parallel collectives of one chunk for one micro-batch."""
    return tp_collectives(model, parallel, chunk).time(timer)


def pass_gemm_s(compute: ChunkCompute, *, backward: bool) -> float:
    """GEMM seconds of one pass of a chunk: the forward's, and in the backward the same share
    of the backward pass (data and weight gradients, a recompute's forward)."""
    if not backward:
        return compute.gemm_s
    if not compute.forward_s:
        return 0.0
    return compute.gemm_s * compute.backward_s / compute.forward_s


def hidden_in_pass(c: Collective, parallel: ParallelConfig) -> bool:
    """Whether a TP collective runs beside its pass's GEMMs (:data:`.communication.Overlap`)."""
    return c.overlap == "async" or (c.overlap == "userbuffers" and parallel.tp_comm_overlap)


def tp_exposed(
    timer: CollectiveTimer,
    model: ModelConfig,
    parallel: ParallelConfig,
    chunk: Chunk,
    compute: ChunkCompute,
) -> float:
    """Tensor-parallel seconds of one chunk and micro-batch that compute does not hide: the
    blocking collectives, and in each pass what the hidden ones take beyond its GEMMs."""
    passes = tp_collectives(model, parallel, chunk)
    exposed = 0.0
    for backward, calls in ((False, passes.forward), (True, passes.backward)):
        hidden = sum(c.time(timer) for c in calls if hidden_in_pass(c, parallel))
        exposed += sum(c.time(timer) for c in calls if not hidden_in_pass(c, parallel))
        exposed += max(0.0, hidden - pass_gemm_s(compute, backward=backward))
    return exposed
