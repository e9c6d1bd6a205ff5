"""Every preset builds, validates, and has the wiring its sources describe."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest

from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric, gpu_path, list_presets, summarize_fabric
from interconnect_sim.topology.fabric import LINK_COUNT

Build = Callable[..., Fabric]
PRESETS = [
    "dgx1-v100",
    "dgx2-v100",
    "dgx-a100",
    "dgx-h100",
    "dgx-h200",
    "dgx-b200",
    "gb200-nvl72",
    "h100-pcie-bridged",
    "rtx4090-pcie-8x",
    "l40s-pcie-8x",
]


def test_every_required_preset_exists(catalog: Catalog) -> None:
    assert set(PRESETS) <= {system.id for system in list_presets(catalog)}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_a_valid_fabric_with_nics_on_the_pcie_tree(build: Build, preset: str) -> None:
    fabric = build(preset)
    fabric.validate()
    assert len(fabric.gpus) == fabric.graph.graph["gpus_per_node"]
    for nic in fabric.nodes_of_kind("nic"):
        neighbours = {fabric.kind(n) for n in fabric.graph.successors(nic)}
        assert neighbours <= {"pcie_switch", "cpu"}, (nic, neighbours)


@pytest.mark.parametrize(
    ("preset", "gpus", "nvlink_per_gpu", "network_per_gpu"),
    [
        ("dgx-h100", 8, 450e9, 50e9),  # 18 x NVLink4; 8 x ConnectX-7 400G
        ("dgx-h200", 8, 450e9, 50e9),
        ("dgx-a100", 8, 300e9, 25e9),  # 12 x NVLink3; 8 x ConnectX-6 200G
        ("dgx-b200", 8, 900e9, 50e9),  # 18 x NVLink5; 8 x ConnectX-7
        ("gb200-nvl72", 72, 900e9, 50e9),
        ("dgx1-v100", 8, 150e9, 12.5e9 / 2),  # 4 EDR ports shared by 8 GPUs
        ("dgx2-v100", 16, 150e9, 12.5e9 / 2),  # 8 EDR NICs for 16 GPUs
        ("h100-pcie-bridged", 8, 300e9, 25e9),  # bridge: 600 GB/s bidirectional per pair
    ],
)
def test_per_gpu_bandwidth_per_tier(
    build: Build,
    catalog: Catalog,
    preset: str,
    gpus: int,
    nvlink_per_gpu: float,
    network_per_gpu: float,
) -> None:
    summary = summarize_fabric(build(preset), catalog)
    assert summary.gpus == gpus
    assert summary.per_gpu_bandwidth_bytes_per_s["nvlink"] == pytest.approx(nvlink_per_gpu)
    assert summary.per_gpu_bandwidth_bytes_per_s["network"] == pytest.approx(network_per_gpu)


def _links(fabric: Fabric, a: str, b: str) -> int:
    return int(fabric.graph.edges[a, b][LINK_COUNT]) if fabric.graph.has_edge(a, b) else 0


def test_dgx_h100_links_split_5_4_4_5_over_four_nvswitches(build: Build) -> None:
    fabric = build("dgx-h100")
    for gpu in fabric.gpus:
        assert [_links(fabric, gpu, f"n0/nvsw{k}") for k in range(4)] == [5, 4, 4, 5]


def test_dgx1_hybrid_cube_mesh_matches_nvidia_smi_topology(build: Build) -> None:
    fabric = build("dgx1-v100")
    # nvidia-smi topo -m row of GPU0 on DGX-1 V100: X NV1 NV1 NV2 NV2 SYS SYS SYS
    assert [_links(fabric, "n0/gpu0", f"n0/gpu{j}") for j in range(1, 8)] == [1, 1, 2, 2, 0, 0, 0]
    for gpu in fabric.gpus:
        nvlinks = sum(_links(fabric, gpu, other) for other in fabric.gpus)
        assert nvlinks == 6


def test_dgx1_gpus_without_nvlink_fall_back_to_pcie_and_qpi(build: Build) -> None:
    path = gpu_path(build("dgx1-v100"), "n0/gpu0", "n0/gpu6")
    kinds = [p.split("/")[1].rstrip("0123456789") for p in path]
    assert kinds == ["gpu", "pcisw", "cpu", "cpu", "pcisw", "gpu"]


def test_dgx2_has_two_boards_joined_by_48_links_each_way(build: Build, catalog: Catalog) -> None:
    fabric = build("dgx2-v100")
    assert len(fabric.nodes_of_kind("nvswitch")) == 12
    inter_board = sum(_links(fabric, f"n0/nvsw{k}", f"n0/nvsw{k + 6}") for k in range(6))
    assert inter_board == 48
    # 48 links x 25 GB/s = 1.2 TB/s each way ("board-to-board bisection 2.4 TB/s" bidirectional)
    summary = summarize_fabric(fabric, catalog)
    assert summary.nvlink_bisection_bandwidth_bytes_per_s == pytest.approx(1.2e12)


def test_dgx2_cross_board_traffic_takes_two_switch_hops(build: Build) -> None:
    path = gpu_path(build("dgx2-v100"), "n0/gpu0", "n0/gpu15")
    assert [fabric_kind.split("/")[1][:4] for fabric_kind in path] == [
        "gpu0",
        "nvsw",
        "nvsw",
        "gpu1",
    ]


def test_dgx_a100_each_gpu_has_two_links_to_each_of_six_switches(build: Build) -> None:
    fabric = build("dgx-a100")
    for gpu in fabric.gpus:
        assert [_links(fabric, gpu, f"n0/nvsw{k}") for k in range(6)] == [2] * 6


def test_gb200_nvl72_is_one_nvlink_domain_of_72_gpus(build: Build, catalog: Catalog) -> None:
    fabric = build("gb200-nvl72")
    switches = fabric.nodes_of_kind("nvswitch")
    assert len(fabric.gpus) == 72
    assert len(switches) == 18
    for gpu in fabric.gpus:
        assert [_links(fabric, gpu, s) for s in switches] == [1] * 18
    assert len(fabric.nodes_of_kind("cpu")) == 36  # 18 trays x 2 Grace
    summary = summarize_fabric(fabric, catalog)
    # Half of 72 GPUs x 900 GB/s crosses the NVLink switches.
    assert summary.nvlink_bisection_bandwidth_bytes_per_s == pytest.approx(36 * 900e9)


def test_h100_pcie_bridges_join_pairs_only(build: Build) -> None:
    fabric = build("h100-pcie-bridged")
    assert _links(fabric, "n0/gpu0", "n0/gpu1") == 12
    assert _links(fabric, "n0/gpu1", "n0/gpu2") == 0
    assert gpu_path(fabric, "n0/gpu0", "n0/gpu1") == ["n0/gpu0", "n0/gpu1"]
    assert "n0/cpu0" in gpu_path(fabric, "n0/gpu0", "n0/gpu2") or "n0/pcisw0" in gpu_path(
        fabric, "n0/gpu0", "n0/gpu2"
    )


def test_rtx4090_box_stages_gpu_traffic_through_host_memory(build: Build) -> None:
    fabric = build("rtx4090-pcie-8x")
    assert not fabric.p2p
    path = gpu_path(fabric, "n0/gpu0", "n0/gpu1")  # same PCIe switch, yet via the CPU
    assert path == ["n0/gpu0", "n0/pcisw0", "n0/cpu0", "n0/pcisw0", "n0/gpu1"]


def test_l40s_gen4_gpu_in_gen5_host_runs_at_gen4(build: Build, catalog: Catalog) -> None:
    summary = summarize_fabric(build("l40s-pcie-8x"), catalog)
    assert summary.per_gpu_bandwidth_bytes_per_s["pcie"] == pytest.approx(
        catalog.link("pcie-4").data_rate_per_direction_bytes_per_s
    )


def test_single_dgx_h100_nvlink_bisection_is_four_gpus_of_nvlink(
    build: Build, catalog: Catalog
) -> None:
    summary = summarize_fabric(build("dgx-h100"), catalog)
    assert summary.nvlink_bisection_bandwidth_bytes_per_s == pytest.approx(4 * 450e9)
    # All links also count PCIe + UPI paths between the socket halves, so the cut is larger.
    assert summary.bisection_bandwidth_bytes_per_s > 4 * 450e9


def test_every_gpu_reaches_every_gpu_in_every_preset(build: Build) -> None:
    for preset in PRESETS:
        fabric = build(preset)
        assert nx.is_strongly_connected(fabric.graph)
