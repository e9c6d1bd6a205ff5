"""The limits of interconnect_sim/limits.py: checks, estimates, and the CLI's announcement."""

from __future__ import annotations

import dataclasses
import math

import pytest

from interconnect_sim.cli.common import announce_work
from interconnect_sim.errors import ScenarioError, TraceError
from interconnect_sim.limits import (
    LIMITS,
    check_fabric_size,
    check_message_size,
    check_size_count,
    check_time,
    check_trace_length,
    estimate,
)
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest


def test_fabric_limit_names_the_request_the_limit_and_the_nodes_that_fit() -> None:
    check_fabric_size(8192, 8, "dgx-h100")  # exactly at the limit
    with pytest.raises(ScenarioError, match=r"65,544 GPUs is above .* 65,536 GPUs \(8,192 nodes"):
        check_fabric_size(8193, 8, "dgx-h100")


def test_limits_are_data_a_caller_can_raise() -> None:
    bigger = dataclasses.replace(LIMITS, max_gpus=2 * LIMITS.max_gpus)
    check_fabric_size(16384, 8, "dgx-h100", limits=bigger)
    with pytest.raises(ScenarioError):
        check_fabric_size(16384, 8, "dgx-h100")


@pytest.mark.parametrize("count", [LIMITS.max_sizes + 1, math.inf])
def test_size_count_limit(count: float) -> None:
    check_size_count(LIMITS.max_sizes, "--step-factor")
    with pytest.raises(ScenarioError, match="--step-factor gives"):
        check_size_count(count, "--step-factor")


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, 2.0**51])
def test_message_size_must_be_positive_finite_and_at_most_a_pebibyte(bad: float) -> None:
    check_message_size(2.0**50, "bytes")
    with pytest.raises(TraceError, match="bytes"):
        check_message_size(bad, "bytes", TraceError)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, 1e300, 366 * 86400.0])
def test_times_must_be_finite_non_negative_and_at_most_a_year(bad: float) -> None:
    check_time(0.0, "start_s")
    with pytest.raises(ScenarioError, match="start_s"):
        check_time(bad, "start_s")


def test_trace_length_limit() -> None:
    check_trace_length(LIMITS.max_trace_calls, "t.jsonl")
    with pytest.raises(TraceError, match=r"t.jsonl: more than 1,000,000 calls"):
        check_trace_length(LIMITS.max_trace_calls + 1, "t.jsonl", TraceError)


def test_estimates_grow_with_the_work() -> None:
    small, big = estimate(gpus=8), estimate(gpus=65_536)
    assert small.seconds < big.seconds
    assert small.peak_bytes < big.peak_bytes
    assert estimate(gpus=16, des_sizes=1000).seconds > estimate(gpus=16, sizes=1000).seconds
    assert estimate(gpus=65_536, analysed=False).seconds < big.seconds
    assert big.describe() == "about 46 s and 2.1 GiB"


def test_long_runs_are_announced_before_they_start(
    catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    announce_work(catalog, FabricRequest(system="dgx-h100", node_count=8192))
    announce_work(catalog, FabricRequest(system="dgx-h100", node_count=2))  # quick: silent
    announce_work(catalog, FabricRequest(system="dgx-h100", node_count=100_000))  # refused later
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "interconnect-sim: 65,536 GPUs: about 46 s and 2.1 GiB expected on 2 cores "
        "(estimate, docs/limits.md)"
    ]
