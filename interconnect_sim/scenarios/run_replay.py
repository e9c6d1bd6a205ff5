"""A replay scenario: a trace of concurrent collectives, with and without contention."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import ReplayResult
from interconnect_sim.scenarios.describe import fabric_inputs, provenance_of, size_label
from interconnect_sim.scenarios.loader import Scenario
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.run_collective import build_run_fabric, run_catalog
from interconnect_sim.scenarios.validation_context import collective_validation
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.units import format_duration
from interconnect_sim.workload.trace import read_trace

__all__ = ["replay_bottleneck", "run_replay_scenario"]

_TOP_LINKS = 12


def _calls_frame(results: list[ReplayResult]) -> pd.DataFrame:
    first = results[0]
    frame = pd.DataFrame(
        {
            "id": [c.id for c in first.calls],
            "op": [c.op for c in first.calls],
            "size_bytes": [int(c.size_bytes) for c in first.calls],
            "size": [size_label(c.size_bytes) for c in first.calls],
            "ranks": [c.rank_count for c in first.calls],
            "group": [c.group for c in first.calls],
        }
    )
    for result in results:
        by_id = {c.id: c for c in result.calls}
        frame[f"{result.engine}_start_ms"] = [by_id[i].start_s * 1e3 for i in frame["id"]]
        frame[f"{result.engine}_duration_ms"] = [by_id[i].duration_s * 1e3 for i in frame["id"]]
        frame[f"{result.engine}_algo"] = [
            f"{by_id[i].algorithm}/{by_id[i].protocol}" for i in frame["id"]
        ]
    if len(results) == 2:
        a, b = (f"{r.engine}_duration_ms" for r in results)
        frame[f"{results[0].engine}_vs_{results[1].engine}_pct"] = 100 * (frame[a] / frame[b] - 1)
    return frame


def _gantt(result: ReplayResult) -> Figure:
    ops = list(dict.fromkeys(c.op for c in result.calls))
    return Figure(
        name=f"timeline-{result.engine}",
        title=f"{result.engine} engine: makespan {format_duration(result.makespan_s)}",
        x_label="time (ms)",
        y_label="communicator",
        series=tuple(
            Series(
                label=op,
                x=tuple(c.start_s * 1e3 for c in result.calls if c.op == op),
                y=tuple(c.group for c in result.calls if c.op == op),
                width=tuple(c.duration_s * 1e3 for c in result.calls if c.op == op),
                style="gantt",
                hover=tuple(
                    f"{c.id}: {c.op} {size_label(c.size_bytes)} on {c.rank_count} ranks, "
                    f"{format_duration(c.start_s)} .. {format_duration(c.end_s)}"
                    for c in result.calls
                    if c.op == op
                ),
            )
            for op in ops
        ),
        x_scale="linear",
        y_scale="category",
    )


def _links(result: ReplayResult) -> Figure:
    links = result.links[:_TOP_LINKS]
    return Figure(
        name="links",
        title="Most loaded links (time-averaged over the makespan, discrete-event engine)",
        x_label="utilisation (% of the link's capacity, per direction)",
        y_label="link",
        series=(
            Series(
                label="utilisation",
                x=tuple(f"{link.src} -> {link.dst}" for link in links),
                y=tuple(100 * link.utilisation for link in links),
                style="hbar",
            ),
        ),
        x_scale="category",
    )


def replay_bottleneck(results: list[ReplayResult]) -> str:
    """One sentence: the makespan, the most loaded link, the call contention slows most."""
    first = results[0]
    sentence = f"The trace takes {format_duration(first.makespan_s)} on the {first.engine} engine"
    des = next((r for r in results if r.engine == "des"), None)
    if des is not None and des.links:
        top = des.links[0]
        sentence += (
            f"; the busiest link is {top.src} -> {top.dst} at {100 * top.utilisation:.0f} % "
            "time-averaged"
        )
    if len(results) == 2:
        other = {c.id: c for c in results[1].calls}
        slowed = max(first.calls, key=lambda c: c.duration_s / max(other[c.id].duration_s, 1e-30))
        ratio = slowed.duration_s / max(other[slowed.id].duration_s, 1e-30)
        if ratio > 1.01:
            sentence += (
                f", and contention stretches {slowed.id} ({slowed.op}) to {ratio:.2f}x its time "
                "alone"
            )
    return sentence + "."


def run_replay_scenario(
    scenario: Scenario, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> ScenarioResult:
    """Run a ``kind = "replay"`` scenario."""
    run = scenario.runs[0]
    catalog = run_catalog(catalog, run)
    calls = read_trace(run.values["trace"])
    fabric = build_run_fabric(catalog, run)
    calibration = load_calibration(run.values.get("calibration"))
    engine = run.values.get("engine") or "both"
    results: list[ReplayResult] = []
    if engine in ("des", "both"):
        des = DiscreteEventEngine(catalog, calibration)
        results.append(des.replay(fabric, calls, progress=progress))
    if engine in ("analytic", "both"):
        results.append(AnalyticEngine(catalog, calibration).replay(fabric, calls))
    figures = [_gantt(result) for result in results]
    des_result = next((r for r in results if r.engine == "des"), None)
    if des_result is not None and des_result.links:
        figures.append(_links(des_result))
    headline = [
        f"{len(calls)} calls; makespan "
        + ", ".join(f"{r.engine} {format_duration(r.makespan_s)}" for r in results)
        + "."
    ]
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description,
        source=scenario.path,
        text=scenario.text,
        headline=headline,
        bottleneck=replay_bottleneck(results),
        summary=Table(
            name="summary",
            title="Calls",
            frame=_calls_frame(results),
            note="times in milliseconds; the discrete-event engine shares links between "
            "concurrent calls (max-min fairness), the analytic engine times each call alone.",
        ),
        figures=figures,
        fabrics=[(fabric.name, fabric)],
        inputs=[
            *fabric_inputs(fabric, catalog, run.values),
            ("trace", f"{run.values['trace']} ({len(calls)} calls)"),
            ("engines", engine),
        ],
        provenance=provenance_of(catalog, [fabric]),
        validation=collective_validation(
            catalog, AnalyticEngine(catalog, calibration), str(run.values["system"])
        ),
    )
