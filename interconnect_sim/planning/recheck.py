"""Re-time a sweep's best designs on the discrete-event engine (``[recheck]``).

The analytic engine times each communication group on its own, so it cannot see two groups
sharing a link: a 2:1 leaf taper changes a design's cost but not its step there. The
discrete-event engine runs every group of a kind at once (all data-parallel rings, all pipeline
sends ...) over the fabric's routed paths with max-min fair sharing, so the tapered uplinks are
contended as they would be. After a sweep, :func:`select_rechecks` picks the ``top`` designs per
group (feasible first, by the objective) and their ``variants`` (the same design at the other
values of those axes, e.g. the other oversubscription), and each is timed again with the layout
it was given, on the discrete-event engine. The rows, in the schema of ``designs.parquet``, go
to ``rechecks.parquet``; ``designs.csv`` and ``summary.md`` show them beside the first timing.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from interconnect_sim.planning.design import DesignPoint, Sweep

__all__ = ["RECHECKS", "RECHECK_COLUMNS", "merge_rechecks", "select_rechecks"]

RECHECKS = "rechecks.parquet"
"""Folder of the re-timed rows, next to ``designs.parquet``."""

RECHECK_COLUMNS = {
    "step_time_s": "des_step_time_s",
    "exposed_pp_s": "des_exposed_pp_s",
    "exposed_dp_s": "des_exposed_dp_s",
    "mfu_pct": "des_mfu_pct",
    "time_to_train_with_failures_days": "des_time_to_train_with_failures_days",
    "run_cost": "des_run_cost",
    "error": "des_error",
}
"""Columns of a re-timed row shown in ``designs.csv``, and their names there."""


def select_rechecks(sweep: Sweep, frame: pd.DataFrame) -> list[tuple[DesignPoint, dict[str, Any]]]:
    """The designs ``sweep.recheck`` asks for, with the layout each was timed with.

    ``frame`` holds the sweep's rows (``designs.parquet``); designs that failed are left out.
    """
    rule = sweep.recheck
    if rule is None:
        return []
    indexed = {p.design_id: (coords, p) for coords, p in sweep.indexed_points()}
    rows = frame[frame["design_id"].isin(indexed) & frame["error"].isna()].copy()
    rows = rows[rows["layout_json"].notna()]
    rows["_infeasible"] = rows["feasible"] != True  # noqa: E712
    # Ties on the objective (a taper the analytic engine cannot see) go to the cheaper design.
    order = ["_infeasible", "objective", "run_cost", "energy_mwh", "design_id"]
    rows = rows.sort_values([c for c in order if c in rows], na_position="last")
    chosen: list[str] = []
    seen_groups: dict[tuple[str, ...], int] = {}
    for design_id in rows["design_id"]:
        point = indexed[design_id][1]
        group = tuple(str(point.inputs.get(k)) for k in rule.per)
        if seen_groups.get(group, 0) < rule.top:
            seen_groups[group] = seen_groups.get(group, 0) + 1
            chosen.append(design_id)
    available = set(rows["design_id"])
    for design_id in list(chosen):
        coords = indexed[design_id][0]
        for other, (other_coords, _) in indexed.items():
            same = all(other_coords[a] == coords[a] for a in coords if a not in rule.variants)
            if same and other in available and other not in chosen:
                chosen.append(other)
    layouts = dict(zip(rows["design_id"], rows["layout_json"], strict=True))
    return [(indexed[d][1], json.loads(layouts[d])) for d in chosen]


def merge_rechecks(frame: pd.DataFrame, rechecks: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the re-timed figures as ``des_*`` columns and the slowdown in percent."""
    extra = rechecks[["design_id", *RECHECK_COLUMNS]].rename(columns=RECHECK_COLUMNS)
    extra = extra.drop_duplicates("design_id", keep="last")
    merged = frame.merge(extra, on="design_id", how="left")
    merged["des_slowdown_pct"] = 100.0 * (merged["des_step_time_s"] / merged["step_time_s"] - 1)
    return merged
