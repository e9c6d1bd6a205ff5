"""A collective scenario: the nccl-tests table, busbw and time against size, and why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.scenarios.collective import TYPE_BYTES, CollectivePrediction
from interconnect_sim.scenarios.collective import predict_collective as _predict
from interconnect_sim.scenarios.describe import (
    fabric_inputs,
    latency_bound_below,
    limiting_tier,
    provenance_of,
    size_label,
    size_range,
)
from interconnect_sim.scenarios.loader import RunSpec, Scenario
from interconnect_sim.scenarios.options import catalog_from, fabric_request_from
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.validation_context import collective_validation, measured_points
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.units import format_duration, format_rate

__all__ = ["busbw_figure", "collective_bottleneck", "run_collective_scenario", "summary_frame"]

BUSBW_AXIS = "busbw (GB/s per rank, 1 GB = 1e9 B)"
SIZE_AXIS = "message size (bytes, nccl-tests convention)"


def run_catalog(catalog: Catalog, run: RunSpec) -> Catalog:
    """The catalog a run uses: the given one, plus any ``catalog`` folders the run names."""
    return catalog_from(run.values) if run.values.get("catalog") else catalog


def build_run_fabric(catalog: Catalog, run: RunSpec) -> Fabric:
    """The fabric of one run, failures applied."""
    return build_fabric(run_catalog(catalog, run), fabric_request_from(run.values))


def summary_frame(prediction: CollectivePrediction) -> pd.DataFrame:
    """nccl-tests columns with units in their names."""
    frame = pd.DataFrame(prediction.rows())
    frame.insert(1, "size", [size_label(b) for b in frame["bytes"]])
    frame.insert(2, "count_elements", frame["bytes"] // TYPE_BYTES)
    frame = frame.rename(columns={"bytes": "size_bytes", "bottleneck": "limited_by"})
    if "des_vs_analytic" in frame:
        frame["des_vs_analytic_pct"] = 100 * frame.pop("des_vs_analytic")
    return frame


def _hover(estimate: CollectiveEstimate) -> tuple[str, ...]:
    return tuple(
        f"{size_label(s)}: {b / 1e9:.2f} GB/s busbw, {format_duration(t)}, {a}/{p.upper()}; {neck}"
        for s, b, t, a, p, neck in zip(
            estimate.size_bytes,
            estimate.busbw_bytes_per_s,
            estimate.time_s,
            estimate.algorithm,
            estimate.protocol,
            estimate.bottleneck,
            strict=True,
        )
    )


def busbw_series(estimate: CollectiveEstimate, label: str, *, dashed: bool = False) -> Series:
    """busbw in GB/s against size in bytes."""
    return Series(
        label=label,
        x=tuple(float(s) for s in estimate.size_bytes),
        y=tuple(float(b) / 1e9 for b in estimate.busbw_bytes_per_s),
        style="line+markers",
        hover=_hover(estimate),
        dashed=dashed,
    )


def busbw_figure(
    name: str, title: str, series: list[Series], measured: pd.DataFrame | None = None
) -> Figure:
    """busbw against size in the style of nccl-tests plots, measured points on top."""
    if measured is not None and not measured.empty:
        series = [
            *series,
            Series(
                label="measured (nccl-tests, shipped data)",
                x=tuple(measured["bytes"]),
                y=tuple(measured["busbw_GBps"]),
                style="markers",
                hover=tuple(
                    f"{size_label(b)}: {v:.2f} GB/s measured on {src}"
                    for b, v, src in zip(
                        measured["bytes"], measured["busbw_GBps"], measured["source"], strict=True
                    )
                ),
            ),
        ]
    return Figure(
        name=name,
        title=title,
        x_label=SIZE_AXIS,
        y_label=BUSBW_AXIS,
        series=tuple(series),
        x_scale="log2",
    )


def time_figure(name: str, title: str, estimates: list[tuple[str, CollectiveEstimate]]) -> Figure:
    """Time per call against size, log-log: the latency floor and the bandwidth slope."""
    return Figure(
        name=name,
        title=title,
        x_label=SIZE_AXIS,
        y_label="time per call (us)",
        series=tuple(
            Series(
                label=label,
                x=tuple(float(s) for s in est.size_bytes),
                y=tuple(float(t) * 1e6 for t in est.time_s),
                style="line+markers",
                hover=_hover(est),
                dashed=index > 0,
            )
            for index, (label, est) in enumerate(estimates)
        ),
        x_scale="log2",
        y_scale="log10",
        y_from_zero=False,
    )


def collective_bottleneck(estimate: CollectiveEstimate) -> str:
    """One sentence: what limits the largest size, and up to where latency rules."""
    last = -1
    size = float(estimate.size_bytes[last])
    busbw = float(estimate.busbw_bytes_per_s[last])
    algbw = float(estimate.algbw_bytes_per_s[last])
    tier = limiting_tier(estimate.bottleneck[last])
    sentence = (
        f"At {size_label(size)} the {estimate.op.value} over {estimate.rank_count} GPUs "
        f"({estimate.node_count} node(s) x {estimate.gpus_per_node}) reaches "
        f"{format_rate(busbw)} busbw ({format_rate(algbw)} algbw) with "
        f"{estimate.algorithm[last]}/{estimate.protocol[last].upper()}, limited by the "
        f"{tier}: {estimate.bottleneck[last]}."
    )
    below = latency_bound_below(estimate.size_bytes, estimate.bottleneck)
    if below is not None and below < size:
        sentence += f" Up to {size_label(below)} the time is mostly latency, not bandwidth."
    elif below is not None:
        sentence += " At every size in the sweep the time is mostly latency."
    return sentence


def run_collective_scenario(
    scenario: Scenario, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> ScenarioResult:
    """Run a ``kind = "collective"`` scenario."""
    run = scenario.runs[0]
    catalog = run_catalog(catalog, run)
    fabric = build_run_fabric(catalog, run)
    prediction = _predict(fabric, run.values, catalog, progress=progress)
    estimate = prediction.estimate
    gpn = estimate.gpus_per_node
    measured = measured_points(catalog, run.values, prediction.op.value, gpn)
    label = f"predicted ({estimate.engine} engine)"
    series = [busbw_series(estimate, label)]
    timed = [(label, estimate)]
    if prediction.des is not None:
        series.append(
            busbw_series(prediction.des, "predicted (discrete-event engine)", dashed=True)
        )
        timed.append(("predicted (discrete-event engine)", prediction.des))
    title = f"{prediction.op.value} on {fabric.name}: {estimate.rank_count} GPUs"
    engine = AnalyticEngine(catalog, load_calibration(run.values.get("calibration")))
    inputs = [
        *fabric_inputs(fabric, catalog, run.values),
        ("collective", prediction.op.value),
        ("communicator", f"{estimate.rank_count} ranks ({estimate.node_count} x {gpn})"),
        ("sizes", f"{size_range(estimate.size_bytes)}, x{run.values.get('step_factor') or 2:g}"),
        ("algorithm / protocol", _forced(run.values)),
        ("engine", str(run.values.get("engine") or "analytic")),
    ]
    headline = [
        f"Peak busbw {float(np.max(estimate.busbw_bytes_per_s)) / 1e9:.1f} GB/s at "
        f"{size_label(float(estimate.size_bytes[int(np.argmax(estimate.busbw_bytes_per_s))]))}; "
        f"smallest call {format_duration(float(estimate.time_s[0]))}.",
    ]
    if not measured.empty:
        headline.append(
            f"{len(measured)} measured nccl-tests points of this exact configuration are plotted."
        )
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description,
        source=scenario.path,
        text=scenario.text,
        headline=headline,
        bottleneck=collective_bottleneck(estimate),
        summary=Table(
            name="summary",
            title="Predicted nccl-tests table",
            frame=summary_frame(prediction),
            note="time in microseconds per call; algbw = size / time and busbw = algbw x the "
            "nccl-tests factor of the op, in GB/s (1e9 bytes/s); count = elements of 4-byte float.",
        ),
        figures=[
            busbw_figure("busbw", title, series, measured),
            time_figure("time", title, timed),
        ],
        fabrics=[(fabric.name, fabric)],
        inputs=inputs,
        provenance=provenance_of(catalog, [fabric]),
        validation=collective_validation(catalog, engine, str(run.values["system"])),
    )


def _forced(values: Any) -> str:
    algo, proto = values.get("algo"), values.get("proto")
    if not algo and not proto:
        return "chosen per size as NCCL's tuner would"
    return f"forced: {algo or '*'} / {proto or '*'}"
