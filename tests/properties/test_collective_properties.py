"""Properties of the collective model over random fabrics."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from tests.collective_fabrics import ideal_calibration, star_fabric

CATALOG = load_catalog()
IDEAL = AnalyticEngine(CATALOG, ideal_calibration())
SHIPPED = AnalyticEngine(CATALOG)
sizes = st.floats(min_value=8, max_value=2.0**34)
link_counts = st.lists(st.integers(min_value=1, max_value=18), min_size=2, max_size=8)
RING_OPS = [CollectiveOp.ALL_REDUCE, CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER]


@settings(max_examples=60, deadline=None)
@given(link_counts, sizes, st.sampled_from(RING_OPS))
def test_ring_busbw_never_exceeds_the_bottleneck(
    counts: list[int], size: float, op: CollectiveOp
) -> None:
    fabric = star_fabric(CATALOG, counts)
    est = IDEAL.estimate(fabric, op, [size], algorithm="ring", protocol="simple")
    assert est.busbw_bytes_per_s[0] <= min(counts) * 25e9 * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    link_counts,
    st.integers(min_value=0, max_value=7),
    sizes,
    st.sampled_from([*RING_OPS, CollectiveOp.ALLTOALL, CollectiveOp.BROADCAST]),
)
def test_more_bandwidth_never_makes_a_collective_slower(
    counts: list[int], which: int, size: float, op: CollectiveOp
) -> None:
    slow = star_fabric(CATALOG, counts)
    faster = list(counts)
    faster[which % len(counts)] += 4
    fast = star_fabric(CATALOG, faster)
    t_slow = SHIPPED.estimate(slow, op, [size]).time_s[0]
    t_fast = SHIPPED.estimate(fast, op, [size]).time_s[0]
    assert t_fast <= t_slow * (1 + 1e-12)


@settings(max_examples=15, deadline=None)
@given(
    st.sampled_from(["dgx-h100", "dgx-a100", "dgx-b200"]),
    st.integers(2, 4),
    sizes,
    st.sampled_from([*RING_OPS, CollectiveOp.ALLTOALL, CollectiveOp.SENDRECV]),
)
def test_faster_nics_never_slow_a_multi_node_collective(
    system: str, nodes: int, size: float, op: CollectiveOp
) -> None:
    slow = build_fabric(CATALOG, FabricRequest(system=system, node_count=nodes, nic="connectx-6"))
    fast = build_fabric(
        CATALOG, FabricRequest(system=system, node_count=nodes, nic="connectx-8", switch="q3400")
    )
    t_slow = SHIPPED.estimate(slow, op, [size]).time_s[0]
    t_fast = SHIPPED.estimate(fast, op, [size]).time_s[0]
    assert t_fast <= t_slow * (1 + 1e-12)
