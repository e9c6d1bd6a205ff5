"""Pipeline schedules: Megatron's orders, their bubbles, and the step trace built from them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import in_flight_chunks
from interconnect_sim.training.schedule import Pass, rank_passes
from interconnect_sim.training.step_timeline import timeline_step
from interconnect_sim.training.timeline import replay_step
from interconnect_sim.workload.events import TraceCall, TraceCompute

Build = Callable[..., Fabric]


def _makespan(p: int, v: int, m: int, schedule: str) -> float:
    """Longest path with forward 1 and backward 2 per chunk-pass and free sends."""
    orders = [rank_passes(p, v, m, r, schedule) for r in range(p)]  # type: ignore[arg-type]
    end: dict[tuple[bool, int, int], float] = {}
    clock, position = [0.0] * p, [0] * p
    while any(position[r] < len(orders[r]) for r in range(p)):
        moved = False
        for r in range(p):
            while position[r] < len(orders[r]):
                x: Pass = orders[r][position[r]]
                g = x.virtual * p + r
                if not x.backward:
                    dep = None if g == 0 else (False, x.microbatch, g - 1)
                elif g == p * v - 1:
                    dep = (False, x.microbatch, g)
                else:
                    dep = (True, x.microbatch, g + 1)
                if dep is not None and dep not in end:
                    break
                start = max(clock[r], end[dep] if dep else 0.0)
                clock[r] = start + (2.0 if x.backward else 1.0)
                end[(x.backward, x.microbatch, g)] = clock[r]
                position[r] += 1
                moved = True
        assert moved, "the schedule deadlocks"
    return max(clock)


@pytest.mark.parametrize(
    ("p", "v", "m"), [(4, 1, 8), (4, 1, 2), (4, 2, 8), (4, 4, 8), (8, 2, 16), (16, 8, 16)]
)
def test_schedules_have_narayanans_bubble(p: int, v: int, m: int) -> None:
    schedule = "interleaved" if v > 1 else "1f1b"
    slots = _makespan(p, v, m, schedule) / (3 * v)  # micro-batch slots of forward + backward
    assert slots == pytest.approx(m + (p - 1) / v)
    # GPipe has the same bubble with equal stages (it differs in memory, not time)
    assert _makespan(p, v, m, "gpipe") / (3 * v) == pytest.approx(m + (p - 1) / v)


@pytest.mark.parametrize(("p", "v", "m"), [(4, 1, 8), (4, 2, 8), (16, 8, 16), (4, 3, 4)])
def test_warm_up_forwards_are_the_activations_held(p: int, v: int, m: int) -> None:
    parallel = ParallelConfig(pp=p, vpp=v, global_batch=m)
    for rank in range(p):
        order = rank_passes(p, v, m, rank, "interleaved" if v > 1 else "1f1b")
        assert len(order) == 2 * m * v
        warmup = next(i for i, x in enumerate(order) if x.backward)
        assert warmup == min(in_flight_chunks(parallel, rank), m * v)


def test_schedules_that_cannot_run_are_refused() -> None:
    with pytest.raises(ScenarioError, match="divisible by the pipeline ranks"):
        rank_passes(4, 2, 6, 0, "interleaved")
    with pytest.raises(ScenarioError, match="use interleaved"):
        rank_passes(4, 2, 8, 0, "1f1b")
    with pytest.raises(ScenarioError, match="schedule 'zb'"):
        rank_passes(4, 1, 8, 0, "zb")  # type: ignore[arg-type]


def _step(build: Build, catalog: Catalog, **layout: object):  # type: ignore[no-untyped-def]
    p = ParallelConfig(seq_len=4096, **layout)  # type: ignore[arg-type]
    fabric = build("dgx-h100", node_count=max(1, p.world_size // 8))
    options = {"analytic": AnalyticEngine(catalog), "check_memory": False}
    model = load_model("llama3-8b")
    return fabric, timeline_step(model, p, fabric, catalog, load_compute_calibration(), **options)  # type: ignore[arg-type]


def test_the_trace_has_every_pass_once_per_class_and_its_copies(
    build: Build, catalog: Catalog
) -> None:
    _, (_, run) = _step(build, catalog, tp=2, pp=4, dp=4, vpp=2, global_batch=16)
    events = run.trace.events
    computes = [e for e in events if isinstance(e, TraceCompute) and e.tag == "forward"]
    # 4 stages x 2 chunks x 4 micro-batches, the first forward of each chunk cut in buckets
    assert len({".".join(e.id.split(".")[:4]) for e in computes}) == 4 * 2 * 4
    # one line covers the 4 replicas: the stage group of 2 ranks and copies 0, 2, 4, 6
    assert all(e.copies == (range(0, 7, 2),) and len(e.ranks or ()) == 2 for e in computes)
    sends = [e for e in events if isinstance(e, TraceCall) and e.tag == "pp"]
    assert len(sends) == 2 * 4 * (4 * 2 - 1)  # every chunk boundary, both directions
    assert all(e.comm_size == 4 for e in sends)  # on the pipeline group's communicator
    dp = [e for e in events if isinstance(e, TraceCall) and e.tag == "dp"]
    assert {e.op.value for e in dp} == {"all_gather", "reduce_scatter"}


def test_merged_copies_time_the_step_as_separate_copies_do(build: Build, catalog: Catalog) -> None:
    # identical replicas on a healthy fabric: one flow per class gives the same timeline
    fabric, (_, run) = _step(build, catalog, tp=4, pp=2, dp=4, global_batch=16)
    des = DiscreteEventEngine(catalog)
    separate = des.replay(fabric, run.trace.events, record_links=False, merge_copies=False)
    assert separate.makespan_s == pytest.approx(run.step_s, rel=1e-6)
    assert replay_step(run.trace, fabric, des).step_s == pytest.approx(run.step_s, rel=1e-9)


def test_gpipe_and_1f1b_take_the_same_time_with_equal_stages(
    build: Build, catalog: Catalog
) -> None:
    layout = {"tp": 8, "pp": 4, "dp": 1, "global_batch": 8}
    p = ParallelConfig(seq_len=4096, pp_embedding_in_split=False, **layout)  # type: ignore[arg-type]
    fabric = build("dgx-h100", node_count=4)
    model = load_model("llama3-8b")
    options = {"analytic": AnalyticEngine(catalog), "check_memory": False}
    compute = load_compute_calibration()
    one, _ = timeline_step(model, p, fabric, catalog, compute, **options)  # type: ignore[arg-type]
    gpipe, _ = timeline_step(model, p, fabric, catalog, compute, schedule="gpipe", **options)  # type: ignore[arg-type]
    assert gpipe.step_time_s == pytest.approx(one.step_time_s, rel=0.01)


def test_blocks_follow_expert_parallel_groups_and_classes_follow_stragglers() -> None:
    from interconnect_sim.training.trace_layout import StepLayout

    # EP 8 over TP 1 couples eight replicas: a block is eight replicas of a stage
    moe = StepLayout(ParallelConfig(tp=1, pp=2, dp=16, ep=8, global_batch=16))
    assert (moe.block_ranks, moe.blocks) == (8, 2)
    assert moe.classes == ((0, 1),)
    assert moe.copies("ep", 0) == (range(0, 9, 8),)  # the other block's EP group
    # two slow GPUs of the same stage in different blocks slow their blocks alike: one class
    dense = ParallelConfig(tp=2, pp=2, dp=4, global_batch=8)
    slow = StepLayout(dense, {1: 1.2, 6: 1.2})
    assert slow.classes == ((1, 2), (0, 3))
    assert slow.slowdown(1, 0) == 1.2
    assert slow.slowdown(1, 1) == 1.0
    with pytest.raises(ScenarioError, match="outside the job's ranks 0-15"):
        StepLayout(dense, {16: 1.1})
    with pytest.raises(ScenarioError, match="must be >= 1"):
        StepLayout(dense, {3: 0.9})


def test_placement_needs_enough_free_nodes() -> None:
    from interconnect_sim.workload.placement import choose_nodes

    with pytest.raises(ScenarioError, match="needs 5 nodes; the fabric has 4 left free"):
        choose_nodes("spread", 5, [4, 5, 6, 7])
    with pytest.raises(ScenarioError, match="placement 'tight'"):
        choose_nodes("tight", 1, [4])
