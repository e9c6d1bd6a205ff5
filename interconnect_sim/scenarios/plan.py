"""Planning scenarios (``kind = "plan"``): a capacity-planning sweep, written up as a report.

The scenario names a sweep file (``docs/planning.md``) and how to run it::

    kind = "plan"
    name = "Llama 3 70B in 60 days"
    [plan]
    sweep = "sweeps/llama3-70b-deadline.toml"   # relative to the scenario
    workers = 2                                 # local processes (default: every core)
    calibration = "my-cluster.toml"             # optional: `interconnect-sim calibrate` output

The sweep runs as ``interconnect-sim plan`` runs it (:mod:`interconnect_sim.planning`); the report
shows every design, time-to-train against GPUs per system with the deadline, the cost against the
time, the best feasible design and what limits it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from interconnect_sim.calibration import load_calibration
from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.planning.executors import RowStore, run_sweep, settings_for
from interconnect_sim.planning.sweep import Sweep, load_sweep
from interconnect_sim.scenarios.keys import scenario_error, suggest, toml_repr
from interconnect_sim.scenarios.provenance import hardware_provenance
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.validation_context import training_validation
from interconnect_sim.specs.catalog import Catalog

__all__ = ["parse_plan", "run_plan_scenario"]

_TOP = ("kind", "name", "description", "plan")
_PLAN_KEYS = ("sweep", "workers", "calibration")
_SUMMARY = {
    "system": "system",
    "network": "network",
    "nodes": "nodes",
    "gpus": "gpus",
    "oversubscription": "oversubscription",
    "tp": "tp",
    "pp": "pp",
    "cp": "cp",
    "dp": "dp",
    "vpp": "vpp",
    "step_time_s": "step_time_s",
    "mfu_pct": "mfu_pct",
    "time_to_train_days": "time_to_train_days",
    "time_to_train_with_failures_days": "with_failures_days",
    "power_facility_kw": "facility_power_kW",
    "run_cost": "run_cost",
    "limiting_tier": "limited_by",
    "feasible": "feasible",
    "infeasible_reasons": "why_not",
    "error": "error",
}


def parse_plan(data: Mapping[str, Any], path: Path | str, base: Path | None) -> Mapping[str, Any]:
    """Check a plan scenario's keys and its sweep file, before any work."""
    for key in data:
        if key not in _TOP:
            raise scenario_error(
                path,
                "",
                f'unknown key {key!r}{suggest(key, _TOP)} for kind = "plan"; allowed: '
                + ", ".join(_TOP),
            )
    table = data.get("plan")
    if not isinstance(table, dict):
        raise scenario_error(path, "[plan]", 'is required: sweep = "SWEEP.toml" (docs/planning.md)')
    for key in table:
        if key not in _PLAN_KEYS:
            raise scenario_error(
                path,
                "[plan]",
                f"unknown key {key!r}{suggest(key, _PLAN_KEYS)}; allowed: " + ", ".join(_PLAN_KEYS),
            )
    sweep_path = table.get("sweep")
    if not isinstance(sweep_path, str):
        raise scenario_error(path, f"[plan] sweep = {toml_repr(sweep_path)}", "must be a file name")
    workers = table.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise scenario_error(path, f"[plan] workers = {toml_repr(workers)}", "must be an integer")
    if workers is not None and workers < 1:
        raise scenario_error(path, f"[plan] workers = {workers}", "must be at least 1")
    file = Path(sweep_path)
    if base is not None and not file.is_absolute():
        file = base / file
    try:
        sweep = load_sweep(file)
        settings_for(sweep)
    except InterconnectSimError as exc:
        raise scenario_error(path, f"[plan] sweep = {toml_repr(sweep_path)}", str(exc)) from None
    calibration = table.get("calibration")
    calibration_file: Path | None = None
    if calibration is not None:
        if not isinstance(calibration, str):
            raise scenario_error(
                path, f"[plan] calibration = {toml_repr(calibration)}", "must be a file name"
            )
        calibration_file = Path(calibration)
        if base is not None and not calibration_file.is_absolute():
            calibration_file = base / calibration_file
        try:
            load_calibration(calibration_file)
        except InterconnectSimError as exc:
            raise scenario_error(
                path, f"[plan] calibration = {toml_repr(calibration)}", str(exc)
            ) from None
    return {"sweep": sweep, "workers": workers, "file": file, "calibration": calibration_file}


def _designs(
    sweep: Sweep,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    calibration: Path | None = None,
) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="plan-") as scratch:
        out = Path(scratch) / "designs"
        run_sweep(sweep, out, workers=workers, progress=progress, calibration=calibration)
        frame = RowStore(out).read()
    return frame.sort_values(["feasible", "objective"], ascending=[False, True], na_position="last")


def _figures(frame: pd.DataFrame, deadline_days: float | None) -> list[Figure]:
    ok = frame[frame["error"].isna()]
    ok = ok.assign(network=ok["network"].fillna("").astype(str))
    labels = [(str(system), str(network)) for system, network in ok[["system", "network"]].values]
    series = []
    cost = []
    for system, network in dict.fromkeys(labels):
        rows = ok[(ok["system"] == system) & (ok["network"] == network)]
        rows = rows.sort_values("gpus")
        name = f"{system} {network}".strip()
        hover = tuple(
            f"{name}, {int(r.gpus)} GPUs: tp {r.tp} pp {r.pp} cp {r.cp} dp {r.dp}, "
            f"{r.time_to_train_with_failures_days:.1f} days, limited by {r.limiting_tier}"
            for r in rows.itertuples()
        )
        series.append(
            Series(
                label=name,
                x=tuple(float(g) for g in rows["gpus"]),
                y=tuple(float(d) for d in rows["time_to_train_with_failures_days"]),
                style="line+markers",
                hover=hover,
            )
        )
        if rows["run_cost"].notna().any():
            cost.append(
                Series(
                    label=name,
                    x=tuple(float(d) for d in rows["time_to_train_with_failures_days"]),
                    y=tuple(float(c) / 1e6 for c in rows["run_cost"]),
                    style="markers",
                    hover=hover,
                )
            )
    if deadline_days is not None and not ok.empty:
        series.append(
            Series(
                label=f"deadline ({deadline_days:g} days)",
                x=(float(ok["gpus"].min()), float(ok["gpus"].max())),
                y=(deadline_days, deadline_days),
                style="line",
                dashed=True,
            )
        )
    figures = [
        Figure(
            name="time-to-train",
            title="Time to train (with failures) against GPUs",
            x_label="GPUs in the job",
            y_label="days to train (with failures)",
            series=tuple(series),
            x_scale="log2",
            x_sizes=False,
        )
    ]
    if cost:
        figures.append(
            Figure(
                name="cost",
                title="Run cost against time to train (example prices, not quotes)",
                x_label="days to train (with failures)",
                y_label="run cost (millions, price table's currency)",
                series=tuple(cost),
            )
        )
    return figures


def _bottleneck(frame: pd.DataFrame, sweep: Sweep) -> str:
    feasible = frame[frame["feasible"] == True]  # noqa: E712
    if feasible.empty:
        reasons = frame["infeasible_reasons"].dropna()
        why = f" ({reasons.iloc[0]})" if not reasons.empty else ""
        return f"No design meets the constraints{why}."
    best = feasible.iloc[0]
    network = "" if pd.isna(best["network"]) or not best["network"] else f" {best['network']}"
    return (
        f"Best by {sweep.objective}: {best['system']}{network} x {int(best['nodes'])} "
        f"({int(best['gpus'])} GPUs), tp {best['tp']} pp {best['pp']} cp {best['cp']} dp "
        f"{best['dp']}: {best['time_to_train_with_failures_days']:.1f} days with failures; its "
        f"step is limited by {best['limiting']}. {len(feasible)} of {len(frame)} designs are "
        "feasible."
    )


def run_plan_scenario(
    scenario: Any, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> ScenarioResult:
    """Run a ``kind = "plan"`` scenario."""
    plan = scenario.plan
    sweep: Sweep = plan["sweep"]
    frame = _designs(sweep, plan["workers"], progress, plan.get("calibration"))
    deadline = sweep.constraints.deadline_s
    deadline_days = None if deadline is None else deadline / 86400.0
    summary = frame[[c for c in _SUMMARY if c in frame.columns]].rename(columns=_SUMMARY)
    systems = list(dict.fromkeys(str(s) for s in frame["system"]))
    spec_ids: list[str] = []
    for system in systems:
        try:
            spec = catalog.resolve_system(system)
        except InterconnectSimError:
            continue
        spec_ids += [spec.id, spec.gpu, *(x for x in (spec.nic, spec.nvswitch) if x)]
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description or sweep.description,
        source=scenario.path,
        text=scenario.text,
        headline=[
            f"{len(frame)} designs of sweep {sweep.name!r} ({plan['file']}), objective: minimize "
            f"{sweep.objective}"
            + (f", deadline {deadline_days:g} days" if deadline_days is not None else "")
            + "."
        ],
        bottleneck=_bottleneck(frame, sweep),
        summary=Table(
            name="summary",
            title="Designs, best first",
            frame=summary.reset_index(drop=True),
            note="days with failures use the sweep's failure model; power is facility power "
            "(IT x PUE) in kW; run cost in the price table's currency (example prices, not "
            "quotes). designs.csv of `interconnect-sim plan` has every column (BOM, power, cost).",
        ),
        tables=[Table(name="designs", title="Every column", frame=frame.reset_index(drop=True))],
        figures=_figures(frame, deadline_days),
        fabrics=[],
        inputs=[
            ("sweep", str(plan["file"])),
            ("designs", str(len(frame))),
            ("objective", sweep.objective),
            ("systems", ", ".join(systems)),
        ],
        provenance=hardware_provenance(catalog, spec_ids),
        validation=training_validation(catalog, systems[0]) if systems else None,
        warnings=sorted({str(w) for w in frame["warnings"].dropna() if str(w)}),
    )
