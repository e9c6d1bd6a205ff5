"""Multi-node fabrics: switch counts against the cited SuperPOD tables, bisection closed forms."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interconnect_sim.errors import ScenarioError, TopologyError
from interconnect_sim.specs import Catalog, SuperPodSpec, load_catalog
from interconnect_sim.topology import Fabric, summarize_fabric
from interconnect_sim.topology.fat_tree import leaf_port_split

Build = Callable[..., Fabric]

REFERENCE_ROWS = [
    (pod.id, pod.system, row)
    for pod in load_catalog().of_kind(SuperPodSpec)
    for row in pod.reference_rows
]


@pytest.mark.parametrize(
    ("pod_id", "system", "row"),
    REFERENCE_ROWS,
    ids=[f"{pod}-{row.scalable_unit_count}su" for pod, _, row in REFERENCE_ROWS],
)
def test_superpod_switch_counts_match_reference_architecture(
    build: Build, pod_id: str, system: str, row
) -> None:  # type: ignore[no-untyped-def]
    fabric = build(system, scalable_units=row.scalable_unit_count)
    assert len(fabric.gpus) == row.node_count * 8
    assert fabric.graph.graph["node_count"] == row.node_count
    assert len(fabric.nodes_of_kind("leaf")) == row.leaf_count
    assert len(fabric.nodes_of_kind("spine")) == row.spine_count
    assert len(fabric.nodes_of_kind("core")) == row.core_count


def test_reference_tables_cover_h100_b200_and_a100() -> None:
    pods = {pod for pod, _, _ in REFERENCE_ROWS}
    assert {"dgx-h100-superpod", "dgx-b200-superpod", "dgx-a100-superpod"} <= pods


def test_h100_superpod_is_rail_aligned_one_hop_within_a_scalable_unit(build: Build) -> None:
    fabric = build("dgx-h100", scalable_units=1)
    for nic in fabric.nodes_of_kind("nic"):
        (leaf,) = [n for n in fabric.graph.successors(nic) if fabric.kind(n) == "leaf"]
        assert fabric.graph.nodes[leaf]["rail"] == fabric.graph.nodes[nic]["rail"]


@pytest.mark.parametrize("nodes", [2, 31, 64, 127])
def test_nonblocking_fat_tree_bisection_is_half_the_gpus_scale_out(
    build: Build, catalog: Catalog, nodes: int
) -> None:
    summary = summarize_fabric(build("dgx-h100", node_count=nodes), catalog)
    half_nodes = nodes // 2
    assert summary.bisection_bandwidth_bytes_per_s == pytest.approx(half_nodes * 8 * 50e9)


@pytest.mark.parametrize(
    ("system", "nodes"), [("dgx-h100", 64), ("dgx-b200", 256), ("dgx-a100", 80)]
)
def test_two_to_one_oversubscription_halves_bisection(
    build: Build, catalog: Catalog, system: str, nodes: int
) -> None:
    full = summarize_fabric(build(system, node_count=nodes), catalog)
    tapered = summarize_fabric(build(system, node_count=nodes, oversubscription=2.0), catalog)
    assert tapered.bisection_bandwidth_bytes_per_s == pytest.approx(
        full.bisection_bandwidth_bytes_per_s / 2
    )


def test_three_level_tree_is_nonblocking(build: Build, catalog: Catalog) -> None:
    fabric = build("dgx-b200", node_count=512)  # 16 SUs: leaf, spine and core layers
    assert fabric.graph.graph["levels"] == 3
    summary = summarize_fabric(fabric, catalog)
    assert summary.bisection_bandwidth_bytes_per_s == pytest.approx(256 * 8 * 50e9)


def test_forcing_three_levels_on_a_small_fabric(build: Build, catalog: Catalog) -> None:
    fabric = build("dgx-h100", node_count=64, levels=3)
    assert fabric.nodes_of_kind("core")
    summary = summarize_fabric(fabric, catalog)
    assert summary.bisection_bandwidth_bytes_per_s == pytest.approx(32 * 8 * 50e9)


def test_nvl72_racks_join_over_a_scale_out_fabric(build: Build, catalog: Catalog) -> None:
    fabric = build("gb200-nvl72", node_count=4)
    assert len(fabric.gpus) == 288
    summary = summarize_fabric(fabric, catalog)
    assert summary.bisection_bandwidth_bytes_per_s == pytest.approx(2 * 72 * 50e9)


def test_systems_without_superpod_use_a_switch_matching_their_nic(build: Build) -> None:
    fabric = build("dgx1-v100", node_count=4)
    leaf = fabric.nodes_of_kind("leaf")[0]
    assert fabric.graph.nodes[leaf]["spec"] == "sb7800"  # EDR ConnectX-4 -> EDR switch


@pytest.mark.parametrize(
    ("radix", "ratio", "expected"),
    [(64, 1.0, (32, 32)), (64, 2.0, (42, 21)), (64, 3.0, (48, 16)), (40, 1.0, (20, 20))],
)
def test_leaf_port_split(radix: int, ratio: float, expected: tuple[int, int]) -> None:
    assert leaf_port_split(radix, ratio) == expected


def test_impossible_requests_are_clear_errors(build: Build) -> None:
    with pytest.raises(ScenarioError, match="no SuperPOD"):
        build("rtx4090-pcie-8x", scalable_units=2)
    with pytest.raises(TopologyError, match="oversubscription"):
        build("dgx-h100", node_count=4, oversubscription=0.0)
    with pytest.raises(ScenarioError, match="unknown system"):
        build("dgx-h1000")
