"""Tensor-parallel collectives per layer and step, against hand-worked counts of what
Megatron-Core and Transformer Engine issue (``training/tensor_parallel.py`` cites the lines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.training.communication import Collective, CollectiveTimer, ep_collectives
from interconnect_sim.training.model import ModelConfig, MoE, load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.stage_compute import ChunkCompute
from interconnect_sim.training.tensor_parallel import tp_collectives, tp_exposed

AG, RS, AR = CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER, CollectiveOp.ALL_REDUCE
MiB = 2**20
# A toy dense model: hidden 4096, 2 layers; one 4096-token sequence per micro-batch, TP 8.
# One micro-batch's hidden states: S = 4096 tokens x 4096 values = 16 Mi values, 32 MiB in BF16.
DENSE = ModelConfig(
    id="toy", name="toy", layers=2, hidden=4096, heads=32, kv_heads=8, ffn=14336, vocab=32000,
    seq_len=4096, mlp="swiglu",
)  # fmt: skip
LAYERS = Chunk(0, 0, range(2))  # the two layers, neither embedding nor loss
STEP = {"tp": 8, "dp": 1, "global_batch": 8, "seq_len": 4096}  # 8 micro-batches per step
S_BF16 = 4096 * 4096 * 2


def _bytes(calls: tuple[Collective, ...], op: CollectiveOp | None = None) -> float:
    return sum(c.size_bytes * c.count for c in calls if op is None or c.op == op)


def _per_layer_per_step(p: ParallelConfig, model: ModelConfig = DENSE) -> tuple[float, float]:
    """(forward, backward) bytes per layer per step, from the per-micro-batch counts."""
    calls = tp_collectives(model, p, LAYERS)
    layers = len(LAYERS.layers)
    return (
        _bytes(calls.forward) / layers * p.microbatches,
        _bytes(calls.backward) / layers * p.microbatches,
    )


def test_sequence_parallel_layer_moves_ten_hidden_states_per_micro_batch() -> None:
    # Per layer and micro-batch, two TP regions (attention, MLP), each: forward an all-gather
    # (before QKV / FC1) and a reduce-scatter (after the projection / FC2); backward the
    # all-gather of the output gradient (row layer), the column layer's re-gather of its input
    # for the weight gradient and the reduce-scatter of its input gradient.
    # Forward 2 AG + 2 RS = 4 S, backward 4 AG + 2 RS = 6 S; S = 32 MiB.
    p = ParallelConfig(**STEP)
    calls = tp_collectives(DENSE, p, LAYERS)
    assert _bytes(calls.forward, AG) == 2 * 2 * S_BF16  # 2 layers x 2 regions
    assert _bytes(calls.forward, RS) == 2 * 2 * S_BF16
    assert _bytes(calls.backward, AG) == 2 * 4 * S_BF16
    assert _bytes(calls.backward, RS) == 2 * 2 * S_BF16
    # Per layer per step (8 micro-batches): 8 x 4 x 32 MiB = 1 GiB forward, 1.5 GiB backward.
    forward, backward = _per_layer_per_step(p)
    assert (forward, backward) == (8 * 4 * 32 * MiB, 8 * 6 * 32 * MiB)
    assert forward + backward == 2.5 * 2**30


def test_without_sequence_parallelism_two_all_reduces_each_way() -> None:
    # Forward: all-reduce after the projection and after FC2; backward: all-reduce of the
    # input gradient of QKV and FC1. 4 x 32 MiB per layer and micro-batch, 1 GiB per step.
    p = ParallelConfig(**STEP, sequence_parallel=False)
    calls = tp_collectives(DENSE, p, LAYERS)
    assert {c.op for c in (*calls.forward, *calls.backward)} == {AR}
    assert _per_layer_per_step(p) == (8 * 2 * 32 * MiB, 8 * 2 * 32 * MiB)


def test_full_recompute_repeats_the_forward_collectives_in_backward() -> None:
    # Sequence parallel: backward 6 S + the recomputed forward's 4 S = 10 S per layer.
    p = ParallelConfig(**STEP, recompute="full")
    assert _per_layer_per_step(p) == (8 * 4 * 32 * MiB, 8 * 10 * 32 * MiB)
    # Without SP: backward 2 + 2 all-reduces.
    q = ParallelConfig(**STEP, recompute="full", sequence_parallel=False)
    assert _per_layer_per_step(q) == (8 * 2 * 32 * MiB, 8 * 4 * 32 * MiB)
    # Selective recompute (the attention core) issues no TP collective.
    r = ParallelConfig(**STEP, recompute="selective")
    assert _per_layer_per_step(r) == _per_layer_per_step(ParallelConfig(**STEP))


def test_fp8_all_gathers_carry_one_byte_a_value() -> None:
    # Transformer Engine quantises before it gathers: the all-gathers move 16 MiB, the
    # reduce-scatters the BF16 GEMM outputs, 32 MiB. Per layer and micro-batch forward
    # 2 x 16 + 2 x 32 = 96 MiB, backward 4 x 16 + 2 x 32 = 128 MiB.
    p = ParallelConfig(**STEP, precision="fp8-current")
    calls = tp_collectives(DENSE, p, LAYERS)
    assert {c.size_bytes for c in calls.forward if c.op == AG} == {16 * MiB}
    assert {c.size_bytes for c in calls.backward if c.op == RS} == {32 * MiB}
    assert _per_layer_per_step(p) == (8 * 96 * MiB, 8 * 128 * MiB)
    # MXFP8 adds an 8-bit scale per 32 values: 16 MiB x (1 + 1/32) = 16.5 MiB per gather.
    mx = tp_collectives(DENSE, ParallelConfig(**STEP, precision="mxfp8"), LAYERS)
    assert {c.size_bytes for c in mx.forward if c.op == AG} == {16.5 * MiB}


def test_moe_layers_keep_attention_and_shared_expert_regions_only() -> None:
    # A MoE layer's routed experts talk over EP (and expert TP inside the dispatcher), so its
    # TP group sees the attention region (5 S per micro-batch) and, with shared experts, their
    # MLP region (another 5 S), whatever the expert-TP degree.
    routed = replace(DENSE, moe=MoE(experts=8, top_k=2, expert_ffn=14336))
    shared = replace(DENSE, moe=MoE(experts=8, top_k=2, expert_ffn=14336, shared_experts=1))
    for etp in (1, 8):
        p = ParallelConfig(**{**STEP, "dp": 8, "global_batch": 64}, ep=8 // etp, etp=etp)
        one = Chunk(0, 0, range(1))
        assert _bytes(tp_collectives(routed, p, one).forward) == 2 * S_BF16
        assert _bytes(tp_collectives(routed, p, one).backward) == 3 * S_BF16
        assert _bytes(tp_collectives(shared, p, one).backward) == 6 * S_BF16
    # With expert TP 8 the dispatcher gathers the received tokens (top-2 copies of the
    # 512-token shard: 512 x 2 x 4096 x 2 B = 8 MiB each, x 8 gathered = 64 MiB) and
    # reduce-scatters them back, forward and backward.
    etp = ep_collectives(routed, p, one)
    assert [(c.op, c.size_bytes, c.count) for c in etp.forward if c.kind == "etp"] == [
        (AG, 64 * MiB, 1.0),
        (RS, 64 * MiB, 1.0),
    ]


def test_embedding_output_layer_and_loss() -> None:
    # First chunk: the vocab-parallel embedding reduce-scatters its output forward and gathers
    # its gradient backward (one S each). Last chunk: the output layer gathers its input
    # forward (BF16, also in FP8 training), re-gathers it and reduce-scatters its input
    # gradient backward, and the cross-entropy all-reduces 3 FP32 values per token
    # (3 x 4096 x 4 B = 48 KiB in all).
    p = ParallelConfig(**STEP, precision="fp8")
    first = tp_collectives(DENSE, p, Chunk(0, 0, range(0), embedding=True))
    assert [(c.op, c.size_bytes, c.count) for c in first.forward] == [(RS, S_BF16, 1.0)]
    assert [(c.op, c.size_bytes, c.count) for c in first.backward] == [(AG, S_BF16, 1.0)]
    last = tp_collectives(DENSE, p, Chunk(0, 0, range(0), loss=True))
    assert [(c.op, c.size_bytes, c.count) for c in last.forward] == [
        (AG, S_BF16, 1.0),
        (AR, 4096 * 4, 3.0),
    ]
    assert _bytes(last.backward, AG) == _bytes(last.backward, RS) == S_BF16


class _Timer:
    """Seconds of a collective: one per GB, whatever the op (for hand-checked sums)."""

    def time(self, kind: str, op: CollectiveOp, size_bytes: float) -> float:
        return size_bytes / 1e9


def _exposed(p: ParallelConfig, gemm_s: float) -> float:
    # Forward 1 s of compute of which gemm_s GEMMs; backward twice the forward.
    compute = ChunkCompute(gemm_s, 0.0, 1.0 - gemm_s, 2.0)
    timer: Any = _Timer()
    return tp_exposed(timer, DENSE, p, LAYERS, compute)


def test_what_compute_hides() -> None:
    s = S_BF16 / 1e9  # seconds of one collective with the 1 s per GB timer
    sp = ParallelConfig(**STEP)
    # Without TP overlap: the forward's 4 S and the backward's 2 output-gradient gathers block
    # (per layer); the backward's 4 asynchronous ones hide behind its GEMMs when these last long
    # enough, and show beyond them when they do not.
    assert _exposed(sp, gemm_s=1.0) == pytest.approx(2 * 6 * s)
    assert _exposed(sp, gemm_s=0.0) == pytest.approx(2 * 10 * s)
    assert _exposed(sp, gemm_s=0.1) == pytest.approx(2 * 6 * s + max(0, 2 * 4 * s - 0.2))
    # With userbuffers every layer collective hides behind its pass's GEMMs.
    overlap = replace(sp, tp_comm_overlap=True)
    assert _exposed(overlap, gemm_s=1.0) == 0.0
    assert _exposed(overlap, gemm_s=0.1) == pytest.approx(
        max(0, 2 * 4 * s - 0.1) + max(0, 2 * 6 * s - 0.2)
    )
    # Megatron-LM of 2021 ran the backward all-reduce blocking: all 4 all-reduces show.
    no_sp = replace(sp, sequence_parallel=False)
    assert _exposed(no_sp, gemm_s=1.0) == pytest.approx(2 * 2 * s)
    assert _exposed(replace(no_sp, tp_async_backward=False), gemm_s=1.0) == pytest.approx(2 * 4 * s)


def test_the_step_exposes_what_the_counts_say(
    build: Callable[..., Fabric], catalog: Catalog
) -> None:
    # Llama 3 8B, TP 8 on one DGX H100, no TP overlap, GEMMs long enough to hide the async
    # calls: exposed TP per micro-batch = 32 layers x (2 AG + 2 RS forward + 2 AG backward)
    # of 32 MiB, plus the embedding (RS + AG) and the output layer (AG forward) and loss
    # (3 all-reduces of 16 KiB).
    model = load_model("llama3-8b")
    p = ParallelConfig(tp=8, global_batch=1, seq_len=4096)
    fabric = build("dgx-h100")
    analytic = AnalyticEngine(catalog)
    timer = CollectiveTimer(fabric, catalog, analytic, p)
    t = {op: timer.time("tp", op, S_BF16) for op in (AG, RS)}
    loss = timer.time("tp", AR, 4096 * 4.0)
    layers = model.layers * 2 * (2 * t[AG] + t[RS])
    expected = layers + t[RS] + t[AG] + t[AG] + 3 * loss
    chunk = Chunk(0, 0, range(model.layers), embedding=True, loss=True)
    compute = ChunkCompute(10.0, 0.0, 0.0, 20.0)
    assert tp_exposed(timer, model, p, chunk, compute) == pytest.approx(expected, rel=1e-9)
