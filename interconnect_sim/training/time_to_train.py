"""From one step to a whole training run: days, GPU-hours, and failures.

Without failures a run of ``tokens`` takes ``tokens / tokens_per_s``. With failures it is
stretched by checkpointing and by the work lost on every failure: with a checkpoint every ``T``
seconds costing ``C`` seconds, restarts taking ``R`` seconds, and the whole cluster failing every
``M = MTBF_node / nodes`` seconds on average, the useful fraction of wall-clock time is (first
order, Young 1974 / Daly 2006)

    goodput = 1 - C / T - (T / 2 + R) / M

so the expected wall-clock is the ideal time over that fraction. The optimal interval is
``sqrt(2 C M)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from interconnect_sim.errors import ScenarioError

__all__ = ["Goodput", "TimeToTrain", "time_to_train"]

_DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Goodput:
    """Failure and checkpoint inputs (all seconds)."""

    mtbf_per_node_s: float
    checkpoint_interval_s: float
    checkpoint_cost_s: float
    restart_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeToTrain:
    """A token budget on a job of a given throughput."""

    tokens: float
    ideal_days: float
    gpu_hours: float
    goodput: float | None = None
    expected_days: float | None = None
    optimal_checkpoint_interval_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "tokens": self.tokens,
            "time_to_train_days": self.ideal_days,
            "gpu_hours": self.gpu_hours,
            "goodput": self.goodput,
            "expected_days_with_failures": self.expected_days,
            "optimal_checkpoint_interval_s": self.optimal_checkpoint_interval_s,
        }


def _check_inputs(
    tokens: float, tokens_per_s: float, gpus: int, nodes: int, goodput: Goodput | None
) -> None:
    """Finite positive tokens, throughput, GPUs and nodes; finite positive MTBF and checkpoint
    interval, finite non-negative checkpoint cost and restart (an infinite MTBF or a zero
    cost would make the optimal interval NaN or zero)."""
    for name, value in (("tokens", tokens), ("throughput", tokens_per_s)):
        if not (math.isfinite(value) and value > 0):
            raise ScenarioError(f"{name} must be a positive finite number, got {value!r}")
    if gpus < 1 or nodes < 1:
        raise ScenarioError(f"GPUs and nodes must be at least 1, got {gpus} and {nodes}")
    if goodput is None:
        return
    checks = (
        ("--mtbf-node", goodput.mtbf_per_node_s, False),
        ("--checkpoint-interval", goodput.checkpoint_interval_s, False),
        ("--checkpoint-cost", goodput.checkpoint_cost_s, True),
        ("--restart", goodput.restart_s, True),
    )
    for option, value, zero in checks:
        if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
            allowed = "zero or more" if zero else "more than zero"
            raise ScenarioError(f"{option} must be a finite duration {allowed}, got {value!r} s")


def time_to_train(
    tokens: float, tokens_per_s: float, gpus: int, nodes: int, goodput: Goodput | None = None
) -> TimeToTrain:
    """Days and GPU-hours for ``tokens``; with ``goodput`` inputs, the expected wall-clock.

    Examples
    --------
    >>> t = time_to_train(15e12, 1e7, gpus=1024, nodes=128)
    >>> round(t.ideal_days, 2)
    17.36
    """
    _check_inputs(tokens, tokens_per_s, gpus, nodes, goodput)
    ideal_s = tokens / tokens_per_s
    result = TimeToTrain(
        tokens=tokens, ideal_days=ideal_s / _DAY, gpu_hours=ideal_s * gpus / 3600.0
    )
    if goodput is None:
        return result
    cluster_mtbf = goodput.mtbf_per_node_s / nodes
    fraction = (
        1.0
        - goodput.checkpoint_cost_s / goodput.checkpoint_interval_s
        - (goodput.checkpoint_interval_s / 2 + goodput.restart_s) / cluster_mtbf
    )
    if fraction <= 0:
        raise ScenarioError(
            f"no progress: the cluster fails every {cluster_mtbf / 3600:.2f} h on average, "
            "too often for this checkpoint interval and restart time"
        )
    return TimeToTrain(
        tokens=tokens,
        ideal_days=result.ideal_days,
        gpu_hours=result.gpu_hours,
        goodput=fraction,
        expected_days=result.ideal_days / fraction,
        optimal_checkpoint_interval_s=math.sqrt(2 * goodput.checkpoint_cost_s * cluster_mtbf),
    )
