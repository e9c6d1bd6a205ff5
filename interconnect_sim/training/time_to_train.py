"""From one step to a whole training run: days, GPU-hours, interruptions and goodput.

Without failures a run of ``tokens`` takes ``T_s = tokens / tokens_per_s``. A synchronous job
stops whenever any of its GPUs, hosts or links fails. Interruptions arrive at a rate

    lambda = gpus * r_gpu + nodes * r_node + r_job

(per-GPU causes such as faulty GPUs and HBM, per-node causes such as hosts, NICs, cables and
software, and job-level planned maintenance, as far as a source separates them; published
profiles in ``training/data/failure_rates.toml`` via :mod:`.failure_rates`, by default Meta's two
A100 research clusters), so the job's mean time between interruptions is
``M = 1 / lambda``. With a checkpoint every ``tau`` seconds of work costing ``delta`` seconds
and a restart taking ``R`` seconds, Daly's model (Daly 2006, "A higher order estimate of the
optimum checkpoint interval for restart dumps", FGCS 22, Eq. 20) gives the expected wall-clock

    T_w = M exp(R / M) (exp((tau + delta) / M) - 1) T_s / tau

and the optimum interval (Daly's Eq. 37)

    tau_opt = sqrt(2 delta M) [1 + sqrt(delta / 2M) / 3 + (delta / 2M) / 9] - delta  (delta < 2M)

which reduces to Young's ``sqrt(2 delta M)`` when checkpoints are cheap. The effective-training
share (goodput) is ``T_s / T_w`` and the expected number of interruptions ``T_w / M``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.failure_rates import (
    FAILURE_RATES,
    FailureProfile,
    FailureRates,
    default_checkpoint_restart,
    load_failure_profile,
)
from interconnect_sim.training.memory import OPTIMIZER_BYTES_PER_PARAMETER

__all__ = [
    "CHECKPOINT_BYTES_PER_PARAMETER",
    "FAILURE_RATES",
    "FailureProfile",
    "FailureRates",
    "Goodput",
    "TimeToTrain",
    "checkpoint_cost_s",
    "default_checkpoint_restart",
    "load_failure_profile",
    "optimal_checkpoint_interval_s",
    "time_to_train",
]

_DAY = 86400.0
_HOUR = 3600.0

CHECKPOINT_BYTES_PER_PARAMETER = 2.0 + OPTIMIZER_BYTES_PER_PARAMETER
"""A restartable checkpoint holds the 16-bit weights and Adam's fp32 states (ZeRO's K = 12)."""


def checkpoint_cost_s(parameters: float, storage_write_bytes_per_s: float) -> float:
    """Seconds to write a restartable checkpoint (weights and Adam states) at a storage rate.

    Examples
    --------
    Llama 3 405B to a file system sustaining 2 TB/s:

    >>> round(checkpoint_cost_s(405e9, 2e12), 2)
    2.83
    """
    if storage_write_bytes_per_s <= 0:
        raise ScenarioError("storage write bandwidth must be positive")
    return parameters * CHECKPOINT_BYTES_PER_PARAMETER / storage_write_bytes_per_s


def optimal_checkpoint_interval_s(checkpoint_cost: float, mtbf_s: float) -> float:
    """Daly's higher-order optimum interval of work between checkpoints (seconds)."""
    if checkpoint_cost <= 0:
        return 0.0
    if checkpoint_cost >= 2.0 * mtbf_s:
        return mtbf_s
    ratio = checkpoint_cost / (2.0 * mtbf_s)
    young = math.sqrt(2.0 * checkpoint_cost * mtbf_s)
    return young * (1.0 + math.sqrt(ratio) / 3.0 + ratio / 9.0) - checkpoint_cost


@dataclass(frozen=True, slots=True, kw_only=True)
class Goodput:
    """Failure, checkpoint and restart inputs (all seconds).

    Attributes
    ----------
    checkpoint_cost_s : float, optional
        Blocking time of one checkpoint; default from ``failure_rates.toml``.
    restart_s : float, optional
        Time from an interruption to training again (detect, relaunch, load); default from
        ``failure_rates.toml``.
    checkpoint_interval_s : float, optional
        Work between checkpoints; default Daly's optimum.
    mtbf_per_node_s : float, optional
        A single per-node mean time between failures; overrides ``rates`` when given.
    rates : FailureRates, optional
        Interruption rates; default the published profile of ``failure_rates.toml``.
    """

    checkpoint_cost_s: float | None = None
    restart_s: float | None = None
    checkpoint_interval_s: float | None = None
    mtbf_per_node_s: float | None = None
    rates: FailureRates | None = None

    def interruptions_per_s(self, gpus: int, nodes: int) -> float:
        """The job's interruption rate."""
        if self.mtbf_per_node_s is not None:
            if self.mtbf_per_node_s <= 0:
                raise ScenarioError("MTBF must be positive")
            return nodes / self.mtbf_per_node_s
        rates = self.rates or load_failure_profile().rates
        return rates.per_s(gpus, nodes)

    def source(self) -> str:
        """Where the interruption rate comes from, in words."""
        if self.mtbf_per_node_s is not None:
            return f"node MTBF {self.mtbf_per_node_s / _HOUR:g} h"
        return (self.rates or load_failure_profile().rates).source


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeToTrain:
    """A token budget on a job of a given throughput, with and without interruptions."""

    tokens: float
    ideal_days: float
    gpu_hours: float
    goodput: float | None = None
    expected_days: float | None = None
    optimal_checkpoint_interval_s: float | None = None
    checkpoint_interval_s: float | None = None
    checkpoint_cost_s: float | None = None
    restart_s: float | None = None
    mtbf_s: float | None = None
    interruptions: float | None = None
    failure_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "tokens": self.tokens,
            "time_to_train_days": self.ideal_days,
            "gpu_hours": self.gpu_hours,
            "goodput": self.goodput,
            "expected_days_with_failures": self.expected_days,
            "optimal_checkpoint_interval_s": self.optimal_checkpoint_interval_s,
            "checkpoint_interval_s": self.checkpoint_interval_s,
            "checkpoint_cost_s": self.checkpoint_cost_s,
            "restart_s": self.restart_s,
            "job_mtbf_s": self.mtbf_s,
            "expected_interruptions": self.interruptions,
            "failure_rates_source": self.failure_source,
        }


def _check_inputs(
    tokens: float, tokens_per_s: float, gpus: int, nodes: int, goodput: Goodput | None
) -> None:
    """Finite positive tokens, throughput, GPUs and nodes; a finite positive MTBF and checkpoint
    interval, a finite non-negative checkpoint cost and restart where given (an infinite MTBF or
    a zero interval would make the expected time NaN or infinite)."""
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
    for option, given, zero in checks:
        if given is not None and not (math.isfinite(given) and (given >= 0 if zero else given > 0)):
            allowed = "zero or more" if zero else "more than zero"
            raise ScenarioError(f"{option} must be a finite duration {allowed}, got {given!r} s")


def wall_clock_s(
    ideal_s: float, interval_s: float, cost_s: float, restart_s: float, mtbf_s: float
) -> float:
    """Daly's expected wall-clock for ``ideal_s`` of work (Eq. 20)."""
    if interval_s <= 0:
        raise ScenarioError("checkpoint interval must be positive")
    exponent = (interval_s + cost_s) / mtbf_s
    if exponent > 700 or restart_s / mtbf_s > 700:
        return math.inf
    return mtbf_s * math.exp(restart_s / mtbf_s) * math.expm1(exponent) * ideal_s / interval_s


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
    result = TimeToTrain(tokens=tokens, ideal_days=ideal_s / _DAY, gpu_hours=ideal_s * gpus / _HOUR)
    if goodput is None:
        return result
    default_cost, default_restart = default_checkpoint_restart()
    cost = default_cost if goodput.checkpoint_cost_s is None else goodput.checkpoint_cost_s
    restart = default_restart if goodput.restart_s is None else goodput.restart_s
    if cost < 0 or restart < 0:
        raise ScenarioError("checkpoint cost and restart time must not be negative")
    rate = goodput.interruptions_per_s(gpus, nodes)
    if rate <= 0:
        return TimeToTrain(
            tokens=tokens,
            ideal_days=result.ideal_days,
            gpu_hours=result.gpu_hours,
            goodput=1.0,
            expected_days=result.ideal_days,
            interruptions=0.0,
            failure_source=goodput.source(),
        )
    mtbf = 1.0 / rate
    optimal = optimal_checkpoint_interval_s(cost, mtbf)
    interval = goodput.checkpoint_interval_s or optimal or mtbf
    wall = wall_clock_s(ideal_s, interval, cost, restart, mtbf)
    fraction = ideal_s / wall
    if fraction < 0.01:
        raise ScenarioError(
            f"no progress: the job is interrupted every {mtbf / _HOUR:.2f} h on average, "
            f"too often for a {restart:g} s restart and {cost:g} s checkpoints"
        )
    return TimeToTrain(
        tokens=tokens,
        ideal_days=result.ideal_days,
        gpu_hours=result.gpu_hours,
        goodput=fraction,
        expected_days=wall / _DAY,
        optimal_checkpoint_interval_s=optimal,
        checkpoint_interval_s=interval,
        checkpoint_cost_s=cost,
        restart_s=restart,
        mtbf_s=mtbf,
        interruptions=wall * rate,
        failure_source=goodput.source(),
    )
