"""A training step timed as a timeline: its trace replayed on the discrete-event engine.

:func:`run_timeline` builds the step's trace (:mod:`.step_trace`) from the same per-chunk
compute and per-kind collectives as the closed form, replays it with contention between every
concurrent group (and a neighbour job's trace, when given), and reads the result along the
**critical path**: the chain of events, each waiting for the last of its dependencies, that
ends with the step. Its events say where the step's time went (compute of which stage, which
kind of communication left exposed), which is also how a what-if's cost is attributed
(:func:`attribute_change`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import CallRecord, ReplayResult
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.communication import dp_collectives
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import stage_chunks
from interconnect_sim.training.schedule import Schedule, default_schedule
from interconnect_sim.training.stage_compute import GpuRates, chunk_compute
from interconnect_sim.training.step_trace import StepTrace, build_step_trace
from interconnect_sim.training.trace_layout import StepLayout
from interconnect_sim.workload.events import TraceEvent

__all__ = ["CriticalPath", "TimelineRun", "attribute_change", "critical_path", "run_timeline"]

KIND_NAMES = {
    "forward": "forward compute",
    "backward": "backward compute",
    "optimizer": "optimizer step",
    "tp": "TP all-gather / reduce-scatter",
    "cp": "CP ring exchange",
    "ep": "EP all-to-all",
    "etp": "expert-TP gather / scatter",
    "pp": "PP send/recv",
    "dp": "DP gradient / parameter sync",
    "edp": "expert-DP gradient / parameter sync",
}


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The events the step waited on, and their seconds by kind and by (stage, kind)."""

    ids: tuple[str, ...]
    by_kind: dict[str, float]
    by_stage: dict[tuple[int, str], float]


@dataclass(frozen=True, slots=True)
class TimelineRun:
    """A step's trace, its replay and what its time was spent on."""

    trace: StepTrace
    result: ReplayResult
    path: CriticalPath
    step_s: float
    neighbour: ReplayResult | None = None


def step_trace(
    model: ModelConfig,
    parallel: ParallelConfig,
    rates: GpuRates,
    compute: ComputeCalibration,
    *,
    flash_attention: bool = True,
    slow_ranks: Mapping[int, float] | None = None,
    schedule: Schedule | None = None,
) -> StepTrace:
    """The step's trace: compute per chunk from the step model, stragglers in the layout."""
    p = parallel
    chunks = stage_chunks(model, p)
    times = [
        [chunk_compute(model, p, c, rates, compute, flash_attention=flash_attention) for c in rank]
        for rank in chunks
    ]
    optimizer = [
        dp_collectives(model, p, rank).optimizer_bytes / rates.memory_bytes_per_s for rank in chunks
    ]
    layout = StepLayout(p, dict(slow_ranks or {}))
    return build_step_trace(
        model, layout, chunks, times, optimizer, schedule or default_schedule(p.vpp)
    )


def critical_path(trace: StepTrace, result: ReplayResult) -> CriticalPath:
    """Walk back from the step's last event through the dependency each event waited on last."""
    records = {r.id: r for r in result.calls if r.id in trace.lanes}
    events = {e.id: e for e in trace.events}
    current: str | None = max(records.values(), key=lambda r: r.end_s).id
    ids: list[str] = []
    by_kind: dict[str, float] = defaultdict(float)
    by_stage: dict[tuple[int, str], float] = defaultdict(float)
    while current is not None:
        record = records[current]
        kind = record.tag or record.op
        ids.append(current)
        by_kind[kind] += record.duration_s
        by_stage[(trace.lanes[current][1], kind)] += record.duration_s
        deps = events[current].after
        current = max(deps, key=lambda d: records[d].end_s) if deps else None
    return CriticalPath(tuple(reversed(ids)), dict(by_kind), dict(by_stage))


def replay_step(
    trace: StepTrace,
    fabric: Fabric,
    des: DiscreteEventEngine,
    *,
    neighbour: Sequence[TraceEvent] = (),
    progress: Callable[[int, int], None] | None = None,
) -> TimelineRun:
    """Replay a step trace (with a neighbour job's events beside it) and read its timeline.

    Copies of a call are merged into one flow unless the network was changed by a what-if or a
    neighbour shares the fabric: then each copy keeps its own flows and rate.
    """
    events = [*trace.events, *neighbour]
    merge = None if not neighbour else False
    result = des.replay(fabric, events, record_links=False, progress=progress, merge_copies=merge)
    own = [r for r in result.calls if r.id in trace.lanes]
    other = [r for r in result.calls if r.id not in trace.lanes]
    step = max(r.end_s for r in own)
    mine = _subset(result, own, step)
    return TimelineRun(
        trace=trace,
        result=mine,
        path=critical_path(trace, mine),
        step_s=step,
        neighbour=_subset(result, other, max((r.end_s for r in other), default=0.0))
        if other
        else None,
    )


def _subset(result: ReplayResult, calls: list[CallRecord], makespan: float) -> ReplayResult:
    return ReplayResult(
        engine=result.engine,
        calls=tuple(calls),
        makespan_s=makespan,
        events=result.events,
        rate_computations=result.rate_computations,
    )


def run_timeline(
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    des: DiscreteEventEngine,
    rates: GpuRates,
    compute: ComputeCalibration,
    *,
    flash_attention: bool = True,
    slow_ranks: Mapping[int, float] | None = None,
    schedule: Schedule | None = None,
    neighbour: Sequence[TraceEvent] = (),
    progress: Callable[[int, int], None] | None = None,
) -> TimelineRun:
    """Build the step's trace and replay it (see :func:`step_trace`, :func:`replay_step`)."""
    trace = step_trace(
        model,
        parallel,
        rates,
        compute,
        flash_attention=flash_attention,
        slow_ranks=slow_ranks,
        schedule=schedule,
    )
    return replay_step(trace, fabric, des, neighbour=neighbour, progress=progress)


def attribute_change(
    base: CriticalPath, changed: CriticalPath, *, top: int = 3
) -> list[tuple[str, float]]:
    """What grew on the critical path from ``base`` to ``changed``: (stage and kind, seconds),
    largest first (``stage 5 backward compute``, ``stage 0 DP gradient / parameter sync``)."""
    keys = set(base.by_stage) | set(changed.by_stage)
    deltas = [(key, changed.by_stage.get(key, 0.0) - base.by_stage.get(key, 0.0)) for key in keys]
    grown = sorted((d for d in deltas if d[1] > 0), key=lambda d: -d[1])[:top]
    return [
        (f"stage {stage} {KIND_NAMES.get(kind, kind)}", delta) for (stage, kind), delta in grown
    ]
