"""The step as a timeline against the closed form, and the what-ifs only a timeline answers.

On an idle fabric with the closed form's assumptions (stages of equal work, communication that
overlaps as it assumes) the discrete-event timeline of the step's trace and the closed form
agree within 3 % for dense and MoE layouts with PP 1, 4 and 16 and VPP 1 and 2 (issue #14).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import estimate_step
from interconnect_sim.training.step_timeline import timeline_step
from interconnect_sim.training.timeline import attribute_change

Build = Callable[..., Fabric]
COMPUTE = load_compute_calibration()

LAYOUTS = [
    ("llama3-8b", {"tp": 2, "pp": 1, "dp": 4, "global_batch": 16}),
    ("llama3-8b", {"tp": 2, "pp": 4, "dp": 2, "global_batch": 16}),
    ("llama3-8b", {"tp": 2, "pp": 4, "dp": 2, "vpp": 2, "global_batch": 16}),
    ("llama3-8b", {"tp": 2, "pp": 16, "dp": 1, "global_batch": 16}),
    ("llama3-8b", {"tp": 2, "pp": 16, "dp": 1, "vpp": 2, "global_batch": 16}),
    ("mixtral-8x7b", {"tp": 1, "pp": 1, "dp": 8, "ep": 8, "global_batch": 32}),
    ("mixtral-8x7b", {"tp": 1, "pp": 4, "dp": 8, "ep": 8, "global_batch": 32}),
    ("mixtral-8x7b", {"tp": 1, "pp": 4, "dp": 8, "ep": 8, "vpp": 2, "global_batch": 32}),
    ("mixtral-8x7b", {"tp": 1, "pp": 16, "dp": 8, "ep": 8, "global_batch": 128}),
    ("mixtral-8x7b", {"tp": 1, "pp": 16, "dp": 8, "ep": 8, "vpp": 2, "global_batch": 128}),
]


@pytest.mark.parametrize(("model_id", "layout"), LAYOUTS)
def test_timeline_and_closed_form_agree_on_an_idle_fabric(
    build: Build, catalog: Catalog, model_id: str, layout: dict[str, int]
) -> None:
    p = ParallelConfig(seq_len=4096, **layout)
    fabric = build("dgx-h100", node_count=max(1, p.world_size // 8))
    model = load_model(model_id)
    analytic = AnalyticEngine(catalog)
    options = {"analytic": analytic, "check_memory": False}
    closed = estimate_step(model, p, fabric, catalog, COMPUTE, **options)  # type: ignore[arg-type]
    timeline = estimate_step(model, p, fabric, catalog, COMPUTE, engine="des", **options)  # type: ignore[arg-type]
    assert timeline.step_time_s == pytest.approx(closed.step_time_s, rel=0.03)
    # the breakdown adds up to the step, and compute is the same work
    assert sum(timeline.breakdown_s.values()) == pytest.approx(timeline.step_time_s, rel=1e-6)
    assert timeline.breakdown_s["compute"] == pytest.approx(closed.breakdown_s["compute"])


def test_a_node_ten_percent_slower_slows_a_data_parallel_step_by_its_compute(
    build: Build, catalog: Catalog
) -> None:
    # Synchronous DP: every replica waits for the slow one at the gradient sync, so the step
    # grows by 10 % of the compute on its critical path; communication is not slowed.
    model = load_model("llama3-8b")
    p = ParallelConfig(tp=4, dp=16, global_batch=64, seq_len=4096)
    fabric = build("dgx-h100", node_count=8)
    options = {"analytic": AnalyticEngine(catalog), "check_memory": False}
    base, base_run = timeline_step(model, p, fabric, catalog, COMPUTE, **options)  # type: ignore[arg-type]
    slow_node = dict.fromkeys(range(40, 48), 1.1)  # node 5
    slow, slow_run = timeline_step(
        model,
        p,
        fabric,
        catalog,
        COMPUTE,
        slow_ranks=slow_node,
        **options,  # type: ignore[arg-type]
    )
    grown = slow.step_time_s - base.step_time_s
    compute = base_run.path.by_kind["forward"] + base_run.path.by_kind["backward"]
    assert grown == pytest.approx(0.10 * compute, rel=0.1)
    assert 0.07 < slow.step_time_s / base.step_time_s - 1 < 0.10
    # the slow node's two replicas are one class, the other 14 replicas another
    assert slow_run.trace.layout.classes == (tuple(b for b in range(16) if b // 2 != 5), (10, 11))
    first, *_ = attribute_change(base_run.path, slow_run.path)
    assert first[0] == "stage 0 backward compute"


def test_a_failed_spine_slows_a_cross_spine_data_parallel_phase_as_max_min_says(
    build: Build, catalog: Catalog
) -> None:
    # 2 SUs of 32 DGX H100 at 2:1: each rail's leaf has 16 x 50 GB/s up, 4 to each of 4 spines.
    # With tp 8 x cp 32 per replica the two DP replicas sit one SU apart, so every DP ring hop
    # crosses the spine: 32 NICs per leaf share the uplinks, 800 / 32 = 25 GB/s each. One
    # spine down leaves 600 GB/s: 18.75 GB/s, the DP calls take 4/3 as long.
    model = load_model("llama3-8b")
    p = ParallelConfig(tp=8, cp=32, dp=2, global_batch=2, seq_len=8192)
    options = {"analytic": AnalyticEngine(catalog), "check_memory": False}
    times = []
    for failed in ((), ("spine0",)):
        fabric = build("dgx-h100", node_count=64, oversubscription=2.0, fail_devices=failed)
        _, run = timeline_step(model, p, fabric, catalog, COMPUTE, **options)  # type: ignore[arg-type]
        gather = next(c for c in run.result.calls if c.id == "s0.v0.dp-ag0")  # alone at t = 0
        times.append(gather.duration_s)
    latency = 2 * 3 * 1e-6  # below 0.5 % of these calls
    assert times[1] / times[0] == pytest.approx(800 / 600, rel=0.01 + latency / times[0])


def test_a_large_data_parallel_group_is_timed_in_the_timelines_buckets(
    build: Build, catalog: Catalog
) -> None:
    """At dp 1,024 with two micro-batches a replica the buckets are 1 B parameters each and the
    sync cannot hide behind one micro-batch: the closed form times and overlaps the same
    buckets as the timeline (it was 17 % short timing all gradients as one call)."""
    p = ParallelConfig(
        seq_len=8192,
        tp=8,
        dp=1024,
        global_batch=2048,
        precision="fp8",
        tp_comm_overlap=True,
        zero_stage=1,
    )
    fabric = build("dgx-h100", node_count=1024)
    model = load_model("llama3-70b")
    options = {"analytic": AnalyticEngine(catalog), "check_memory": False}
    closed = estimate_step(model, p, fabric, catalog, COMPUTE, **options)  # type: ignore[arg-type]
    timeline = estimate_step(model, p, fabric, catalog, COMPUTE, engine="des", **options)  # type: ignore[arg-type]
    assert closed.breakdown_s["exposed_dp"] > 0.2 * closed.step_time_s  # the case exercises it
    assert timeline.step_time_s == pytest.approx(closed.step_time_s, rel=0.03)
