"""Sharing analyses between alike nodes never changes an answer (issue #13's exactness)."""

from __future__ import annotations

import contextlib
import pickle

import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import TopologyError
from interconnect_sim.specs import Catalog
from interconnect_sim.specs.model import SystemSpec
from interconnect_sim.topology import (
    FabricRequest,
    build_fabric,
    with_links_disabled,
    without_link,
)
from interconnect_sim.topology.fabric import BANDWIDTH, SharedEdgeData
from interconnect_sim.topology.routing import _path, gpu_path
from interconnect_sim.topology.structure import NodeSharing, no_sharing
from tests.sharing import assert_same, with_and_without_sharing

# A three-level tree of 36-port switches: 40 nodes in SUs of 18 make 24 leaves in two pods (the
# last SU and pod partly filled); one NVLink of GPU 3 in node 2 failed, one spine of pod 0 gone.
BROKEN = FabricRequest(
    system="dgx-h100",
    node_count=40,
    switch="sb7800",
    levels=3,
    disable_links=(("n2/gpu3", "n2/nvsw1", 1),),
    fail_devices=("pod0/spine5",),
)
GROUPS = [
    list(range(16, 24)),  # the TP group of the degraded node
    list(range(8, 16)),  # a TP group of an intact node
    [3, 11, 19, 27],  # GPU 3 of nodes 0-3: a ring through the degraded GPU
    list(range(0, 320, 8)),  # GPU 0 of every node: through the missing spine
    [4, 8, 21, 30],  # one GPU per node, not the same one: a pipeline's sends
]


def test_a_what_if_that_breaks_symmetry_gives_the_answer_of_no_sharing(catalog: Catalog) -> None:
    shared, alone = with_and_without_sharing(lambda: build_fabric(catalog, BROKEN), catalog, GROUPS)
    assert_same(shared, alone)
    # and the what-if shows: the degraded node's group is slower than an intact node's
    assert shared["group0"]["ring_intra_bytes_per_s"] < shared["group1"]["ring_intra_bytes_per_s"]
    assert shared["world"]["ring_intra_bytes_per_s"] == shared["group0"]["ring_intra_bytes_per_s"]


def test_a_degraded_node_limits_a_communicator_that_does_not_start_on_it(
    catalog: Catalog,
) -> None:
    fabric = build_fabric(catalog, BROKEN)
    analytic = AnalyticEngine(catalog)
    intact = analytic.bandwidths(fabric, gpus=[f"n{k}/gpu{i}" for k in (0, 1) for i in range(8)])
    spanning = analytic.bandwidths(
        fabric, gpus=[f"n{k}/gpu{i}" for k in (0, 1, 2) for i in range(8)]
    )
    assert spanning.ring_intra_bytes_per_s < intact.ring_intra_bytes_per_s
    assert spanning.intra_bottleneck.startswith("link n2/")
    assert [g.node_prefixes for g in spanning.plan.groups] == [("n2/",), ("n0/", "n1/")]


@pytest.mark.parametrize(
    "system", ["dgx-a100", "dgx1-v100", "mi300x-8x", "gb200-nvl72", "h100-pcie-bridged"]
)
def test_presets_with_failures_match_no_sharing(catalog: Catalog, system: str) -> None:
    def build() -> object:
        fabric = build_fabric(catalog, FabricRequest(system=system, node_count=3))
        a, b, count = next(
            (u, v, d["link_count"])
            for u, v, d in fabric.graph.edges(data=True)
            if u.startswith("n1/") and d["tier"] == "nvlink"
        )
        return with_links_disabled(fabric, a, b) if count > 1 else without_link(fabric, a, b)

    gpus = len(build_fabric(catalog, FabricRequest(system=system)).gpus)
    groups = [list(range(gpus, 2 * gpus)), [0, gpus, 2 * gpus]]
    shared, alone = with_and_without_sharing(build, catalog, groups)  # type: ignore[arg-type]
    assert_same(shared, alone)


def _snapshot(fabric: object) -> tuple[object, ...]:
    graph = fabric.graph  # type: ignore[attr-defined]
    return (
        list(graph._node.items()),
        [(u, list(ends.items())) for u, ends in graph._succ.items()],
        [(v, list(ends)) for v, ends in graph._pred.items()],
    )


def test_stamped_fabrics_are_the_graphs_built_node_by_node(catalog: Catalog) -> None:
    for system in sorted(s.id for s in catalog.of_kind(SystemSpec)):
        request = FabricRequest(system=system, node_count=3)
        stamped = build_fabric(catalog, request)
        with no_sharing():
            built = build_fabric(catalog, request)
        assert _snapshot(stamped) == _snapshot(built), system


def test_what_ifs_give_the_nodes_they_touch_a_kind_of_their_own(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=4))
    assert fabric.node_kinds is not None
    assert set(fabric.node_kinds.kinds) == {0}
    edited = with_links_disabled(fabric, "n1/gpu0", "n1/nvsw0")
    kinds = edited.node_kinds
    assert kinds is not None
    assert kinds.kinds[0] == kinds.kinds[2] == kinds.kinds[3] != kinds.kinds[1]
    assert NodeSharing.of(edited).template(3) == 0
    assert NodeSharing.of(edited).template(1) == 1
    # a copy made without a what-if, or a pickled fabric, knows nothing and shares nothing
    assert fabric.copy().node_kinds is None
    assert pickle.loads(pickle.dumps(fabric)).node_kinds is None


def test_shared_link_attributes_are_read_only_and_copies_are_not(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=2))
    data = fabric.graph.edges["n1/gpu0", "n1/nvsw0"]
    assert isinstance(data, SharedEdgeData)
    assert data is fabric.graph.edges["n0/gpu0", "n0/nvsw0"]
    with pytest.raises(TypeError, match="read-only"):
        data[BANDWIDTH] = 1.0
    copy = fabric.copy()
    copy.graph.edges["n1/gpu0", "n1/nvsw0"][BANDWIDTH] = 1.0
    assert fabric.edge("n0/gpu0", "n0/nvsw0").bandwidth_bytes_per_s > 1.0


def test_paths_inside_a_node_are_the_paths_a_whole_fabric_search_finds(catalog: Catalog) -> None:
    """Searching inside the system first changes no route of any preset, P2P on or off."""
    inside = 0
    for system in sorted(s.id for s in catalog.of_kind(SystemSpec)):
        for p2p in (True, False):
            fabric = build_fabric(catalog, FabricRequest(system=system, node_count=2, p2p=p2p))
            gpus = [g for g in fabric.gpus if g.startswith("n1/")][:8]
            for src, dst in ((a, b) for a in gpus[::5] for b in gpus if a != b):
                try:
                    whole = _path(fabric, src, dst, within=None)
                except TopologyError:
                    continue  # no path at all (P2P off across NVLink-only hosts)
                assert gpu_path(fabric, src, dst) == whole, (system, p2p, src, dst)
                with contextlib.suppress(TopologyError):  # else gpu_path searched everywhere
                    inside += _path(fabric, src, dst, within=1) == whole
    assert inside > 400


def test_a_tensor_parallel_group_is_analysed_once_per_kind_of_node(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=64))
    analytic = AnalyticEngine(catalog)
    first = analytic.bandwidths(fabric, gpus=[f"n0/gpu{i}" for i in range(8)])
    other = analytic.bandwidths(fabric, gpus=[f"n37/gpu{i}" for i in range(8)])
    assert other.joint_rate is first.joint_rate  # one analysis, renamed
    assert other.plan.groups[0].node_prefixes == ("n37/",)
    assert other.intra_bottleneck == first.intra_bottleneck.replace("n0/", "n37/")
    estimate = analytic.estimate(None, CollectiveOp.ALL_GATHER, [2.0**26], bandwidths=other)
    assert (
        estimate.time_s[0]
        == analytic.estimate(None, CollectiveOp.ALL_GATHER, [2.0**26], bandwidths=first).time_s[0]
    )
