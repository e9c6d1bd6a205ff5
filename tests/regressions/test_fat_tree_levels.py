"""Issue #10, "Unbounded work": ``topo dgx-h100 --nodes 9000`` needed 29 s to fail with
"core32 is cut off" (a three-level fat tree with more cores per plane than a spine has uplinks),
and the uplinks of a plane piled onto its first cores beyond their ports."""

from __future__ import annotations

import pytest

from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest, build_fabric, fat_tree
from interconnect_sim.topology.fabric import LINK_COUNT
from tests.fuzzing import assert_user_error, run_main


def test_topo_dgx_h100_9000_nodes_fails_before_building_with_the_three_level_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    original = fat_tree.add_system

    def counting(*args: object, **kwargs: object) -> object:
        built.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fat_tree, "add_system", counting)
    line = assert_user_error(run_main(["topo", "dgx-h100", "--nodes", "9000"]), "9000")
    assert "three-level fat tree" in line
    assert "holds at most 2048" in line
    assert "8192 nodes" in line
    assert len(built) <= 1  # one system, to learn its NICs; not 9000


def test_three_level_cores_get_their_share_and_no_more_ports(catalog: Catalog) -> None:
    # 136 leaves of 36-port switches: 4 cores per plane. The old rule gave every pod's extra
    # uplinks to the first cores (37 links on a 36-port core).
    fabric = build_fabric(
        catalog,
        FabricRequest(system="dgx-h100", node_count=300, switch="sb7800", levels=3),
    )
    graph = fabric.graph
    for core in fabric.nodes_of_kind("core"):
        ports = sum(d[LINK_COUNT] for _, _, d in graph.out_edges(core, data=True))
        assert 0 < ports <= catalog.switch(graph.nodes[core]["spec"]).port_count, (core, ports)
    for spine in fabric.nodes_of_kind("spine"):
        down = sum(
            d[LINK_COUNT]
            for _, n, d in graph.out_edges(spine, data=True)
            if graph.nodes[n]["kind"] == "leaf"
        )
        up = sum(
            d[LINK_COUNT]
            for _, n, d in graph.out_edges(spine, data=True)
            if graph.nodes[n]["kind"] == "core"
        )
        assert up == down  # non-blocking spine
