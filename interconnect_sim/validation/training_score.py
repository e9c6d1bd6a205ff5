"""Score the step model against published runs, and fit the compute calibration.

Each mapped row is predicted in its own quantity (tokens/s or TFLOP/s per GPU, step time, MLPerf
minutes, whole-run GPU-hours) and scored by absolute percentage error. The summary says how the
model generalises: fit rows against held-out rows, and the error by GPU architecture, dense vs
mixture-of-experts, and row category.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric
from interconnect_sim.training.benchmarks import benchmark_time, load_benchmark
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.step import StepEstimate, estimate_step, tflops_under
from interconnect_sim.training.time_to_train import time_to_train
from interconnect_sim.validation.training_runs import MappedRun, describe_failure, map_row

__all__ = ["TrainingScore", "fit_compute", "score_runs", "summarise"]

_GROUPS = ("fit_role", "architecture", "kind", "category")


class TrainingScore:
    """Per-row predictions and errors, rows that could not be mapped, and summaries."""

    def __init__(
        self, rows: list[dict[str, Any]], unmapped: list[dict[str, Any]], overall: dict[str, Any]
    ) -> None:
        self.rows, self.unmapped, self.overall = rows, unmapped, overall

    @property
    def breakdown(self) -> dict[str, dict[str, dict[str, float]]]:
        """Median / max absolute % error and row count by fit role, architecture, dense vs MoE
        and category."""
        return {group: summarise(self.rows, group) for group in _GROUPS}

    def to_json(self) -> dict[str, Any]:
        """``rows``, ``unmapped``, ``overall`` and ``breakdown``."""
        return {
            "rows": self.rows,
            "unmapped": self.unmapped,
            "overall": self.overall,
            "breakdown": self.breakdown,
        }


def summarise(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    """Median and max absolute % error and count of ``rows`` grouped by ``key``."""
    groups: dict[str, list[float]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row["abs_pct_error"])
    return {
        name: {
            "n": len(errors),
            "median_abs_pct_error": float(np.median(errors)),
            "max_abs_pct_error": float(np.max(errors)),
        }
        for name, errors in sorted(groups.items())
    }


def _predicted(run: MappedRun, step: StepEstimate) -> float:
    p = run.parallel
    if run.metric == "tflops_per_gpu":
        return tflops_under(run.convention, run.model, p, step, recompute=p.recompute)
    if run.metric == "step_time_s":
        return step.step_time_s
    if run.metric == "tokens_per_s_per_gpu":
        return step.tokens_per_s / p.world_size
    if run.metric == "time_to_train_min":
        benchmark = load_benchmark(run.extra["benchmark"])
        return benchmark_time(
            benchmark, p.global_batch, step.step_time_s, step.forward_fraction
        ).minutes
    if run.metric == "gpu_hours":
        return time_to_train(run.tokens, step.tokens_per_s, p.world_size, run.nodes).gpu_hours
    raise ValueError(f"unknown metric {run.metric}")


_SHARED_FABRIC_NODES = 64
"""Jobs on more nodes than this run on the first nodes of one fabric per system, sized for the
largest such job (as MLPerf and large vendor runs ran on part of a large SuperPOD); building one
fabric per job size would cost seconds each."""


class _Runner:
    def __init__(self, catalog: Catalog, analytic: AnalyticEngine, runs: list[MappedRun]) -> None:
        self.catalog, self.analytic = catalog, analytic
        self.fabrics: dict[Any, Fabric] = {}
        self.caches: dict[Any, dict[Any, Any]] = {}
        self.largest: dict[Any, int] = {}
        for run in runs:
            key = (run.system, tuple(sorted(run.extra.get("fabric", {}).items())))
            self.largest[key] = max(self.largest.get(key, 0), run.nodes)

    def step(self, run: MappedRun, compute: ComputeCalibration) -> StepEstimate:
        fabric = run.extra.get("fabric", {})
        shape = (run.system, tuple(sorted(fabric.items())))
        nodes = run.nodes
        if nodes > _SHARED_FABRIC_NODES:
            nodes = max(nodes, self.largest.get(shape, nodes))
        key = (*shape, nodes)
        if key not in self.fabrics:
            request = FabricRequest(system=run.system, node_count=nodes, **fabric)
            self.fabrics[key] = build_fabric(self.catalog, request)
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


def _row(run: MappedRun, step: StepEstimate, predicted: float) -> dict[str, Any]:
    gpu = run.gpu
    return {
        "row_id": run.row_id,
        "model": run.name,
        "system": run.system,
        "gpu": gpu.model if gpu is not None else "",
        "architecture": gpu.model if gpu is not None else "",
        "kind": "moe" if run.model.moe is not None else "dense",
        "category": run.category,
        "gpus": run.parallel.world_size,
        "precision": run.parallel.precision,
        "metric": run.metric,
        "measured": run.measured,
        "predicted": round(predicted, 4),
        "abs_pct_error": round(abs(predicted / run.measured - 1) * 100, 2),
        "fit_role": run.fit_role,
        "notes": "; ".join(run.notes + step.warnings),
        "memory_per_gpu_GB": round(step.memory.total_bytes / 1e9, 1),
    }


def score_runs(
    frame: pd.DataFrame,
    catalog: Catalog,
    compute: ComputeCalibration,
    analytic: AnalyticEngine | None = None,
) -> TrainingScore:
    """Predict every mappable row and report absolute percentage errors."""
    runs, unmapped = _map(frame)
    runner = _Runner(catalog, analytic or AnalyticEngine(catalog), runs)
    rows = []
    for run in runs:
        try:
            step = runner.step(run, compute)
        except InterconnectSimError as exc:
            unmapped.append(
                {
                    "row_id": run.row_id,
                    "model": run.name,
                    "category": run.category,
                    "reason": str(exc),
                }
            )
            continue
        rows.append(_row(run, step, _predicted(run, step)))
    for row in rows:
        row["architecture"] = _architecture(catalog, row["system"])
    errors = np.array([r["abs_pct_error"] for r in rows])
    overall: dict[str, Any] = {
        "n": len(rows),
        "median_abs_pct_error": float(np.median(errors)) if rows else None,
        "max_abs_pct_error": float(errors.max()) if rows else None,
        "unmapped": len(unmapped),
    }
    for role in ("fit", "holdout"):
        part = np.array([r["abs_pct_error"] for r in rows if r["fit_role"] == role])
        overall[f"median_abs_pct_error_{role}"] = float(np.median(part)) if part.size else None
    return TrainingScore(rows, unmapped, overall)


def _architecture(catalog: Catalog, system: str) -> str:
    return catalog.gpu(catalog.system(system).gpu).architecture


def _objective(runs: list[MappedRun], runner: _Runner, cal: ComputeCalibration) -> float:
    """Median plus a fifth of the mean absolute log error of ``runs``."""
    errors = []
    for run in runs:
        try:
            errors.append(abs(np.log(_predicted(run, runner.step(run, cal)) / run.measured)))
        except InterconnectSimError:
            continue
    return float(np.median(errors)) + 0.2 * float(np.mean(errors)) if errors else 0.0


def _fit_dense(
    runs: list[MappedRun], runner: _Runner, start: ComputeCalibration, sweeps: int
) -> tuple[ComputeCalibration, float]:
    """GEMM efficiencies and memory traffic by coordinate descent."""
    best_cal, best = start, _objective(runs, runner, start)

    def consider(trial: ComputeCalibration) -> None:
        nonlocal best_cal, best
        score = _objective(runs, runner, trial)
        if score < best - 1e-9:
            best_cal, best = trial, score

    for sweep in range(sweeps):
        span = 0.5 / (3**sweep)
        for key in sorted(start.gemm_efficiency):
            current = best_cal.gemm_efficiency[key]
            for value in np.linspace(max(0.2, current - span), min(1.0, current + span), 11):
                efficiencies = {**best_cal.gemm_efficiency, key: float(value)}
                consider(replace(best_cal, gemm_efficiency=efficiencies))
        current = best_cal.memory_bytes_per_token_layer_hidden
        width = 200.0 * span
        for value in np.linspace(max(0.0, current - width), min(400.0, current + width), 11):
            consider(replace(best_cal, memory_bytes_per_token_layer_hidden=float(value)))
    return best_cal, best


def _fit_moe(
    runs: list[MappedRun], runner: _Runner, start: ComputeCalibration
) -> ComputeCalibration:
    """The MoE routing time per token copy, by a grid search refined three times."""
    if not runs:
        return start
    best_cal, best = start, _objective(runs, runner, start)
    low, high = 0.0, 2e-6
    for _ in range(3):
        for value in np.linspace(low, high, 21):
            trial = replace(best_cal, moe_routing_s_per_copy=float(value))
            score = _objective(runs, runner, trial)
            if score < best - 1e-12:
                best_cal, best = trial, score
        step = (high - low) / 20
        low = max(0.0, best_cal.moe_routing_s_per_copy - step)
        high = best_cal.moe_routing_s_per_copy + step
    return best_cal


def fit_compute(
    frame: pd.DataFrame, catalog: Catalog, start: ComputeCalibration, sweeps: int = 3
) -> tuple[ComputeCalibration, float]:
    """Fit the compute calibration on the ``fit`` rows: GEMM efficiencies and memory traffic on
    the dense ones (coordinate descent on the median plus a fifth of the mean absolute log
    error), then the MoE routing time per token copy on the MoE ones."""
    runs, _ = _map(frame)
    runs = [r for r in runs if r.fit_role == "fit"]
    runner = _Runner(catalog, AnalyticEngine(catalog), runs)
    dense = [r for r in runs if r.model.moe is None]
    moe = [r for r in runs if r.model.moe is not None]
    cal, score = _fit_dense(dense, runner, start, sweeps)
    return _fit_moe(moe, runner, cal), score
