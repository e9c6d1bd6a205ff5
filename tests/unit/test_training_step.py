"""The step model: accounting, memory errors, engines, and scaling properties."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import estimate_step

Build = Callable[..., Fabric]
COMPUTE = load_compute_calibration()


def _step(build: Build, catalog: Catalog, nodes: int = 8, engine: str = "analytic", **kw):  # type: ignore[no-untyped-def]
    parallel = ParallelConfig(
        **{
            "tp": 4,
            "pp": 4,
            "cp": 2,
            "vpp": 5,
            "micro_batch": 1,
            "global_batch": 128,
            "seq_len": 8192,
            "precision": "fp8",
            "tp_comm_overlap": True,
            "dp": nodes * 8 // 32,
            **kw,
        }
    )
    fabric = build("dgx-h100", node_count=nodes)
    return estimate_step(
        load_model("llama3-70b"), parallel, fabric, catalog, COMPUTE, engine=engine
    )


def test_breakdown_adds_up_to_the_step_time(build: Build, catalog: Catalog) -> None:
    step = _step(build, catalog)
    parts = step.breakdown_s
    assert sum(parts.values()) == pytest.approx(step.step_time_s)
    assert step.tokens_per_s == pytest.approx(128 * 8192 / step.step_time_s)


def test_des_and_analytic_agree_when_groups_do_not_contend(build: Build, catalog: Catalog) -> None:
    analytic = _step(build, catalog)
    des = _step(build, catalog, engine="des")
    assert des.step_time_s == pytest.approx(analytic.step_time_s, rel=0.01)


def test_config_that_does_not_fit_says_how_much_it_needs(build: Build, catalog: Catalog) -> None:
    parallel = ParallelConfig(tp=1, pp=1, dp=8, micro_batch=1, global_batch=8, seq_len=8192)
    with pytest.raises(ScenarioError, match=r"needs .* GB per GPU .* has 80 GB"):
        estimate_step(load_model("llama3-70b"), parallel, build("dgx-h100"), catalog, COMPUTE)


def test_too_many_gpus_is_an_error(build: Build, catalog: Catalog) -> None:
    parallel = ParallelConfig(tp=8, pp=2, dp=1, micro_batch=1, global_batch=1, seq_len=2048)
    with pytest.raises(ScenarioError, match="fabric has 8"):
        estimate_step(load_model("llama3-8b"), parallel, build("dgx-h100"), catalog, COMPUTE)


def test_tp_across_nodes_warns(build: Build, catalog: Catalog) -> None:
    parallel = ParallelConfig(tp=16, pp=1, dp=1, micro_batch=1, global_batch=1, seq_len=4096)
    step = estimate_step(
        load_model("llama3-70b"), parallel, build("dgx-h100", node_count=2), catalog, COMPUTE
    )
    assert any("TP group spans 2 nodes" in w for w in step.warnings)


configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["llama3-8b", "llama2-13b", "gpt3-175b"]),
        "tp": st.sampled_from([1, 2, 4, 8]),
        "pp": st.sampled_from([1, 2, 4]),
        "micro_batch": st.sampled_from([1, 2]),
        "recompute": st.sampled_from(["none", "selective", "full"]),
    }
)


@settings(max_examples=25, deadline=None)
@given(configs)
def test_more_bandwidth_never_slows_a_step(build: Build, catalog: Catalog, cfg) -> None:  # type: ignore[no-untyped-def]
    model = load_model(cfg["model"])
    if model.layers % cfg["pp"]:
        return
    dp = 32 // (cfg["tp"] * cfg["pp"])
    parallel = ParallelConfig(
        tp=cfg["tp"],
        pp=cfg["pp"],
        dp=dp,
        micro_batch=cfg["micro_batch"],
        global_batch=dp * cfg["micro_batch"] * 4,
        seq_len=2048,
        recompute=cfg["recompute"],
    )
    slow = build("dgx-h100", node_count=4, nic="connectx-6", nvlink_lanes_per_link=1)
    fast = build("dgx-h100", node_count=4)
    t_slow = estimate_step(model, parallel, slow, catalog, COMPUTE, check_memory=False)
    t_fast = estimate_step(model, parallel, fast, catalog, COMPUTE, check_memory=False)
    assert t_fast.step_time_s <= t_slow.step_time_s * (1 + 1e-9)


@settings(max_examples=20, deadline=None)
@given(configs)
def test_doubling_dp_at_fixed_batch_loses_only_what_communication_explains(
    build: Build,
    catalog: Catalog,
    cfg,  # type: ignore[no-untyped-def]
) -> None:
    model = load_model(cfg["model"])
    if model.layers % cfg["pp"]:
        return
    dp = 16 // (cfg["tp"] * cfg["pp"])
    if dp < 1:
        return
    batch = 2 * dp * cfg["micro_batch"] * 4

    def run(data_parallel: int, nodes: int):  # type: ignore[no-untyped-def]
        parallel = ParallelConfig(
            tp=cfg["tp"],
            pp=cfg["pp"],
            dp=data_parallel,
            micro_batch=cfg["micro_batch"],
            global_batch=batch,
            seq_len=2048,
            recompute=cfg["recompute"],
        )
        fabric = build("dgx-h100", node_count=nodes)
        return estimate_step(model, parallel, fabric, catalog, COMPUTE, check_memory=False)

    small, large = run(dp, 2), run(2 * dp, 4)
    # Compute per GPU halves exactly; anything the step loses beyond that is exposed
    # communication, bubble or optimizer time, all itemised in the breakdown.
    assert large.breakdown_s["compute"] == pytest.approx(small.breakdown_s["compute"] / 2)
    overhead = large.step_time_s - large.breakdown_s["compute"]
    assert large.step_time_s <= small.step_time_s / 2 + overhead + 1e-12
    assert large.tokens_per_s >= small.tokens_per_s * small.step_time_s / (
        small.step_time_s / 2 + overhead
    ) * (1 - 1e-9)
