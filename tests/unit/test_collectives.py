"""Collective model: closed forms, graph-derived bandwidths, what-ifs, NCCL's rules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor, parse_op
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError, UnitError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.units import parse_nccl_tests_size
from tests.collective_fabrics import ideal_calibration, star_fabric

Build = Callable[..., Fabric]
GiB = 2.0**30


@pytest.fixture(scope="module")
def ideal(catalog: Catalog) -> AnalyticEngine:
    return AnalyticEngine(catalog, ideal_calibration())


@pytest.mark.parametrize("n", [2, 4, 8])
def test_ideal_ring_allreduce_busbw_equals_link_bandwidth(
    catalog: Catalog, ideal: AnalyticEngine, n: int
) -> None:
    fabric = star_fabric(catalog, [4] * n)  # B = 4 x 25 GB/s per direction
    est = ideal.estimate(
        fabric, CollectiveOp.ALL_REDUCE, [GiB], algorithm="ring", protocol="simple"
    )
    assert est.busbw_bytes_per_s[0] == pytest.approx(100e9)


@pytest.mark.parametrize("n", [2, 5, 8])
def test_ideal_ring_allgather_time_is_n_minus_1_over_n_s_over_b(
    catalog: Catalog, ideal: AnalyticEngine, n: int
) -> None:
    fabric = star_fabric(catalog, [2] * n)  # B = 50 GB/s
    sizes = np.array([1e6, 1e9])
    est = ideal.estimate(
        fabric, CollectiveOp.ALL_GATHER, sizes, algorithm="ring", protocol="simple"
    )
    np.testing.assert_allclose(est.time_s, (n - 1) / n * sizes / 50e9, rtol=1e-12)


def test_ring_is_limited_by_the_slowest_gpu_link(catalog: Catalog, ideal: AnalyticEngine) -> None:
    fabric = star_fabric(catalog, [18, 18, 3, 18])
    est = ideal.estimate(
        fabric, CollectiveOp.ALL_REDUCE, [GiB], algorithm="ring", protocol="simple"
    )
    assert est.busbw_bytes_per_s[0] == pytest.approx(3 * 25e9)


@pytest.mark.parametrize(
    ("op", "n", "factor"),
    [
        (CollectiveOp.ALL_REDUCE, 8, 1.75),
        (CollectiveOp.ALL_GATHER, 8, 0.875),
        (CollectiveOp.REDUCE_SCATTER, 4, 0.75),
        (CollectiveOp.ALLTOALL, 16, 15 / 16),
        (CollectiveOp.BROADCAST, 8, 1.0),
        (CollectiveOp.SENDRECV, 8, 1.0),
    ],
)
def test_busbw_factors_match_nccl_tests(op: CollectiveOp, n: int, factor: float) -> None:
    assert busbw_factor(op, n) == pytest.approx(factor)


def test_op_names_accept_nccl_tests_spellings() -> None:
    assert parse_op("all_reduce_perf") is CollectiveOp.ALL_REDUCE
    assert parse_op("allgather") is CollectiveOp.ALL_GATHER
    with pytest.raises(ScenarioError, match="one of"):
        parse_op("allscatter")


def test_nccl_tests_sizes_are_powers_of_two_unless_units_given() -> None:
    assert parse_nccl_tests_size("8K") == 8192
    assert parse_nccl_tests_size("8G") == 8 * GiB
    assert parse_nccl_tests_size("8 GB") == 8e9
    with pytest.raises(UnitError):
        parse_nccl_tests_size("8 Gb")


# -- bandwidths come from the graph ------------------------------------------------------------


def test_dgx1_rings_use_the_nvlink_cube_mesh_only(build: Build, catalog: Catalog) -> None:
    bw = AnalyticEngine(catalog).bandwidths(build("dgx1-v100"))
    # Two double-link rings and two single-link rings (each both ways) use all 6 NVLinks.
    assert bw.ring_intra_bytes_per_s == pytest.approx(150e9)
    assert bw.intra_tier == "nvlink"


def test_pcie_box_without_p2p_is_staged_through_host(build: Build, catalog: Catalog) -> None:
    bw = AnalyticEngine(catalog).bandwidths(build("rtx4090-pcie-8x"))
    assert bw.intra_tier == "host"
    # Two GPUs' traffic shares each PCIe switch's x16 uplink in both directions.
    assert bw.ring_intra_bytes_per_s == pytest.approx(
        catalog.link("pcie-4").data_rate_per_direction_bytes_per_s / 2
    )


def test_one_gpu_per_node_uses_its_own_nic(build: Build, catalog: Catalog) -> None:
    bw = AnalyticEngine(catalog).bandwidths(build("dgx-h100", node_count=2), gpus_per_node=1)
    assert bw.rail_count == 1
    assert bw.network_per_node_bytes_per_s == pytest.approx(50e9)


def test_fewer_nics_than_gpus_are_not_double_counted(build: Build, catalog: Catalog) -> None:
    bw = AnalyticEngine(catalog).bandwidths(build("dgx1-v100", node_count=2))
    assert bw.rail_count == 4
    assert bw.network_per_node_bytes_per_s == pytest.approx(4 * 12.5e9)


def test_half_the_nvlink_lanes_halves_single_node_allreduce(build: Build, catalog: Catalog) -> None:
    engine = AnalyticEngine(catalog)
    healthy = engine.estimate(build("dgx-h100"), CollectiveOp.ALL_REDUCE, [GiB])
    degraded = engine.estimate(
        build("dgx-h100", nvlink_lanes_per_link=1), CollectiveOp.ALL_REDUCE, [GiB]
    )
    ratio = degraded.busbw_bytes_per_s[0] / healthy.busbw_bytes_per_s[0]
    assert ratio == pytest.approx(0.5, rel=0.02)


def test_slower_nic_lowers_multi_node_ring_and_names_the_network(
    build: Build, catalog: Catalog
) -> None:
    engine = AnalyticEngine(catalog)
    size = [64 * GiB]  # large enough that the ring's ~0.2 ms latency is negligible
    ndr = engine.estimate(
        build("dgx-h100", node_count=4),
        CollectiveOp.ALL_GATHER,
        size,
        algorithm="ring",
        protocol="simple",
    )
    hdr = engine.estimate(
        build("dgx-h100", node_count=4, nic="connectx-6"),
        CollectiveOp.ALL_GATHER,
        size,
        algorithm="ring",
        protocol="simple",
    )
    efficiency = engine.calibration.network_efficiency["infiniband"]
    # HDR: 8 rails x 25 GB/s per node bound the ring; NDR's 8 x 50 GB/s lift it to NVLink's limit.
    assert hdr.busbw_bytes_per_s[0] == pytest.approx(8 * 25e9 * efficiency, rel=0.01)
    assert hdr.bottleneck[0].startswith("network")
    assert ndr.busbw_bytes_per_s[0] > 1.2 * hdr.busbw_bytes_per_s[0]
    assert ndr.bottleneck[0].startswith("nvlink")


def test_latency_dominates_small_messages(build: Build, catalog: Catalog) -> None:
    est = AnalyticEngine(catalog).estimate(build("dgx-h100"), CollectiveOp.ALL_REDUCE, [8])
    assert est.bottleneck[0].startswith("latency")
    assert est.protocol[0] == "ll"


# -- NCCL's applicability rules --------------------------------------------------------------------


def test_nvls_only_on_nvswitch_with_multicast(build: Build, catalog: Catalog) -> None:
    engine = AnalyticEngine(catalog)
    est = engine.estimate(build("dgx-h100"), CollectiveOp.ALL_REDUCE, [GiB], algorithm="nvls")
    assert est.algorithm == ("nvls",)
    with pytest.raises(ScenarioError, match="options"):
        engine.estimate(build("dgx-a100"), CollectiveOp.ALL_REDUCE, [GiB], algorithm="nvls")


def test_pat_needs_one_gpu_per_node(build: Build, catalog: Catalog) -> None:
    engine = AnalyticEngine(catalog)
    fabric = build("dgx-h100", node_count=4)
    est = engine.estimate(fabric, CollectiveOp.ALL_GATHER, [1e6], gpus_per_node=1, algorithm="pat")
    assert est.algorithm == ("pat",)
    with pytest.raises(ScenarioError, match="pat"):
        engine.estimate(fabric, CollectiveOp.ALL_GATHER, [1e6], algorithm="pat")


def test_broadcast_and_reduce_only_ring(build: Build, catalog: Catalog) -> None:
    with pytest.raises(ScenarioError):
        AnalyticEngine(catalog).estimate(
            build("dgx-h100"), CollectiveOp.BROADCAST, [1e6], algorithm="tree"
        )


def test_bad_requests_are_scenario_errors(build: Build, catalog: Catalog) -> None:
    engine = AnalyticEngine(catalog)
    fabric = build("dgx-h100")
    with pytest.raises(ScenarioError, match="unknown algorithm"):
        engine.estimate(fabric, CollectiveOp.ALL_REDUCE, [1e6], algorithm="butterfly")
    with pytest.raises(ScenarioError, match="positive"):
        engine.estimate(fabric, CollectiveOp.ALL_REDUCE, [0.0])
    with pytest.raises(ScenarioError, match="2 ranks"):
        engine.estimate(fabric, CollectiveOp.ALL_REDUCE, [1e6], gpus_per_node=1)


def test_gb200_and_b200_predictions_come_from_the_catalog(build: Build, catalog: Catalog) -> None:
    engine = AnalyticEngine(catalog)
    nvl72 = engine.estimate(build("gb200-nvl72"), CollectiveOp.ALL_REDUCE, [8 * GiB])
    b200 = engine.estimate(build("dgx-b200"), CollectiveOp.ALL_REDUCE, [8 * GiB])
    h100 = engine.estimate(build("dgx-h100"), CollectiveOp.ALL_REDUCE, [8 * GiB])
    # NVLink 5 doubles NVLink 4 per GPU; the same code and fitted efficiencies apply.
    assert b200.busbw_bytes_per_s[0] > 1.5 * h100.busbw_bytes_per_s[0]
    assert nvl72.rank_count == 72
