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
    if tokens <= 0 or tokens_per_s <= 0:
        raise ScenarioError("tokens and throughput must be positive")
    ideal_s = tokens / tokens_per_s
    result = TimeToTrain(
        tokens=tokens, ideal_days=ideal_s / _DAY, gpu_hours=ideal_s * gpus / 3600.0
    )
    if goodput is None:
        return result
    if min(goodput.mtbf_per_node_s, goodput.checkpoint_interval_s) <= 0:
        raise ScenarioError("MTBF and checkpoint interval must be positive")
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
