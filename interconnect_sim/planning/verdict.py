"""A design's verdict: its objective value and whether it meets the sweep's constraints."""

from __future__ import annotations

from typing import Any

from interconnect_sim.planning.design import Constraints

__all__ = ["OBJECTIVE_COLUMNS", "verdict"]

OBJECTIVE_COLUMNS = {
    "time_to_train": "time_to_train_with_failures_days",
    "cost": "run_cost",
    "energy": "energy_mwh",
    "cost_per_token": "cost_per_million_tokens",
}


def verdict(row: dict[str, Any], objective: str, constraints: Constraints) -> None:
    """Set ``objective``, ``feasible`` and ``infeasible_reasons`` of an evaluated row."""
    if row.get("error") is not None:
        row["feasible"], row["objective"], row["infeasible_reasons"] = False, None, None
        return
    row["objective"] = row.get(OBJECTIVE_COLUMNS[objective])
    c = constraints
    reasons = []
    days = row["time_to_train_with_failures_days"]
    if c.memory_fit and not row["fits_memory"]:
        reasons.append("does not fit in GPU memory")
    if c.deadline_s is not None and days * 86400 > c.deadline_s:
        reasons.append(f"misses the deadline ({days:.1f} days)")
    cost = row.get("run_cost")
    if c.budget is not None and (cost is None or cost != cost or cost > c.budget):
        reasons.append("over budget" if cost is not None and cost == cost else "no price")
    if c.power_cap_w is not None and row["power_facility_kw"] * 1e3 > c.power_cap_w:
        reasons.append(f"over the power cap ({row['power_facility_kw'] / 1e3:.2f} MW)")
    row["feasible"] = not reasons
    row["infeasible_reasons"] = "; ".join(reasons) or None
