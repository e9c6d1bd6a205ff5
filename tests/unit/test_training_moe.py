"""Mixture-of-experts: all-to-all bytes and expert memory against hand-worked examples."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.memory import estimate_memory, stage_memory
from interconnect_sim.training.model import load_model
from interconnect_sim.training.moe import dispatch_bytes_per_gpu, local_experts
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import estimate_step

Build = Callable[..., Fabric]
MIXTRAL = load_model("mixtral-8x7b")
DEEPSEEK = load_model("deepseek-v3")


def test_dispatch_bytes_per_gpu_do_not_grow_with_ep() -> None:
    # Mixtral 8x7B, one 4096-token sequence per micro-batch, no TP: each GPU sends its 4096
    # tokens to 2 experts, 4096 BF16 values each: 4096 x 2 x 4096 x 2 B = 64 MiB per dispatch
    # (and per combine, forward and backward), whatever the EP degree; a larger EP group only
    # sends a larger share of it to other GPUs.
    for ep in (1, 2, 4, 8):
        p = ParallelConfig(dp=8, ep=ep, global_batch=8, seq_len=4096)
        assert dispatch_bytes_per_gpu(MIXTRAL, p) == 4096 * 2 * 4096 * 2 == 64 * 2**20
    # Sequence parallelism splits the tokens over TP: half each with tp 2.
    tp2 = ParallelConfig(tp=2, dp=4, ep=8, etp=1, global_batch=4, seq_len=4096)
    assert dispatch_bytes_per_gpu(MIXTRAL, tp2) == 32 * 2**20
    # DeepSeek-V3 (top-8, h 7168), 4096 tokens: 4096 x 8 x 7168 x 2 B = 448 MiB, at EP 64 too.
    ds = ParallelConfig(dp=64, ep=64, global_batch=64, seq_len=4096)
    assert dispatch_bytes_per_gpu(DEEPSEEK, ds) == 4096 * 8 * 7168 * 2 == 448 * 2**20


def test_load_imbalance_and_capacity_factor_scale_the_busiest_rank() -> None:
    base = {"dp": 8, "ep": 8, "global_batch": 8, "seq_len": 4096}
    balanced = dispatch_bytes_per_gpu(MIXTRAL, ParallelConfig(**base))
    skewed = ParallelConfig(**base, moe_load_imbalance=1.5)
    capped = ParallelConfig(**base, moe_load_imbalance=1.5, moe_capacity_factor=1.25)
    assert dispatch_bytes_per_gpu(MIXTRAL, skewed) == pytest.approx(1.5 * balanced)
    assert dispatch_bytes_per_gpu(MIXTRAL, capped) == pytest.approx(1.25 * balanced)


def test_expert_memory_is_sharded_over_ep_and_expert_dp_only() -> None:
    # Mixtral 8x7B on 8 GPUs, EP 8, TP 1, PP 1, distributed optimizer (ZeRO-1).
    # Experts: 32 layers x 1 local expert x 3 x 4096 x 14336 = 5,637,144,576 weights per GPU;
    # expert-DP = 8 / 8 = 1, so their optimizer state is not sharded.
    # Dense: attention 32 x 41,943,040 + router 32 x 32,768 + norms 266,240 + embeddings
    # 2 x 32000 x 4096 = 1,605,636,096 weights on every GPU, optimizer sharded over 8.
    experts, dense = 5_637_144_576, 1_605_636_096
    p = ParallelConfig(dp=8, ep=8, global_batch=8, seq_len=4096)
    m = estimate_memory(MIXTRAL, p, flash_attention=True)
    assert m.parameters_bytes == pytest.approx(2 * (experts + dense))
    assert m.gradients_bytes == pytest.approx(2 * (experts + dense))
    assert m.optimizer_bytes == pytest.approx(12 * experts + 12 * dense / 8)
    # EP 4: 2 experts per GPU, replicated twice, optimizer over those 2 replicas.
    p4 = ParallelConfig(dp=8, ep=4, global_batch=8, seq_len=4096)
    m4 = estimate_memory(MIXTRAL, p4, flash_attention=True)
    assert m4.parameters_bytes == pytest.approx(2 * (2 * experts + dense))
    assert m4.optimizer_bytes == pytest.approx(12 * 2 * experts / 2 + 12 * dense / 8)


def test_deepseek_v3_parameters_per_gpu_are_not_sharded_twice() -> None:
    # The bug: 671B divided by EP and then by the whole DP group gave 0.02 GB per GPU.
    # PP 16 (first rank 3 dense layers, last rank 2, the rest 4 each), EP 64, TP 1: rank 1 holds
    # layers 3-6, all MoE. Per GPU: routed experts 4 layers x 256 / 64 experts x 3 x 7168 x 2048
    # = 704,643,072 weights, plus per layer MLA attention, one shared expert (44,040,192), the
    # router (7168 x 256) and two norms, all whole (TP 1).
    p = ParallelConfig(
        pp=16,
        dp=128,
        ep=64,
        global_batch=1024,
        seq_len=4096,
        pp_first_stage_layers=3,
        pp_last_stage_layers=2,
    )
    rank1 = stage_memory(DEEPSEEK, p, flash_attention=True)[1]
    experts = 4 * 4 * 3 * 7168 * 2048
    dense = 4 * (DEEPSEEK.attention_parameters() + 3 * 7168 * 2048 + 7168 * 256 + 2 * 7168)
    assert experts == 704_643_072
    assert rank1.parameters_bytes == pytest.approx(2 * (experts + dense))
    assert rank1.parameters_bytes > 3e9  # not 0.02 GB
    # Optimizer: dense over 128 replicas, experts over the 128 / 64 = 2 expert-DP replicas.
    assert rank1.optimizer_bytes == pytest.approx(12 * dense / 128 + 12 * experts / 2)


def test_ep_must_divide_experts_and_fit_the_stage() -> None:
    with pytest.raises(ScenarioError, match="ep x etp"):
        ParallelConfig(tp=2, dp=4, ep=8, global_batch=4)  # etp defaults to tp: 16 > 8 GPUs
    with pytest.raises(ScenarioError, match="must divide the 8 experts"):
        local_experts(MIXTRAL, ParallelConfig(dp=6, ep=3, global_batch=6))


def test_exposed_expert_all_to_all_is_four_per_moe_layer(build: Build, catalog: Catalog) -> None:
    # 32 MoE layers x (dispatch + combine) x (forward + backward) all-to-alls of 64 MiB each on
    # the node's 8 GPUs, per micro-batch, none hidden without --moe-a2a-overlap.
    p = ParallelConfig(dp=8, ep=8, global_batch=16, seq_len=4096, recompute="full")
    fabric = build("dgx-h100")
    step = estimate_step(
        MIXTRAL, p, fabric, catalog, load_compute_calibration(), check_memory=False
    )
    analytic = AnalyticEngine(catalog)
    a2a = analytic.estimate(fabric, CollectiveOp.ALLTOALL, [64 * 2**20]).time_s[0]
    passes = 3  # full recompute redoes the forward dispatch and combine
    assert step.breakdown_s["exposed_ep"] == pytest.approx(2 * 32 * passes * 2 * a2a, rel=1e-6)
    hidden = ParallelConfig(
        dp=8, ep=8, global_batch=16, seq_len=4096, recompute="full", moe_a2a_overlap=True
    )
    overlapped = estimate_step(
        MIXTRAL, hidden, fabric, catalog, load_compute_calibration(), check_memory=False
    )
    assert overlapped.breakdown_s["exposed_ep"] < step.breakdown_s["exposed_ep"]
