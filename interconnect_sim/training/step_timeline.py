"""The step as a timeline: the closed form's pieces, scheduled and replayed with contention.

:func:`timeline_step` is ``estimate_step(engine="des")`` with the what-ifs only a timeline
answers: stragglers, a neighbour job's trace on the same fabric, and the pipeline schedule. It
returns the usual :class:`~.step.StepEstimate` (its breakdown read off the critical path) and
the :class:`~.timeline.TimelineRun` behind it (trace, replay, critical path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.schedule import Schedule
from interconnect_sim.training.step import (
    CollectiveTimer,
    StepEstimate,
    assemble_step,
    rank_timing,
    step_setup,
    step_warnings,
)
from interconnect_sim.training.timeline import TimelineRun, run_timeline
from interconnect_sim.workload.events import TraceEvent

__all__ = ["timeline_step"]


def timeline_step(
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    *,
    analytic: AnalyticEngine | None = None,
    flash_attention: bool = True,
    check_memory: bool = True,
    slow_ranks: Mapping[int, float] | None = None,
    schedule: Schedule | None = None,
    neighbour: Sequence[TraceEvent] = (),
    progress: Callable[[int, int], None] | None = None,
    describe: Callable[[str], None] | None = None,
) -> tuple[StepEstimate, TimelineRun]:
    """The step as a timeline (:mod:`.timeline`): its trace replayed on the discrete-event
    engine, with stragglers (``slow_ranks``: rank -> factor its compute takes longer by), the
    pipeline ``schedule`` and a ``neighbour`` job's placed trace sharing the fabric.

    The breakdown reads the critical path: ``exposed_*`` are the seconds of each kind of
    communication on it, ``compute`` the busiest stage's compute, ``bubble`` the rest.
    ``progress(done, total)`` follows the replay event by event; ``describe`` is called once
    before it, with what is replayed.
    """
    setup = step_setup(
        model, parallel, fabric, catalog, compute, analytic, check_memory, flash_attention
    )
    p = parallel
    des = DiscreteEventEngine(catalog, setup.analytic.calibration)
    if describe is not None:
        describe(f"step timeline, {p.pp} stage(s) x {p.vpp} x {p.microbatches} micro-batches")
    run = run_timeline(
        model,
        p,
        fabric,
        des,
        setup.rates,
        compute,
        flash_attention=flash_attention,
        slow_ranks=slow_ranks,
        schedule=schedule,
        neighbour=neighbour,
        progress=progress,
    )
    timer = CollectiveTimer(fabric, catalog, setup.analytic, p)
    ranks = [
        rank_timing(timer, model, p, c, setup.rates, compute, flash_attention=flash_attention)
        for c in setup.chunks
    ]
    layout = run.trace.layout
    stage_compute = [
        p.microbatches
        * (r.forward_s + r.backward_s)
        * max(layout.slowdown(k, r.rank) for k in range(len(layout.classes)))
        for r in ranks
    ]
    slowest = max(range(len(ranks)), key=lambda r: stage_compute[r])
    path = run.path.by_kind
    exposed = {
        kind: sum(path.get(k, 0.0) for k in kinds)
        for kind, kinds in (
            ("tp", ("tp",)),
            ("cp", ("cp",)),
            ("ep", ("ep", "etp")),
            ("pp", ("pp",)),
            ("dp", ("dp", "edp")),
        )
    }
    optimizer = path.get("optimizer", 0.0)
    bubble = max(0.0, run.step_s - stage_compute[slowest] - sum(exposed.values()) - optimizer)
    estimate = assemble_step(
        model,
        p,
        run.step_s,
        stage_compute[slowest],
        bubble,
        exposed,
        optimizer,
        ranks,
        slowest,
        setup,
        step_warnings(timer, setup.rates, setup.memory, setup.gpu),
    )
    return estimate, run
