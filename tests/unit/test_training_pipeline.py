"""Pipeline stages as Megatron builds them, activations in flight, and the bubble from stage
times."""

from __future__ import annotations

from dataclasses import replace

import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.memory import layer_activation_bytes, stage_memory
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import in_flight_chunks, pipeline_time, stage_chunks

LLAMA_405B = load_model("llama3-405b")


def _meta(vpp: int = 8) -> ParallelConfig:
    return ParallelConfig(
        tp=8,
        pp=16,
        dp=64,
        vpp=vpp,
        global_batch=2048,
        seq_len=8192,
        pp_embedding_in_split=True,
        pp_loss_in_split=True,
    )


def test_llama3_405b_meta_split_embedding_and_loss_as_layers() -> None:
    # 126 layers + embedding + loss = 128 slots = 16 ranks x 8 virtual stages x 1: the first
    # chunk holds only the embedding, the last only the output layer and loss (Llama 3 paper,
    # Section 3.3.2), so ranks 0 and 15 run 7 transformer layers and the others 8.
    chunks = stage_chunks(LLAMA_405B, _meta())
    assert [sum(len(c.layers) for c in rank) for rank in chunks] == [7] + [8] * 14 + [7]
    first, last = chunks[0][0], chunks[15][7]
    assert first.embedding
    assert len(first.layers) == 0
    assert last.loss
    assert len(last.layers) == 0
    # interleaved order: chunk g = virtual x 16 + rank holds layer g - 1
    assert chunks[3][2].layers == range(2 * 16 + 3 - 1, 2 * 16 + 3)


def test_uneven_first_and_last_stages() -> None:
    p = ParallelConfig(pp=16, global_batch=16, pp_first_stage_layers=7, pp_last_stage_layers=7)
    assert [sum(len(c.layers) for c in r) for r in stage_chunks(LLAMA_405B, p)] == (
        [7] + [8] * 14 + [7]
    )


def test_interleaved_uneven_first_stage_must_split_over_virtual_stages() -> None:
    p = ParallelConfig(
        pp=16, vpp=2, global_batch=32, pp_first_stage_layers=7, pp_last_stage_layers=7
    )
    with pytest.raises(ScenarioError, match="7 layers do not split over vpp = 2"):
        stage_chunks(LLAMA_405B, p)
    ok = ParallelConfig(
        pp=4, vpp=2, global_batch=8, pp_first_stage_layers=30, pp_last_stage_layers=32
    )
    counts = [[len(c.layers) for c in r] for r in stage_chunks(LLAMA_405B, ok)]
    assert counts == [[15, 15], [16, 16], [16, 16], [16, 16]]


def test_layers_that_do_not_split_say_how_they_could() -> None:
    with pytest.raises(ScenarioError, match=r"pp-first-stage-layers.*pp-embedding-in-split"):
        stage_chunks(LLAMA_405B, ParallelConfig(pp=16, global_batch=16))


def test_in_flight_micro_batches_per_rank() -> None:
    # 1F1B: rank r holds p - r micro-batches (capped at m).
    plain = ParallelConfig(pp=4, global_batch=8)
    assert [in_flight_chunks(plain, r) for r in range(4)] == [4, 3, 2, 1]
    # Interleaved: Megatron-Core's warm-up 2 (p - r - 1) + (v - 1) p, plus the one in flight;
    # for rank 0 that is p v + p - 1 chunk-passes, Korthikanti's L (1 + (p - 1) / (p v)) layers.
    inter = ParallelConfig(pp=4, vpp=3, global_batch=16)
    assert [in_flight_chunks(inter, r) for r in range(4)] == [15, 13, 11, 9]
    assert in_flight_chunks(inter, 0) == 4 * 3 * (1 + 3 / 12)


def test_busiest_rank_memory_of_the_meta_layout() -> None:
    # Hand count for rank 1 (8 one-layer chunks): 2 (16 - 2) + 7 x 16 + 1 = 141 layer-passes in
    # flight, each 31.75 s b h / t bytes (no dropout, flash attention: QKV input, Q, K, V, output,
    # MLP input, gate + up, SwiGLU output, two norm inputs).
    p = _meta()
    per_layer = layer_activation_bytes(LLAMA_405B, p, 5, flash_attention=True)
    s, h, f, kv = 8192, 16384, 53248, 1024
    assert per_layer == pytest.approx(s * (2 * (h + h + 2 * kv + h) + 2 * h + 6 * f + 4 * h) / 8)
    rank1 = stage_memory(LLAMA_405B, p, flash_attention=True)[1]
    assert rank1.activations_bytes == pytest.approx(141 * per_layer)
    # BF16 weights of 8 layers over tp 8, 16-bit gradients, optimizer over 64 replicas.
    weights = 8 * LLAMA_405B.layer_parameters(1)[0] / 8
    assert rank1.parameters_bytes == pytest.approx(2 * weights)
    assert rank1.optimizer_bytes == pytest.approx(12 * weights / 64)


def test_fp8_keeps_the_quantised_gemm_inputs() -> None:
    # Transformer Engine saves the FP8 copies of the GEMM inputs (one byte a value) for the
    # weight gradients: per token the QKV input h, the FC1 input h and the FC2 input f shrink
    # to one byte, and the output projection adds an FP8 copy of the attention output (q = h)
    # beside the BF16 one flash attention keeps. Llama 3 405B, per token before tp:
    # BF16 2 (h + h + 2 kv + h) + 2 h + 6 f + 4 h; FP8 h + 2 (h + 2 kv + h) + h + h + 5 f + 4 h.
    s, h, f, kv = 8192, 16384, 53248, 1024
    bf16 = layer_activation_bytes(LLAMA_405B, _meta(), 5, flash_attention=True)
    fp8 = layer_activation_bytes(
        LLAMA_405B, replace(_meta(), precision="fp8-current"), 5, flash_attention=True
    )
    assert bf16 == pytest.approx(s * (2 * (3 * h + 2 * kv) + 2 * h + 6 * f + 4 * h) / 8)
    assert fp8 == pytest.approx(s * (h + 2 * (2 * h + 2 * kv) + h + h + 5 * f + 4 * h) / 8)
    # saved: the QKV and FC1 inputs' and the FC2 input's second bytes, less the O copy: h + f
    assert 1 - fp8 / bf16 == pytest.approx((h + f) / (12 * h + 4 * kv + 6 * f))  # 13.4 %


def test_overlapped_expert_all_to_all_holds_one_more_micro_batch() -> None:
    # Megatron-Core warms up one more forward when interleaving with
    # --overlap-moe-expert-parallel-comm (schedules.get_pp_rank_microbatches).
    base = ParallelConfig(pp=4, vpp=3, dp=8, ep=8, global_batch=128)
    overlap = replace(base, moe_a2a_overlap=True)
    assert [in_flight_chunks(overlap, r) for r in range(4)] == [16, 14, 12, 10]
    assert in_flight_chunks(replace(base, vpp=1, moe_a2a_overlap=True), 0) == 4


def test_equal_stages_give_narayanans_bubble() -> None:
    p = ParallelConfig(pp=8, vpp=4, global_batch=32)
    t = pipeline_time([2.0] * 8, p)
    assert t.total_s == pytest.approx(2.0 * (32 + 7 / 4))
    assert t.bubble_s == pytest.approx(2.0 * 7 / 4)


def test_the_slowest_stage_sets_the_pace() -> None:
    # A last stage 30 % slower (the output layer and loss on top of its layers) stretches the
    # steady state by 30 %; lightening it, as Llama 3 does, restores the equal-stage time.
    p = ParallelConfig(pp=4, global_batch=16)
    heavy = pipeline_time([1.0, 1.0, 1.0, 1.3], p)
    assert heavy.slowest_rank == 3
    assert heavy.total_s == pytest.approx(16 * 1.3 + 3 * 1.0)
    assert pipeline_time([1.0] * 4, p).total_s == pytest.approx(16 + 3)
