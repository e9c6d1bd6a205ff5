"""What a scenario report shows of a step run as a timeline (``engine = "des"``): the step's
picture (one lane per pipeline stage, class of replicas and data-parallel group), where the
critical path spent its time, and what a what-if cost and what absorbed it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from interconnect_sim.scenarios.describe import size_label
from interconnect_sim.scenarios.result import Figure, Series, Table
from interconnect_sim.scenarios.timeline import StepTimeline
from interconnect_sim.scenarios.timeline_lanes import KIND_COLOURS, KIND_LABELS, Span, step_lanes
from interconnect_sim.units import format_duration

__all__ = ["timeline_figure", "timeline_tables", "whatif_sentence"]

_COMPUTE = ("forward", "backward", "optimizer")


def _hover(lane: str, kind: str, span: Span) -> str:
    start_ms, length_ms, call = span
    what = KIND_LABELS.get(kind, kind)
    if call.size_bytes > 0:
        what += f" ({call.op}, {size_label(call.size_bytes)} on {call.rank_count} ranks)"
    return (
        f"{lane}: {what}, {format_duration(length_ms / 1e3)} from {format_duration(start_ms / 1e3)}"
    )


def timeline_figure(timeline: StepTimeline, title: str) -> Figure:
    """The step's timeline as a Gantt chart: a series per kind of event in its own colour,
    compute first; the idle gaps between bars are the pipeline bubble."""
    run = timeline.run
    neighbour = run.neighbour.calls if run.neighbour else ()
    names, bars = step_lanes(run.result.calls, run.trace.lanes, neighbour)
    kinds = sorted(
        dict.fromkeys(kind for _, kind in bars),
        key=lambda k: (k not in _COMPUTE, list(KIND_COLOURS).index(k) if k in KIND_COLOURS else 99),
    )
    series = []
    for kind in kinds:
        spans = [(lane, span) for (lane, k), found in bars.items() if k == kind for span in found]
        series.append(
            Series(
                label=KIND_LABELS.get(kind, kind),
                x=tuple(start for _, (start, _, _) in spans),
                y=tuple(lane for lane, _ in spans),
                width=tuple(length for _, (_, length, _) in spans),
                hover=tuple(_hover(lane, kind, span) for lane, span in spans),
                style="gantt",
                colour=KIND_COLOURS.get(kind, "#999999"),
            )
        )
    return Figure(
        name="step-timeline",
        title=title,
        x_label="time in the step (ms)",
        y_label="pipeline stage / data-parallel group",
        series=tuple(series),
        y_scale="category",
        y_categories=tuple(names),
        caption="Each bar is one event of the step as the discrete-event engine ran it; gaps "
        "on a stage's lane are idle time (the pipeline bubble, or waiting on a slower stage).",
    )


def timeline_tables(timeline: StepTimeline) -> list[Table]:
    """Where the critical path spent its time, and (with a what-if) what absorbed the change."""
    summary = timeline.summary
    path: dict[str, float] = summary["critical_path_s"]
    step_s = timeline.run.step_s
    frame = pd.DataFrame(
        {
            "kind": [KIND_LABELS.get(k, k) for k in path],
            "seconds_on_critical_path": [round(v, 6) for v in path.values()],
            "share_pct": [round(100 * v / step_s, 2) for v in path.values()],
        }
    ).sort_values("seconds_on_critical_path", ascending=False)
    tables = [
        Table(
            name="critical-path",
            title="The step's critical path, by kind of event",
            frame=frame,
            note="the chain of events the step's end waited on, back to its start; the rest of "
            "its time is waiting",
        )
    ]
    whatif: dict[str, Any] | None = summary.get("whatif")
    if whatif:
        absorbed = pd.DataFrame(
            {
                "where": [a["where"] for a in whatif["absorbed_by"]],
                "change_s_per_step": [round(a["seconds"], 6) for a in whatif["absorbed_by"]],
            }
        )
        tables.append(
            Table(
                name="what-if",
                title=f"What the what-if cost: {whatif['description']}",
                frame=absorbed,
                note="change of the critical path's seconds against the same step without the "
                "what-if, largest first",
            )
        )
    return tables


def whatif_sentence(timeline: StepTimeline) -> str | None:
    """One sentence: the what-if, the step with and without it, and what absorbed the change."""
    whatif: dict[str, Any] | None = timeline.summary.get("whatif")
    if not whatif:
        return None
    sentence = (
        f"What-if ({whatif['description']}): step {format_duration(whatif['step_time_s'])} "
        f"against {format_duration(whatif['baseline_step_time_s'])} without it "
        f"({whatif['change_pct']:+.1f} %)"
    )
    absorbed = whatif["absorbed_by"][:3]
    if absorbed:
        sentence += "; absorbed by " + ", ".join(
            f"{a['where']} ({'+' if a['seconds'] >= 0 else ''}{format_duration(a['seconds'])})"
            for a in absorbed
        )
    return sentence + "."
