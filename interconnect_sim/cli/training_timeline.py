"""The picture of ``train --engine des --emit-trace FILE``: FILE.png beside the trace."""

from __future__ import annotations

from pathlib import Path

from interconnect_sim.scenarios.timeline import StepTimeline

__all__ = ["save_timeline_picture"]


def save_timeline_picture(path: Path, timeline: StepTimeline, title: str) -> None:
    """Draw the step's timeline (one lane per stage and class, one per DP group) to ``path``."""
    from interconnect_sim.report.drawing import save_figure
    from interconnect_sim.report.step_timeline import plot_step_timeline

    run = timeline.run
    stages = len({stage for _, stage in run.trace.lanes.values()})
    lanes = stages * (len(run.trace.layout.classes) + 1) + (1 if run.neighbour else 0)
    save_figure(
        path,
        lambda ax: plot_step_timeline(
            ax,
            run.result.calls,
            run.trace.lanes,
            step_s=run.step_s,
            title=title,
            neighbour=run.neighbour.calls if run.neighbour else (),
        ),
        size=(12, max(3.0, 0.28 * lanes + 1.2)),
    )
