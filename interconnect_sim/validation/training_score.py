"""Score the step model against published runs, and fit the compute calibration."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.step import StepEstimate, estimate_step, tflops_under
from interconnect_sim.validation.training_runs import MappedRun, describe_failure, map_row

__all__ = ["TrainingScore", "fit_compute", "score_runs"]


@dataclass(frozen=True, slots=True)
class TrainingScore:
    """Per-row predictions and errors, rows that could not be mapped, and overall errors."""

    rows: list[dict[str, Any]]
    unmapped: list[dict[str, Any]]
    overall: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``rows``, ``unmapped`` and ``overall``."""
        return {"rows": self.rows, "unmapped": self.unmapped, "overall": self.overall}


def _predicted(run: MappedRun, step: StepEstimate) -> float:
    if run.metric == "tflops_per_gpu":
        recompute = run.parallel.recompute
        return tflops_under(run.convention, run.model, run.parallel, step, recompute=recompute)
    if run.metric == "step_time_s":
        return step.step_time_s
    return step.tokens_per_s / run.parallel.world_size


class _Runner:
    def __init__(self, catalog: Catalog, analytic: AnalyticEngine) -> None:
        self.catalog, self.analytic = catalog, analytic
        self.fabrics: dict[tuple[str, int], Fabric] = {}
        self.caches: dict[tuple[str, int], dict[Any, Any]] = {}

    def step(self, run: MappedRun, compute: ComputeCalibration) -> StepEstimate:
        key = (run.system, run.nodes)
        if key not in self.fabrics:
            self.fabrics[key] = build_fabric(
                self.catalog, FabricRequest(system=run.system, node_count=run.nodes)
            )
        return estimate_step(
            run.model,
            run.parallel,
            self.fabrics[key],
            self.catalog,
            compute,
            flash_attention=run.flash_attention,
            check_memory=False,
            analytic=self.analytic,
            cache=self.caches.setdefault(key, {}),
        )


def _map(frame: pd.DataFrame) -> tuple[list[MappedRun], list[dict[str, Any]]]:
    runs, unmapped = [], []
    for _, row in frame.iterrows():
        try:
            runs.append(map_row(row))
        except InterconnectSimError as exc:
            unmapped.append(describe_failure(row, exc))
    return runs, unmapped


def score_runs(
    frame: pd.DataFrame,
    catalog: Catalog,
    compute: ComputeCalibration,
    analytic: AnalyticEngine | None = None,
) -> TrainingScore:
    """Predict every mappable row and report absolute percentage errors."""
    runs, unmapped = _map(frame)
    runner = _Runner(catalog, analytic or AnalyticEngine(catalog))
    rows = []
    for run in runs:
        try:
            step = runner.step(run, compute)
        except InterconnectSimError as exc:
            unmapped.append({"row_id": run.row_id, "model": run.name, "reason": str(exc)})
            continue
        predicted = _predicted(run, step)
        rows.append(
            {
                "row_id": run.row_id,
                "model": run.name,
                "system": run.system,
                "gpus": run.parallel.world_size,
                "metric": run.metric,
                "measured": run.measured,
                "predicted": round(predicted, 4),
                "abs_pct_error": round(abs(predicted / run.measured - 1) * 100, 2),
                "fit_role": run.fit_role,
                "notes": "; ".join(run.notes),
                "memory_per_gpu_GB": round(step.memory.total_bytes / 1e9, 1),
            }
        )
    errors = np.array([r["abs_pct_error"] for r in rows])
    overall = {
        "n": len(rows),
        "median_abs_pct_error": float(np.median(errors)) if rows else None,
        "max_abs_pct_error": float(errors.max()) if rows else None,
        "unmapped": len(unmapped),
    }
    for role in ("fit", "holdout"):
        part = np.array([r["abs_pct_error"] for r in rows if r["fit_role"] == role])
        overall[f"median_abs_pct_error_{role}"] = float(np.median(part)) if part.size else None
    return TrainingScore(rows, unmapped, overall)


def fit_compute(
    frame: pd.DataFrame, catalog: Catalog, start: ComputeCalibration, sweeps: int = 3
) -> tuple[ComputeCalibration, float]:
    """Fit GEMM efficiencies and memory traffic on the ``fit`` rows (coordinate descent)."""
    runs, _ = _map(frame)
    runs = [r for r in runs if r.fit_role == "fit"]
    runner = _Runner(catalog, AnalyticEngine(catalog))

    def objective(cal: ComputeCalibration) -> float:
        errors = []
        for run in runs:
            try:
                errors.append(abs(np.log(_predicted(run, runner.step(run, cal)) / run.measured)))
            except InterconnectSimError:
                continue
        return float(np.median(errors)) + 0.2 * float(np.mean(errors))

    best_cal, best = start, objective(start)
    for sweep in range(sweeps):
        span = 0.5 / (3**sweep)
        for key in sorted(start.gemm_efficiency):
            current = best_cal.gemm_efficiency[key]
            for value in np.linspace(max(0.2, current - span), min(1.0, current + span), 11):
                trial = replace(
                    best_cal, gemm_efficiency={**best_cal.gemm_efficiency, key: float(value)}
                )
                score = objective(trial)
                if score < best - 1e-9:
                    best_cal, best = trial, score
        current = best_cal.memory_bytes_per_token_layer_hidden
        width = 200.0 * span
        for value in np.linspace(max(0.0, current - width), min(400.0, current + width), 11):
            trial = replace(best_cal, memory_bytes_per_token_layer_hidden=float(value))
            score = objective(trial)
            if score < best - 1e-9:
                best_cal, best = trial, score
    return best_cal, best
