"""A what-if comparison: the same collective or training run on several variants of a design."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.scenarios.collective import CollectivePrediction, predict_collective
from interconnect_sim.scenarios.describe import limiting_tier, provenance_of, size_label
from interconnect_sim.scenarios.keys import toml_repr
from interconnect_sim.scenarios.loader import RunSpec, Scenario
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.run_collective import (
    build_run_fabric,
    busbw_figure,
    busbw_series,
    run_catalog,
    time_figure,
)
from interconnect_sim.scenarios.run_training import breakdown_labels, training_row
from interconnect_sim.scenarios.training import TrainingRun, run_training
from interconnect_sim.scenarios.validation_context import (
    collective_validation,
    training_validation,
)
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.units import format_duration, format_rate

__all__ = ["describe_changes", "run_compare_scenario"]


def describe_changes(run: RunSpec) -> str:
    """What a variant changes, as scenario keys (``nvlink-lanes = 1``); ``baseline`` if none."""
    if not run.changes:
        return "as the base"
    return ", ".join(
        f"{k.replace('_', '-')} = {toml_repr(_plain(v))}" for k, v in run.changes.items()
    )


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, bool | int | float | str) else str(value)


def _pct(new: float, old: float) -> float:
    return round(100.0 * (new / old - 1.0), 2) if old else float("nan")


def _most_changed(change_pct: pd.Series) -> int:
    """The variant (not the first) whose change against the first is largest."""
    tail = change_pct.iloc[1:].abs()
    return int(tail.idxmax()) if not tail.empty else 0


def _collective(
    scenario: Scenario, catalog: Catalog, progress: Callable[[int, int], None] | None
) -> ScenarioResult:
    outcomes: list[tuple[RunSpec, Fabric, CollectivePrediction]] = []
    for index, run in enumerate(scenario.runs):
        fabric = build_run_fabric(catalog, run)
        predicted = predict_collective(fabric, run.values, run_catalog(catalog, run))
        outcomes.append((run, fabric, predicted))
        if progress is not None:
            progress(index + 1, len(scenario.runs))
    base = outcomes[0][2].estimate
    rows = []
    for run, fabric, prediction in outcomes:
        est = prediction.estimate
        rows.append(
            {
                "variant": run.label,
                "changes": describe_changes(run),
                "fabric": fabric.name,
                "gpus": est.rank_count,
                "largest_size": size_label(float(est.size_bytes[-1])),
                "busbw_at_largest_GBps": round(float(est.busbw_bytes_per_s[-1]) / 1e9, 3),
                "busbw_vs_first_pct": _pct(
                    float(est.busbw_bytes_per_s[-1]), float(base.busbw_bytes_per_s[-1])
                ),
                "time_at_smallest_us": round(float(est.time_s[0]) * 1e6, 3),
                "time_vs_first_pct": _pct(float(est.time_s[0]), float(base.time_s[0])),
                "algo_at_largest": f"{est.algorithm[-1]}/{est.protocol[-1].upper()}",
                "limited_by_at_largest": est.bottleneck[-1],
            }
        )
    frame = pd.DataFrame(rows)
    op = outcomes[0][2].op.value
    title = f"{op}: {scenario.name}"
    moved = _most_changed(frame["busbw_vs_first_pct"])
    run_moved, _, pred_moved = outcomes[moved]
    est_moved = pred_moved.estimate
    sentence = (
        f"At {frame['largest_size'][0]}, '{run_moved.label}' changes busbw most: "
        f"{format_rate(float(est_moved.busbw_bytes_per_s[-1]))}, "
        f"{frame['busbw_vs_first_pct'][moved]:+.1f} % against '{outcomes[0][0].label}', limited "
        f"by the {limiting_tier(est_moved.bottleneck[-1])} ({est_moved.bottleneck[-1]})."
    )
    small = float(frame["time_vs_first_pct"].abs().max())
    smallest = size_label(float(base.size_bytes[0]))
    if small < 10:
        sentence += (
            f" At {smallest} the variants differ by at most {small:.1f} % in time: small "
            "messages are latency-bound, so the difference hides from quick small-message checks."
        )
    else:
        slow = int(frame["time_vs_first_pct"].abs().idxmax())
        sentence += (
            f" At {smallest} '{frame['variant'][slow]}' also changes the latency: "
            f"{frame['time_at_smallest_us'][slow]:.3g} us against "
            f"{frame['time_at_smallest_us'][0]:.3g} us per call."
        )
    fabrics = [fabric for _, fabric, _ in outcomes]
    calibration = load_calibration(scenario.runs[0].values.get("calibration"))
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description,
        source=scenario.path,
        text=scenario.text,
        headline=[
            f"{len(outcomes)} variants of {op} on {outcomes[0][1].name}; busbw at "
            f"{frame['largest_size'][0]}: "
            + ", ".join(f"{r['variant']} {r['busbw_at_largest_GBps']:.1f} GB/s" for r in rows)
            + "."
        ],
        bottleneck=sentence,
        summary=Table(
            name="summary",
            title="Variants",
            frame=frame,
            note="busbw in GB/s (1e9 bytes/s) at the largest size, time in microseconds per call "
            "at the smallest; changes against the first variant.",
        ),
        figures=[
            busbw_figure(
                "busbw",
                title,
                [
                    busbw_series(p.estimate, run.label, dashed=i > 0 and i % 2 == 0)
                    for i, (run, _, p) in enumerate(outcomes)
                ],
            ),
            time_figure("time", title, [(run.label, p.estimate) for run, _, p in outcomes]),
        ],
        fabrics=_distinct_drawings(outcomes),
        inputs=[
            ("compared", "collective"),
            *[(r.label, describe_changes(r)) for r in scenario.runs],
        ],
        provenance=provenance_of(catalog, fabrics),
        validation=collective_validation(
            catalog, AnalyticEngine(catalog, calibration), str(scenario.runs[0].values["system"])
        ),
    )


def _distinct_drawings(outcomes: list[tuple[RunSpec, Fabric, Any]]) -> list[tuple[str, Fabric]]:
    drawings: list[tuple[str, Fabric]] = []
    seen: set[str] = set()
    for run, fabric, _ in outcomes:
        key = f"{fabric.name}|{fabric.graph.number_of_edges()}|{fabric.graph.number_of_nodes()}"
        if key not in seen and len(drawings) < 3:
            seen.add(key)
            drawings.append((f"{run.label}: {fabric.name}", fabric))
    return drawings


def _training(
    scenario: Scenario, catalog: Catalog, progress: Callable[[int, int], None] | None
) -> ScenarioResult:
    outcomes: list[tuple[RunSpec, TrainingRun]] = []
    for index, run in enumerate(scenario.runs):
        outcomes.append((run, run_training(run.values, catalog=run_catalog(catalog, run))))
        if progress is not None:
            progress(index + 1, len(scenario.runs))
    base = outcomes[0][1]
    rows = []
    for run, result in outcomes:
        row = {"variant": run.label, "changes": describe_changes(run), **training_row(result)}
        row["step_vs_first_pct"] = _pct(result.step.step_time_s, base.step.step_time_s)
        rows.append(row)
    frame = pd.DataFrame(rows)
    labels = breakdown_labels()
    parts = [
        k for k in base.step.breakdown_s if any(r.step.breakdown_s[k] > 0 for _, r in outcomes)
    ]
    moved = _most_changed(frame["step_vs_first_pct"])
    run_moved, result_moved = outcomes[moved]
    delta = {k: result_moved.step.breakdown_s[k] - base.step.breakdown_s[k] for k in parts}
    part = max(parts, key=lambda k: abs(delta[k]))
    change = float(frame["step_vs_first_pct"][moved])
    sentence = (
        f"'{run_moved.label}' changes the step most: "
        f"{format_duration(result_moved.step.step_time_s)}, {change:+.1f} % against "
        f"'{outcomes[0][0].label}'; the {labels.get(part, part)} goes from "
        f"{format_duration(base.step.breakdown_s[part])} to "
        f"{format_duration(result_moved.step.breakdown_s[part])}"
    )
    others = [
        f"'{outcomes[i][0].label}' {frame['step_vs_first_pct'][i]:+.1f} %"
        for i in range(1, len(outcomes))
        if i != moved
    ]
    sentence += f" (also: {', '.join(others)})." if others else "."
    figure = Figure(
        name="step-breakdown",
        title=f"Step time by variant: {scenario.name}",
        x_label="seconds per step",
        y_label="variant",
        series=tuple(
            Series(
                label=labels.get(part, part),
                x=tuple(run.label for run, _ in outcomes),
                y=tuple(result.step.breakdown_s[part] for _, result in outcomes),
                style="hbar",
                stack=True,
            )
            for part in parts
        ),
        x_scale="category",
    )
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description,
        source=scenario.path,
        text=scenario.text,
        headline=[
            f"{len(outcomes)} variants of {base.model.name} training; step time: "
            + ", ".join(f"{r['variant']} {r['step_time_s']:.3g} s" for r in rows)
            + "."
        ],
        bottleneck=sentence,
        summary=Table(
            name="summary",
            title="Variants",
            frame=frame,
            note="step time in seconds; TFLOP/s in model FLOPs; days of training for the token "
            "budget; changes against the first variant.",
        ),
        figures=[figure],
        fabrics=_distinct_drawings([(run, result.fabric, None) for run, result in outcomes]),
        inputs=[("compared", "training"), *[(r.label, describe_changes(r)) for r in scenario.runs]],
        provenance=provenance_of(catalog, [result.fabric for _, result in outcomes]),
        validation=training_validation(catalog, base.request.system),
        warnings=sorted({w for _, result in outcomes for w in result.step.warnings}),
    )


def run_compare_scenario(
    scenario: Scenario, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> ScenarioResult:
    """Run a ``kind = "compare"`` scenario."""
    if scenario.runs[0].kind == "training":
        return _training(scenario, catalog, progress)
    return _collective(scenario, catalog, progress)
