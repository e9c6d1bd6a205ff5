"""Published interruption statistics as rates per GPU, per host and per job.

``training/data/failure_rates.toml`` holds, per profile, either the rates a study reports per
1,000 GPU-, node- or job-days (several populations of one scale pooled, weighted by their size)
or the interruption counts of one run by cause over its exposure. Either becomes a
:class:`FailureRates`: interruptions per GPU-hour, node-hour and job-hour, which
:mod:`.time_to_train` multiplies by a job's size. Nothing is fitted here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.units import parse_duration, parse_rate

__all__ = [
    "FAILURE_RATES",
    "FailureProfile",
    "FailureRates",
    "default_checkpoint_restart",
    "load_failure_profile",
]

_HOUR = 3600.0
_SCALES = ("gpu", "node", "job")
FAILURE_RATES = Path(__file__).parent / "data" / "failure_rates.toml"
"""Published interruption statistics, and the checkpoint/restart defaults."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureRates:
    """Interruption rates of a synchronous job, per hour of exposure.

    Attributes
    ----------
    per_gpu_hour : float
        Interruptions per GPU-hour (GPU, HBM, SRAM ... faults).
    per_node_hour : float
        Interruptions per node-hour (host, NIC, cable, switch, software).
    per_job_hour : float
        Interruptions per hour of the job regardless of its size (planned maintenance).
    source : str
        Where the rates come from.
    """

    per_gpu_hour: float
    per_node_hour: float
    per_job_hour: float = 0.0
    source: str = ""

    def per_s(self, gpus: int, nodes: int) -> float:
        """Interruptions per second of a job on ``gpus`` GPUs in ``nodes`` nodes."""
        hourly = gpus * self.per_gpu_hour + nodes * self.per_node_hour + self.per_job_hour
        return hourly / _HOUR


@dataclass(frozen=True, slots=True, kw_only=True)
class FailureProfile:
    """One published profile: its rates and, for a single run, what else it reports.

    ``gpus``, ``nodes``, ``days`` and ``interruptions`` are the run's exposure and count (profiles
    given by counts); ``None`` for profiles given as rates.
    """

    id: str
    name: str
    rates: FailureRates
    gpus: int | None = None
    nodes: int | None = None
    days: float | None = None
    interruptions: int | None = None
    interruptions_by_scale: dict[str, int] | None = None
    storage_write_bytes_per_s: float | None = None
    effective_training_share: float | None = None


@cache
def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data


def _bad(path: Path, profile: dict[str, Any], what: str) -> ScenarioError:
    return ScenarioError(f"{path}: profile {profile.get('id')!r}: {what}")


def _counts(path: Path, profile: dict[str, Any]) -> dict[str, int]:
    totals = dict.fromkeys(_SCALES, 0)
    for cause in profile["causes"]:
        scale = cause.get("scale")
        if scale not in totals or not isinstance(cause.get("count"), int):
            raise _bad(
                path,
                profile,
                f"cause {cause.get('cause')!r} needs an integer count and scale gpu, node or job",
            )
        totals[scale] += cause["count"]
    return totals


def _from_counts(path: Path, raw: dict[str, Any]) -> FailureProfile:
    totals = _counts(path, raw)
    hours = float(raw["days"]) * 24.0
    bandwidth = raw.get("storage_write_bandwidth")
    return FailureProfile(
        id=raw["id"],
        name=raw["name"],
        gpus=raw["gpus"],
        nodes=raw["nodes"],
        days=float(raw["days"]),
        interruptions=sum(totals.values()),
        interruptions_by_scale=totals,
        rates=FailureRates(
            per_gpu_hour=totals["gpu"] / (raw["gpus"] * hours),
            per_node_hour=totals["node"] / (raw["nodes"] * hours),
            per_job_hour=totals["job"] / hours,
            source=raw["name"],
        ),
        storage_write_bytes_per_s=None if bandwidth is None else parse_rate(bandwidth),
        effective_training_share=raw.get("effective_training_share"),
    )


def _from_rates(path: Path, raw: dict[str, Any]) -> FailureProfile:
    """Pool each scale's populations weighted by their size; add the scales."""
    weighted = dict.fromkeys(_SCALES, 0.0)
    units = dict.fromkeys(_SCALES, 0.0)
    for entry in raw["rates"]:
        scale, size, rate = entry.get("scale"), entry.get("units"), entry.get("per_1000_unit_days")
        if scale not in weighted or not isinstance(size, int | float) or size <= 0:
            raise _bad(path, raw, "a rate needs scale gpu, node or job and positive units")
        if not isinstance(rate, int | float) or rate < 0:
            raise _bad(path, raw, "a rate needs per_1000_unit_days >= 0")
        weighted[scale] += size * rate
        units[scale] += size
    hourly = {s: weighted[s] / units[s] / 1000 / 24 if units[s] else 0.0 for s in _SCALES}
    return FailureProfile(
        id=raw["id"],
        name=raw["name"],
        rates=FailureRates(
            per_gpu_hour=hourly["gpu"],
            per_node_hour=hourly["node"],
            per_job_hour=hourly["job"],
            source=raw["name"],
        ),
    )


def load_failure_profile(profile: str | None = None, path: Path = FAILURE_RATES) -> FailureProfile:
    """The interruption rates of a published profile (default: the file's ``default``).

    Examples
    --------
    The default pools Meta's two A100 research clusters (6.50 and 2.34 failures per 1,000
    node-days, 16k and 8k GPUs):

    >>> p = load_failure_profile()
    >>> round(p.rates.per_node_hour * 24 * 1000, 2)
    5.11
    """
    data = _read(path)
    wanted = profile or data["default"]
    profiles = {p["id"]: p for p in data["profiles"]}
    if wanted not in profiles:
        raise ScenarioError(
            f"unknown failure profile {wanted!r}; known: {', '.join(sorted(profiles))}"
        )
    raw = profiles[wanted]
    if ("causes" in raw) == ("rates" in raw):
        raise _bad(path, raw, "give either [[profiles.rates]] or [[profiles.causes]]")
    return _from_counts(path, raw) if "causes" in raw else _from_rates(path, raw)


def default_checkpoint_restart(path: Path = FAILURE_RATES) -> tuple[float, float]:
    """(checkpoint cost, restart time) in seconds used when the user gives none."""
    defaults = _read(path)["checkpoint_restart"]
    return parse_duration(defaults["checkpoint_cost"]), parse_duration(defaults["restart"])
