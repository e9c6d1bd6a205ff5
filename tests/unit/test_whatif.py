"""What-if knobs change the fabric for the right reason."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import (
    Fabric,
    gpu_path,
    summarize_fabric,
    with_links_disabled,
    with_p2p,
    without_device,
    without_link,
)

Build = Callable[..., Fabric]


def test_half_the_nvlink_lanes_halves_nvlink_bandwidth(build: Build, catalog: Catalog) -> None:
    healthy = summarize_fabric(build("dgx-h100"), catalog)
    degraded = summarize_fabric(build("dgx-h100", nvlink_lanes_per_link=1), catalog)
    assert degraded.per_gpu_bandwidth_bytes_per_s["nvlink"] == pytest.approx(
        healthy.per_gpu_bandwidth_bytes_per_s["nvlink"] / 2
    )
    assert (
        degraded.per_gpu_bandwidth_bytes_per_s["pcie"]
        == (healthy.per_gpu_bandwidth_bytes_per_s["pcie"])
    )


def test_nvlink_lanes_outside_the_link_width_are_rejected(build: Build) -> None:
    with pytest.raises(TopologyError, match=r"1\.\.2"):
        build("dgx-h100", nvlink_lanes_per_link=3)


def test_one_failed_nvlink_reduces_that_gpu_by_one_link(build: Build, catalog: Catalog) -> None:
    fabric = with_links_disabled(build("dgx-h100"), "n0/gpu0", "n0/nvsw0", 1)
    assert fabric.edge("n0/gpu0", "n0/nvsw0").bandwidth_bytes_per_s == pytest.approx(4 * 25e9)
    assert fabric.edge("n0/nvsw0", "n0/gpu0").bandwidth_bytes_per_s == pytest.approx(4 * 25e9)
    summary = summarize_fabric(fabric, catalog)
    assert summary.per_gpu_bandwidth_bytes_per_s["nvlink"] == pytest.approx(17 * 25e9)


def test_failed_nvswitch_removes_its_share_of_bisection(build: Build, catalog: Catalog) -> None:
    fabric = without_device(build("dgx-h100"), "n0/nvsw0")  # 5 of 18 links per GPU
    summary = summarize_fabric(fabric, catalog)
    assert summary.nvlink_bisection_bandwidth_bytes_per_s == pytest.approx(4 * 13 * 25e9)


def test_failed_spine_reduces_cross_su_bisection(build: Build, catalog: Catalog) -> None:
    fabric = build("dgx-h100", node_count=64)  # 2 SUs, 8 spines
    healthy = summarize_fabric(fabric, catalog).bisection_bandwidth_bytes_per_s
    degraded = summarize_fabric(without_device(fabric, "spine0"), catalog)
    assert degraded.bisection_bandwidth_bytes_per_s == pytest.approx(healthy * 7 / 8)


def test_failed_gpus_are_modelled_by_fewer_ranks_not_removal(build: Build) -> None:
    with pytest.raises(TopologyError, match="fewer ranks"):
        without_device(build("dgx-h100"), "n0/gpu0")


def test_cutting_a_gpus_only_link_is_rejected_naming_the_gpu(build: Build) -> None:
    with pytest.raises(TopologyError, match=r"n0/gpu0.*cut off|cut off.*n0/gpu0"):
        without_link(build("rtx4090-pcie-8x"), "n0/gpu0", "n0/pcisw0")
    # The same cut on a DGX leaves the GPU reachable over NVLink.
    assert without_link(build("dgx-h100"), "n0/gpu0", "n0/pcisw0").gpus


def test_removing_a_cut_vertex_or_unknown_device_is_rejected(build: Build) -> None:
    with pytest.raises(TopologyError, match="not connected"):
        without_device(build("l40s-pcie-8x"), "n0/pcisw0")
    with pytest.raises(TopologyError, match="no device"):
        without_device(build("dgx-h100"), "n0/nvsw9")


def test_p2p_off_routes_through_host_and_never_over_nvlink(build: Build) -> None:
    fabric = with_p2p(build("dgx-h100"), False)
    path = gpu_path(fabric, "n0/gpu0", "n0/gpu7")
    assert not any(node.startswith("n0/nvsw") for node in path)
    assert any(node.startswith("n0/cpu") for node in path)


def test_faster_nic_needs_a_faster_switch(build: Build, catalog: Catalog) -> None:
    # ConnectX-8 (800G XDR) under NDR leaves runs at NDR; with Quantum-X800 it runs at XDR.
    ndr = summarize_fabric(build("dgx-b200", node_count=4, nic="connectx-8"), catalog)
    xdr = summarize_fabric(
        build("dgx-b200", node_count=4, nic="connectx-8", switch="q3400"), catalog
    )
    assert ndr.per_gpu_bandwidth_bytes_per_s["network"] == pytest.approx(50e9)
    assert xdr.per_gpu_bandwidth_bytes_per_s["network"] == pytest.approx(100e9)


def test_slower_nic_generation_lowers_scale_out(build: Build, catalog: Catalog) -> None:
    summary = summarize_fabric(build("dgx-h100", node_count=4, nic="connectx-6"), catalog)
    assert summary.per_gpu_bandwidth_bytes_per_s["network"] == pytest.approx(25e9)
    assert summary.bisection_bandwidth_bytes_per_s == pytest.approx(2 * 8 * 25e9)


def test_what_ifs_do_not_modify_their_input(build: Build) -> None:
    fabric = build("dgx-h100")
    edges_before = fabric.graph.number_of_edges()
    without_device(fabric, "n0/nvsw0")
    with_links_disabled(fabric, "n0/gpu0", "n0/nvsw0", 2)
    assert fabric.graph.number_of_edges() == edges_before
    assert fabric.edge("n0/gpu0", "n0/nvsw0").link_count == 5
