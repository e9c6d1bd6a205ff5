"""The failure and goodput model against a published large run.

Used: the Llama 3 paper's 54-day pre-training snapshot (16,384 H100 GPUs): 466 job
interruptions (47 planned, 419 unexpected) and "higher than 90% effective training time". It is
the largest synchronous H100 run with interruption counts by cause, which the model needs to
split rates into per-GPU, per-node and per-job parts. Its counts are also the shipped default
rates, so the interruption count below checks the bookkeeping (per-GPU + per-node + per-job rates
times exposure give the published total back), not an independent prediction. The effective
training share is a prediction: it follows from Daly's model with the checkpoint cost computed
from Llama 3 405B's state and the run's published storage throughput, and the inferred default
restart time. See docs/planning.md, "Failures".
"""

from __future__ import annotations

import pytest

from interconnect_sim.training.model import load_model
from interconnect_sim.training.time_to_train import (
    Goodput,
    checkpoint_cost_s,
    load_failure_profile,
    time_to_train,
)


def _snapshot() -> tuple[object, float]:
    run = load_failure_profile("llama3-405b-h100")
    assert run.storage_write_bytes_per_s is not None
    cost = checkpoint_cost_s(load_model("llama3-405b").parameters(), run.storage_write_bytes_per_s)
    goodput = Goodput(rates=run.rates, checkpoint_cost_s=cost)
    # Work that, with interruptions, fills the 54-day snapshot of wall-clock.
    first = time_to_train(1e12, 1e12 / (run.days * 86400), run.gpus, run.nodes, goodput)
    assert first.goodput is not None
    tokens_per_s = 1e12 / (run.days * 86400 * first.goodput)
    return run, time_to_train(1e12, tokens_per_s, run.gpus, run.nodes, goodput)


def test_llama3_snapshot_interruption_count_within_20_percent() -> None:
    run, predicted = _snapshot()
    assert predicted.expected_days == pytest.approx(run.days, rel=1e-6)
    assert predicted.interruptions == pytest.approx(466, rel=0.20)
    assert run.interruptions == 466


def test_llama3_snapshot_effective_training_share_within_20_percent() -> None:
    run, predicted = _snapshot()
    assert run.effective_training_share == 0.90
    assert predicted.goodput == pytest.approx(0.90, rel=0.20)
    # The paper's figure is a lower bound ("higher than 90%").
    assert predicted.goodput > 0.90


def test_rates_scale_with_gpus_and_nodes_separately() -> None:
    rates = load_failure_profile().rates
    # The same GPUs in half as many hosts lose the per-node share of the host-side causes.
    eight = rates.per_s(gpus=8192, nodes=1024)
    sixteen = rates.per_s(gpus=8192, nodes=512)
    assert eight - sixteen == pytest.approx(512 * rates.per_node_hour / 3600)
    assert rates.per_s(gpus=16384, nodes=2048) * 54 * 86400 == pytest.approx(466)
