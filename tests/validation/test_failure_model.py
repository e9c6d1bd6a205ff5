"""The failure and goodput model, checked out of sample against a published large run.

The default interruption rates come from Meta's fleet study of two A100 research clusters
(Kokolis et al., HPCA 2025: 6.50 and 2.34 job failures per 1,000 node-days on RSC-1 and RSC-2,
pooled by cluster size to 5.11). Nothing of the Llama 3 run went into them. The check predicts
the Llama 3 paper's 54-day pre-training snapshot on 16,384 H100 GPUs (2,048 hosts): 466 job
interruptions, 419 of them unexpected, and "higher than 90% effective training time", with the
checkpoint cost computed from Llama 3 405B's state at the run's published 2 TB/s storage
throughput and the inferred 10-minute restart.

Result (docs/planning.md, "Failures"): 565 interruptions predicted, +35 % against the 419
unexpected ones (the like-for-like count: the fleet rates hold no planned maintenance) and +21 %
against all 466; the issue's 20 % is not met, and the tolerances below say so. The two clusters
alone bracket the count (259 and 719). The effective-training share is predicted at 90.6 %,
within 1 % of the paper's lower bound.
"""

from __future__ import annotations

import pytest

from interconnect_sim.training.failure_rates import FailureProfile, load_failure_profile
from interconnect_sim.training.model import load_model
from interconnect_sim.training.time_to_train import (
    Goodput,
    TimeToTrain,
    checkpoint_cost_s,
    time_to_train,
)

RUN = "llama3-405b-h100"


def _predict(profile: str | None = None) -> tuple[FailureProfile, TimeToTrain]:
    """The snapshot predicted with ``profile``'s rates: work filling 54 days of wall-clock."""
    run = load_failure_profile(RUN)
    assert run.storage_write_bytes_per_s is not None
    assert run.gpus is not None
    assert run.nodes is not None
    assert run.days is not None
    cost = checkpoint_cost_s(load_model("llama3-405b").parameters(), run.storage_write_bytes_per_s)
    goodput = Goodput(rates=load_failure_profile(profile).rates, checkpoint_cost_s=cost)
    wall_s = run.days * 86400
    first = time_to_train(1e12, 1e12 / wall_s, run.gpus, run.nodes, goodput)
    assert first.goodput is not None
    tokens_per_s = 1e12 / (wall_s * first.goodput)
    predicted = time_to_train(1e12, tokens_per_s, run.gpus, run.nodes, goodput)
    assert predicted.expected_days == pytest.approx(run.days, rel=1e-6)
    return run, predicted


def test_the_default_rates_do_not_come_from_the_run_they_are_checked_on() -> None:
    default = load_failure_profile()
    assert default.id != RUN
    assert "Llama" not in default.rates.source
    # Per node only, as the fleet study reports them: (2 x 6.50 + 1 x 2.34) / 3 per 1,000 days.
    assert default.rates.per_gpu_hour == 0.0
    assert default.rates.per_job_hour == 0.0
    assert default.rates.per_node_hour * 24 * 1000 == pytest.approx((2 * 6.50 + 2.34) / 3)


def test_llama3_snapshot_interruption_count_out_of_sample() -> None:
    run, predicted = _predict()
    assert predicted.interruptions is not None
    assert run.interruptions == 466
    assert run.interruptions_by_scale is not None
    unexpected = run.interruptions - run.interruptions_by_scale["job"]
    assert unexpected == 419
    # +35 % against the unexpected interruptions, +21 % against all: outside the 20 %.
    assert predicted.interruptions == pytest.approx(unexpected, rel=0.40)
    assert predicted.interruptions == pytest.approx(run.interruptions, rel=0.25)


def test_the_two_fleet_clusters_bracket_the_llama3_count() -> None:
    _, low = _predict("meta-rsc2-a100")
    _, high = _predict("meta-rsc1-a100")
    assert low.interruptions is not None
    assert high.interruptions is not None
    assert low.interruptions < 419 < 466 < high.interruptions


def test_llama3_snapshot_effective_training_share_out_of_sample() -> None:
    run, predicted = _predict()
    assert run.effective_training_share == 0.90
    assert predicted.goodput is not None
    assert predicted.goodput == pytest.approx(0.90, rel=0.20)
    # The paper's figure is a lower bound ("higher than 90%").
    assert predicted.goodput > 0.90


def test_the_llama3_profile_keeps_its_counts_by_scale() -> None:
    """Bookkeeping of the counts form: rates x exposure give the published counts back."""
    run = load_failure_profile(RUN)
    rates = run.rates
    assert rates.per_s(gpus=16384, nodes=2048) * 54 * 86400 == pytest.approx(466)
    # The same GPUs in half as many hosts lose the per-node share of the host-side causes.
    eight = rates.per_s(gpus=8192, nodes=1024)
    sixteen = rates.per_s(gpus=8192, nodes=512)
    assert eight - sixteen == pytest.approx(512 * rates.per_node_hour / 3600)
