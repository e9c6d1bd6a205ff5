"""Every builder family on random systems: the fabric is connected, every link has both
directions and a positive capacity, every GPU reaches every GPU (over the scale-up links where
the family promises them), and the wiring gives each GPU what its spec says.

Systems are drawn as variations of a preset of the family (same GPU, links and switches, random
counts and wiring), checked like a file the catalog loads, then built alone and as two nodes.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.collectives.paths import HopPaths
from interconnect_sim.specs import SystemSpec, load_catalog
from interconnect_sim.topology import FabricRequest
from interconnect_sim.topology.fabric import BANDWIDTH, TIER, Fabric
from interconnect_sim.topology.fat_tree import build_multi_node
from interconnect_sim.topology.node import check_buildable
from interconnect_sim.topology.presets import default_design

CATALOG = load_catalog()
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _nics(draw: st.DrawFn, gpus: int) -> dict[str, int]:
    nic_count = draw(st.integers(min_value=1, max_value=2 * gpus))
    return {"nic_count": nic_count, "rail_count": draw(st.integers(1, nic_count))}


@st.composite
def nvswitch_systems(draw: st.DrawFn) -> SystemSpec:
    """DGX H100-like: random GPUs, chips and links per chip (within 18 links, 64 ports)."""
    gpus = draw(st.integers(min_value=1, max_value=12))
    chips = draw(st.integers(min_value=1, max_value=6))
    cap = min(4, 64 // gpus, 18 // chips)  # 64-port chips, 18 NVLinks per H100
    links = draw(st.lists(st.integers(1, cap), min_size=chips, max_size=chips))
    return replace(
        CATALOG.system("dgx-h100"),
        id="random-nvswitch",
        gpu_count=gpus,
        nvswitch_count=chips,
        gpu_links_per_nvswitch=tuple(links),
        pcie_switch_count=draw(st.integers(0, 4)),
        **_nics(draw, gpus),
    )


@st.composite
def two_board_systems(draw: st.DrawFn) -> SystemSpec:
    """DGX-2-like: boards of NVSwitch chips joined chip to chip (18-port chips)."""
    boards = draw(st.integers(min_value=2, max_value=3))
    per_board = draw(st.integers(min_value=1, max_value=6))
    gpus_per_board = draw(st.integers(min_value=1, max_value=8))
    inter = draw(st.integers(min_value=1, max_value=18 - gpus_per_board))
    return replace(
        CATALOG.system("dgx2-v100"),
        id="random-two-board",
        board_count=boards,
        gpu_count=boards * gpus_per_board,
        nvswitch_count=boards * per_board,
        gpu_links_per_nvswitch=(1,) * per_board,
        inter_board_links_per_nvswitch=inter,
        **_nics(draw, boards * gpus_per_board),
    )


@st.composite
def mesh_systems(draw: st.DrawFn) -> SystemSpec:
    """A random symmetric link matrix over MI300X, H100 or Gaudi 3 GPUs (within their ports)."""
    base = CATALOG.system(draw(st.sampled_from(["mi300x-8x", "hgx-h100-4gpu", "gaudi3-8x"])))
    gpu = CATALOG.gpu(base.gpu)
    n = draw(st.integers(min_value=2, max_value=8))
    matrix = [[0] * n for _ in range(n)]
    for i, j in itertools.combinations(range(n), 2):
        spare = gpu.nvlink_count - max(sum(matrix[i]), sum(matrix[j]))
        matrix[i][j] = matrix[j][i] = draw(st.integers(0, min(3, spare)))
    nics = {} if base.nic_attach == "gpu" else _nics(draw, n)
    return replace(
        base,
        id="random-mesh",
        gpu_count=n,
        link_matrix=tuple(tuple(row) for row in matrix),
        nic_count=3 * n if base.nic_attach == "gpu" else nics["nic_count"],
        rail_count=3 if base.nic_attach == "gpu" else nics["rail_count"],
    )


@st.composite
def pcie_systems(draw: st.DrawFn) -> SystemSpec:
    """PCIe boxes: random switches, sockets, disjoint NVLink bridge pairs, P2P on or off."""
    base = CATALOG.system(draw(st.sampled_from(["h100-pcie-bridged", "l40s-pcie-8x"])))
    gpus = draw(st.integers(min_value=1, max_value=8))
    pairs: tuple[tuple[int, int], ...] = ()
    if base.nvlink_bridge_pairs:
        order = draw(st.permutations(range(gpus)))
        count = draw(st.integers(0, gpus // 2))
        pairs = tuple((order[2 * k], order[2 * k + 1]) for k in range(count))
    return replace(
        base,
        id="random-pcie",
        gpu_count=gpus,
        nvlink_bridge_pairs=pairs,
        cpu_socket_count=draw(st.integers(1, 2)),
        pcie_switch_count=draw(st.integers(0, 4)),
        p2p=draw(st.booleans()),
        **_nics(draw, gpus),
    )


@st.composite
def domain_systems(draw: st.DrawFn) -> SystemSpec:
    """NVLink domains across hosts: superchip or PCIe hosts, groups of L1 chips, spines."""
    base = CATALOG.system(draw(st.sampled_from(["gb300-nvl72", "h100-nvl256", "dgx-gh200"])))
    switch = CATALOG.switch(base.nvswitch or "")
    spine = CATALOG.switch(base.spine_nvswitch or base.nvswitch or "")
    per_host = draw(st.sampled_from([1, 2, 4] if base.host_gpu_link else [2, 4, 8]))
    sockets = 1 if per_host == 1 else base.cpu_socket_count
    group = per_host * draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    chips = draw(st.integers(1, 3))
    links = draw(st.integers(1, min(4, switch.port_count // (2 * group))))
    fields: dict[str, object] = {"spine_nvswitch": None, "spine_nvswitch_count": 0}
    uplinks: tuple[int, ...] = ()
    if groups > 1 or draw(st.booleans()):
        block = draw(st.integers(1, max(1, min(4, spine.port_count // groups))))
        blocks = draw(st.lists(st.integers(0, 3), min_size=chips, max_size=chips))
        blocks[0] = max(1, blocks[0])
        blocks = [min(b, (switch.port_count - group * links) // block) for b in blocks]
        uplinks = tuple(b * block for b in blocks)
        fields = {"spine_nvswitch": spine.id, "spine_nvswitch_count": sum(blocks)}
    hosts = groups * group // per_host
    return replace(
        base,
        id="random-domain",
        gpu_count=groups * group,
        gpus_per_host=per_host,
        cpu_socket_count=sockets,
        gpus_per_nvswitch_group=group,
        nvswitch_count=chips,
        gpu_links_per_nvswitch=(links,) * chips,
        nvswitch_uplinks=uplinks,
        nic_count=hosts * draw(st.integers(1, 2)) * (per_host if base.nic_attach == "gpu" else 1),
        rail_count=1,
        **fields,
    )


def _check_invariants(fabric: Fabric, system: SystemSpec) -> None:
    graph = fabric.graph
    assert nx.is_weakly_connected(graph)
    for src, dst, data in graph.edges(data=True):
        assert graph.has_edge(dst, src), (src, dst)
        assert data[BANDWIDTH] > 0, (src, dst)
    assert nx.is_strongly_connected(graph)  # so every GPU reaches every GPU
    assert len(fabric.gpus) == system.gpu_count * fabric.graph.graph["node_count"]
    first = fabric.gpus[0]
    wired = sum(
        d[BANDWIDTH] for _, _, d in graph.out_edges(first, data=True) if d[TIER] == "nvlink"
    )
    expected = CATALOG.derived(system)["scale_up_per_gpu_per_direction"]
    if system.topology == "pcie":
        pair = next((p for p in system.nvlink_bridge_pairs if 0 in p), None)
        link = CATALOG.link(CATALOG.gpu(system.gpu).nvlink or "pcie-5")
        expected = (
            0.0
            if pair is None
            else link.data_rate_per_direction_bytes_per_s * (system.nvlink_bridge_link_count)
        )
    assert wired == expected


def _build_and_check(system: SystemSpec, two_nodes: bool) -> Fabric:
    check_buildable(CATALOG, system)
    nodes = 2 if two_nodes and system.nic_count else 1
    design = default_design(CATALOG, system, FabricRequest(system=system.id, node_count=nodes))
    fabric = build_multi_node(CATALOG, system, nodes, design)
    _check_invariants(fabric, system)
    return fabric


@SETTINGS
@given(nvswitch_systems(), st.booleans())
def test_nvswitch_family(system: SystemSpec, two_nodes: bool) -> None:
    fabric = _build_and_check(system, two_nodes)
    paths = HopPaths.of(fabric)
    gpus = fabric.gpus[: system.gpu_count]
    for a, b in itertools.islice(itertools.permutations(gpus, 2), 20):
        assert all(fabric.kind(u) in ("gpu", "nvswitch") for (u, _), _ in paths.hop(a, b))


@SETTINGS
@given(two_board_systems(), st.booleans())
def test_two_board_family(system: SystemSpec, two_nodes: bool) -> None:
    fabric = _build_and_check(system, two_nodes)
    paths = HopPaths.of(fabric)
    first, last = fabric.gpus[0], fabric.gpus[system.gpu_count - 1]
    assert all(fabric.kind(u) in ("gpu", "nvswitch") for (u, _), _ in paths.hop(first, last))


@SETTINGS
@given(mesh_systems(), st.booleans())
def test_mesh_family(system: SystemSpec, two_nodes: bool) -> None:
    fabric = _build_and_check(system, two_nodes)
    for i, row in enumerate(system.link_matrix):
        for j, links in enumerate(row):
            a, b = fabric.gpus[i], fabric.gpus[j]
            assert fabric.graph.has_edge(a, b) == (links > 0)
            if links:
                assert fabric.edge(a, b).link_count == links
                assert fabric.edge(a, b).tier == "nvlink"


@SETTINGS
@given(pcie_systems(), st.booleans())
def test_pcie_family(system: SystemSpec, two_nodes: bool) -> None:
    fabric = _build_and_check(system, two_nodes)
    assert fabric.nodes_of_kind("nvswitch") == []


@SETTINGS
@given(domain_systems(), st.booleans())
def test_nvlink_domain_family(system: SystemSpec, two_nodes: bool) -> None:
    fabric = _build_and_check(system, two_nodes)
    paths = HopPaths.of(fabric)
    gpus = fabric.gpus[: system.gpu_count]
    # One NVLink domain: the first GPU reaches the last over NVLink switches only.
    if len(gpus) > 1:
        hop = paths.hop(gpus[0], gpus[-1])
        assert all(fabric.graph.edges[edge][TIER] == "nvlink" for edge, _ in hop)
    nodes = fabric.graph.nodes
    hosts = {(nodes[c]["node"], nodes[c]["host"]) for c in fabric.nodes_of_kind("cpu")}
    assert len(hosts) == fabric.graph.graph["node_count"] * system.gpu_count // system.gpus_per_host
