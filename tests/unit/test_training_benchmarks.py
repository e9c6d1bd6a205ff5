"""MLPerf LLM benchmarks: reference convergence points, evaluations, LoRA."""

from __future__ import annotations

import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.benchmarks import benchmark_time, list_benchmarks, load_benchmark
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.memory import estimate_memory, lora_parameters
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import stage_chunks
from interconnect_sim.training.stage_compute import GpuRates, chunk_compute


def test_the_four_llm_benchmarks_load() -> None:
    assert list_benchmarks() == ["gpt3-175b", "llama2-70b-lora", "llama31-405b", "llama31-8b"]
    for name in list_benchmarks():
        b = load_benchmark(name)
        load_model(b.model)


def test_gpt3_tokens_to_target_from_the_rcps() -> None:
    b = load_benchmark("gpt3-175b")
    # Olympic mean of gpt3_ref_2048 (drop 1157627904 once and 1207959552 once):
    # (1157627904 x 2 + 1207959552 x 2) / 4 = 1182793728 tokens = 577,536 sequences of 2048.
    assert b.samples_to_target(2048) == pytest.approx(1182793728 / 2048)
    # GBS 2688 lies between the 2048 and 3072 RCPs: linear in the batch size, as the checker.
    low, high = 1182793728, (1207959552 * 3 + 1258291200) / 4
    expected = low + (high - low) * (2688 - 2048) / (3072 - 2048)
    assert b.samples_to_target(2688) == pytest.approx(expected / 2048)
    with pytest.raises(ScenarioError, match="outside the reference convergence points"):
        b.samples_to_target(1024)


def test_evaluations_follow_the_rules() -> None:
    gpt3 = load_benchmark("gpt3-175b")
    # Every 24576 sequences; 577,536 sequences at GBS 2048 -> 23.5 evaluations.
    assert gpt3.evaluations(2048, 577_536) == pytest.approx(577_536 / 24_576)
    # GBS 2688 does not divide 24576: every ceil(24576 / 2688) = 10 steps = 26,880 sequences.
    assert gpt3.evaluations(2688, 268_800) == pytest.approx(10)
    lora = load_benchmark("llama2-70b-lora")
    # Every 384 sequences, skipping the first floor(0.125 x 8 + 2) = 3.
    assert lora.evaluations(8, 3840) == pytest.approx(10 - 3)


def test_minutes_add_training_steps_and_evaluations() -> None:
    b = load_benchmark("gpt3-175b")
    t = benchmark_time(b, 2048, step_time_s=10.0, forward_fraction=0.3)
    steps = 577_536 / 2048
    evaluations = 577_536 / 24_576
    eval_batches = 3  # ceil(11,590,004 tokens / 2048 / 2048 sequences)
    assert t.train_s == pytest.approx(steps * 10.0)
    assert t.eval_s == pytest.approx(evaluations * eval_batches * 10.0 * 0.3)
    assert t.minutes == pytest.approx((t.train_s + t.eval_s) / 60)


def test_unknown_benchmark_names_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match="gpt3-175b, llama2-70b-lora"):
        load_benchmark("resnet50")


def test_lora_backward_skips_the_frozen_weight_gradients() -> None:
    # Backward of a frozen GEMM computes only the data gradient: one forward's worth, not two.
    model = load_model("llama2-70b")
    rates = GpuRates(1e15, 5e14, 3e12, 2e15)
    compute = load_compute_calibration()
    chunk = stage_chunks(model, ParallelConfig(tp=8, global_batch=8, seq_len=8192))[0][0]
    full = chunk_compute(
        model, ParallelConfig(tp=8, global_batch=8, seq_len=8192), chunk, rates, compute
    )
    lora = chunk_compute(
        model,
        ParallelConfig(tp=8, global_batch=8, seq_len=8192, lora_rank=16),
        chunk,
        rates,
        compute,
    )
    assert full.backward_s == pytest.approx(2 * full.forward_s)
    assert lora.backward_s == pytest.approx(lora.gemm_s + 2 * (lora.attention_s + lora.memory_s))


def test_lora_keeps_a_frozen_base_and_trains_only_adapters() -> None:
    # Llama 2 70B, rank 16 on QKV and the output projection, 8 GPUs with TP 8: the base is held
    # once in BF16 (no gradients, no optimizer state); the adapters carry 2 + 2 + 12 bytes.
    model = load_model("llama2-70b")
    full = ParallelConfig(tp=8, global_batch=8, seq_len=8192)
    lora = ParallelConfig(tp=8, global_batch=8, seq_len=8192, lora_rank=16)
    adapters = lora_parameters(model, 16, range(model.layers))
    assert adapters == 80 * 16 * ((8192 + 8192 + 2 * 1024) + (8192 + 8192))
    m_full = estimate_memory(model, full, flash_attention=True)
    m_lora = estimate_memory(model, lora, flash_attention=True)
    assert m_lora.parameters_bytes == pytest.approx(m_full.parameters_bytes + 2 * adapters / 8)
    assert m_lora.gradients_bytes == pytest.approx(2 * adapters / 8)
    assert m_lora.optimizer_bytes == pytest.approx(12 * adapters / 8)
