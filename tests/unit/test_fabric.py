"""Fabric invariants name the offending node or edge."""

from __future__ import annotations

import pytest

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.topology.fabric import BANDWIDTH


def _pair(catalog: Catalog) -> Fabric:
    fabric = Fabric("pair")
    fabric.add_device("g0", kind="gpu", node=0)
    fabric.add_device("g1", kind="gpu", node=0)
    fabric.add_duplex_link("g0", "g1", catalog.link("nvlink-4"), link_count=18)
    return fabric


def test_duplex_link_makes_one_edge_per_direction_with_count_times_rate(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    for src, dst in (("g0", "g1"), ("g1", "g0")):
        edge = fabric.edge(src, dst)
        assert edge.bandwidth_bytes_per_s == 18 * 25e9
        assert edge.link_count == 18
        assert edge.tier == "nvlink"
    assert fabric.link_counts_by_spec() == {"nvlink-4": 18}
    fabric.validate()


def test_narrow_link_scales_by_active_lanes(catalog: Catalog) -> None:
    fabric = Fabric("x8")
    fabric.add_device("g0", kind="gpu")
    fabric.add_device("s0", kind="pcie_switch")
    fabric.add_duplex_link("g0", "s0", catalog.link("pcie-5"), lane_count=8)
    assert fabric.edge("g0", "s0").bandwidth_bytes_per_s == pytest.approx(63.015e9 / 2)


def test_validate_names_edge_without_reverse(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    fabric.graph.remove_edge("g1", "g0")
    with pytest.raises(TopologyError, match="g0 -> g1 has no reverse"):
        fabric.validate()


def test_validate_names_edge_with_zero_capacity(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    fabric.graph.edges["g0", "g1"][BANDWIDTH] = 0.0
    with pytest.raises(TopologyError, match="g0 -> g1 has non-positive capacity"):
        fabric.validate()


def test_validate_names_a_disconnected_device(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    fabric.add_device("g2", kind="gpu")
    with pytest.raises(TopologyError, match="'g2' is cut off"):
        fabric.validate()


def test_unknown_kind_and_duplicate_links_are_rejected(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    with pytest.raises(TopologyError, match="unknown kind"):
        fabric.add_device("x", kind="router")
    with pytest.raises(TopologyError, match="added twice"):
        fabric.add_duplex_link("g0", "g1", catalog.link("nvlink-4"))
    with pytest.raises(TopologyError, match="does not exist"):
        fabric.add_duplex_link("g0", "nope", catalog.link("nvlink-4"))


def test_derived_data_is_rebuilt_after_the_fabric_changes(catalog: Catalog) -> None:
    fabric = _pair(catalog)
    edge_count = lambda: fabric.graph.number_of_edges()  # noqa: E731 - the builder under test
    assert fabric.derived("edges", edge_count) == 2
    fabric.add_device("g2", kind="gpu")
    assert fabric.derived("edges", edge_count) == 2
    fabric.add_duplex_link("g1", "g2", catalog.link("nvlink-4"))  # same node count
    assert fabric.derived("edges", edge_count) == 4  # not the stale 2
    assert fabric.nodes_of_kind("gpu") == ["g0", "g1", "g2"]


def test_a_copy_and_a_p2p_change_start_without_derived_data(catalog: Catalog) -> None:
    from interconnect_sim.topology.whatif import with_p2p

    fabric = _pair(catalog)
    assert fabric.derived("p2p", lambda: fabric.p2p) is True
    copy = with_p2p(fabric, False)
    assert copy.derived("p2p", lambda: copy.p2p) is False
    assert fabric.derived("p2p", lambda: fabric.p2p) is True
