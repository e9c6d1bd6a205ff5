"""Properties of rail-optimized fat trees over random sizes, switch radices and tapers."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric, summarize_fabric
from interconnect_sim.topology.fabric import LINK_COUNT

CATALOG = load_catalog()
NETWORK_KINDS = ("leaf", "spine", "core")

fat_trees = st.fixed_dictionaries(
    {
        "system": st.sampled_from(["dgx-h100", "dgx-a100", "dgx1-v100"]),
        "node_count": st.integers(min_value=2, max_value=72),
        "switch": st.sampled_from([None, "qm8790", "qm9700", "sb7800"]),
        "oversubscription": st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.0]),
        "levels": st.sampled_from([None, None, 3]),
    }
)
SLOW = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _build(params: dict[str, object]):  # type: ignore[no-untyped-def]
    return build_fabric(CATALOG, FabricRequest(**params))  # type: ignore[arg-type]


@SLOW
@given(fat_trees)
def test_no_switch_uses_more_ports_than_it_has(params: dict[str, object]) -> None:
    fabric = _build(params)
    for kind in NETWORK_KINDS:
        for switch in fabric.nodes_of_kind(kind):
            ports = sum(d[LINK_COUNT] for _, _, d in fabric.graph.out_edges(switch, data=True))
            radix = CATALOG.switch(fabric.graph.nodes[switch]["spec"]).port_count
            assert ports <= radix, (switch, ports, radix)


@SLOW
@given(fat_trees)
def test_every_nic_hangs_off_exactly_one_leaf_of_its_rail(params: dict[str, object]) -> None:
    fabric = _build(params)
    for nic in fabric.nodes_of_kind("nic"):
        leaves = [n for n in fabric.graph.successors(nic) if fabric.kind(n) == "leaf"]
        assert len(leaves) == 1
        assert fabric.graph.nodes[leaves[0]]["rail"] == fabric.graph.nodes[nic]["rail"]


@SLOW
@given(fat_trees)
def test_bisection_is_bounded_by_nics_and_by_the_taper(params: dict[str, object]) -> None:
    fabric = _build(params)
    summary = summarize_fabric(fabric, CATALOG)
    nodes = summary.nodes
    nic_bound = (
        (nodes // 2) * summary.gpus_per_node * summary.per_gpu_bandwidth_bytes_per_s["network"]
    )
    assert summary.bisection_bandwidth_bytes_per_s <= nic_bound * (1 + 1e-9)
    if params["oversubscription"] == 1.0:
        assert summary.bisection_bandwidth_bytes_per_s >= nic_bound * (1 - 1e-9)


@SLOW
@given(fat_trees)
def test_more_oversubscription_never_raises_bisection(params: dict[str, object]) -> None:
    full = summarize_fabric(_build({**params, "oversubscription": 1.0}), CATALOG)
    tapered = summarize_fabric(_build(params), CATALOG)
    assert tapered.bisection_bandwidth_bytes_per_s <= full.bisection_bandwidth_bytes_per_s * (
        1 + 1e-9
    )
