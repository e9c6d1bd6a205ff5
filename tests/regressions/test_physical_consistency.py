"""Issue #10, "One physical inconsistency": more NVLink lanes never make a collective slower."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric


@pytest.mark.parametrize("engine_class", [AnalyticEngine, DiscreteEventEngine])
@pytest.mark.parametrize(("op", "nodes"), [(CollectiveOp.SENDRECV, 2), (CollectiveOp.ALLTOALL, 1)])
def test_more_nvlink_lanes_never_slow_dgx1_p2p(
    catalog: Catalog,
    build: Callable[..., Fabric],
    engine_class: type[AnalyticEngine] | type[DiscreteEventEngine],
    op: CollectiveOp,
    nodes: int,
) -> None:
    # The reproducer: dgx1-v100, 2 nodes, 16 MiB sendrecv was faster at 2 lanes than at 3-8,
    # because the shift borrowed the rings' efficiency, and the rings move from PCIe to NVLink
    # (a lower fitted efficiency) as lanes are added while the shift stays on PCIe.
    engine = engine_class(catalog)
    times = [
        engine.estimate(build("dgx1-v100", node_count=nodes, nvlink_lanes_per_link=lanes), op,
                        [16 * 2**20, 2**32]).time_s
        for lanes in (1, 2, 3, 8)
    ]  # fmt: skip
    for fewer, more in itertools.pairwise(times):
        assert all(more <= fewer * (1 + 1e-9))
