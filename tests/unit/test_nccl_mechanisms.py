"""NCCL's mechanisms, worked by hand from its source and pinned (issue #12).

Every expected number below is derived in the comment next to it from the constants file's
values (NCCL 2.30's ``topo.h``, ``search.cc``, ``tuning.cc``, ``nvls.cc``), not from an
earlier run of the model.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.algorithms import cost
from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.nccl_channels import data_fraction, nvls_rounds, ring_graph
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest, build_fabric

CAL = load_calibration()
# Efficiencies 1 of NCCL's data rates, so the numbers are NCCL's own.
IDEAL = replace(
    CAL,
    intra_efficiency=dict.fromkeys(CAL.intra_efficiency, 1.0),
    p2p_efficiency=dict.fromkeys(CAL.p2p_efficiency, 1.0),
    network_efficiency=dict.fromkeys(CAL.network_efficiency, 1.0),
)
GiB = 2.0**30
MiB = 2.0**20


def _bw(catalog: Catalog, system: str, nodes: int = 1) -> CommunicatorBandwidths:
    return analyse_communicator(
        build_fabric(catalog, FabricRequest(system=system, node_count=nodes)), catalog
    )


@pytest.mark.parametrize(
    ("system", "fraction"),
    [
        ("dgx1-v100", 20.0 / 25.0),  # SM70_NVLINK_BW 20.0 of NVLink 2's 25 GB/s
        ("dgx-a100", 20.0 / 25.0),  # SM80_NVLINK_BW 20.0 of NVLink 3's 25 GB/s
        ("dgx-h100", 20.6 / 25.0),  # SM90_NVLINK_BW 20.6 of NVLink 4's 25 GB/s
        ("dgx-b200", 40.1 / 50.0),  # SM100_NVLINK_BW 40.1 of NVLink 5's 50 GB/s
        ("rtx2080ti-pcie-8x", 12.0 / 15.754),  # PCI Gen3 x16: 16 x 60 / 80 = 12 of 15.754
    ],
)
def test_link_data_rate_per_generation(catalog: Catalog, system: str, fraction: float) -> None:
    assert data_fraction(_bw(catalog, system), CAL) == pytest.approx(fraction, rel=1e-3)


@pytest.mark.parametrize(
    ("system", "nodes", "channels", "speed"),
    [
        # 18 x 20.6 = 370.8 GB/s: 6 rings at 60 (360), duplicated (60 >= 25): 12 x 30
        ("dgx-h100", 1, 12, 30.0),
        # 12 x 20 = 240: 6 at 40 fill it exactly, duplicated: 12 x 20
        ("dgx-a100", 1, 12, 20.0),
        # 18 x 40.1 = 721.8: 8 at 90 (720), duplicated: 16 x 45
        ("dgx-b200", 1, 16, 45.0),
        # NV2 pairs 40, NV1 20: 2 rings at 40 carry 80, 6 rings at 20 all 120; not duplicated
        ("dgx1-v100", 1, 6, 20.0),
        # one channel per 400G NIC at 48 GB/s; Hopper keeps 8 channels below 50 GB/s
        ("dgx-h100", 2, 8, 48.0),
        ("dgx-b200", 2, 8, 48.0),
        # HDR 25 GB/s: 24 per channel, below 25 so not duplicated
        ("dgx-a100", 2, 8, 24.0),
    ],
)
def test_ring_graph_channels_follow_ncclsearch(
    catalog: Catalog, system: str, nodes: int, channels: int, speed: float
) -> None:
    graph = ring_graph(_bw(catalog, system, nodes), CAL)
    assert (graph.channels, graph.speed_gb_per_s) == (channels, speed)


def test_nvls_busbw_on_eight_gpus_is_nccls_formula(catalog: Catalog) -> None:
    # 8 heads share 8/9 of a GPU's NVLink (the head counts twice); NCCL takes 2 x eff x 7/8.
    for system, eff, nvlink in (("dgx-h100", 0.85, 370.8e9), ("dgx-b200", 0.74, 721.8e9)):
        bw = _bw(catalog, system)
        rate = cost(CollectiveOp.ALL_REDUCE, bw, IDEAL, "nvls", "simple").algbw_bytes_per_s
        assert rate * 2 * 7 / 8 == pytest.approx(2 * eff * 7 / 9 * nvlink, rel=1e-6)


def test_tree_runs_at_half_of_nvlstree_on_a_blackwell_cluster(catalog: Catalog) -> None:
    # From 4 nodes NCCL's Tree kernel reaches 24 GB/s per channel on Blackwell (8 channels:
    # 192 GB/s bus bandwidth) while NVLSTree is network bound: 8 x 50 GB/s NICs.
    engine = AnalyticEngine(catalog, IDEAL)
    fabric = build_fabric(catalog, FabricRequest(system="dgx-b200", node_count=8))
    tree = engine.estimate(fabric, CollectiveOp.ALL_REDUCE, [8 * GiB], algorithm="tree")
    nvlstree = engine.estimate(fabric, CollectiveOp.ALL_REDUCE, [8 * GiB], algorithm="nvlstree")
    assert tree.busbw_bytes_per_s[0] == pytest.approx(8 * 24e9 * 126 / 128, rel=0.02)
    assert nvlstree.busbw_bytes_per_s[0] == pytest.approx(400e9 * 126 / 128, rel=0.03)
    assert "Tree channels: 8 x 24 GB/s" in tree.bottleneck[0]


def test_ll128_ring_is_capped_per_channel_on_hopper_clusters(catalog: Catalog) -> None:
    # 8 channels x 36.7 GB/s, below 0.92 x 400 GB/s of NICs
    bw = _bw(catalog, "dgx-h100", 2)
    c = cost(CollectiveOp.ALL_REDUCE, bw, IDEAL, "ring", "ll128")
    assert c.algbw_bytes_per_s * 2 * 15 / 16 == pytest.approx(8 * 36.7e9, rel=1e-6)


def test_nvls_rounds_follow_nccls_chunk_rule(catalog: Catalog) -> None:
    # H100: 16 NVLS CTAs x 8 heads = 128 chunks per round; 128 KiB chunks from 64 x 128 x
    # 128 KiB = 1 GiB, 64 KiB from 8 x 128 x 64 KiB = 64 MiB, 32 KiB from 2 x 128 x 32 KiB
    # = 8 MiB, 16 KiB below.
    rounds = nvls_rounds(_bw(catalog, "dgx-h100"), CAL, tree=False)
    assert rounds == (
        (0.0, 128 * 16 * 1024.0),
        (8 * MiB, 128 * 32 * 1024.0),
        (64 * MiB, 128 * 64 * 1024.0),
        (GiB, 128 * 128 * 1024.0),
    )


def test_pipeline_fill_is_a_per_call_cost_that_stops_growing(catalog: Catalog) -> None:
    bw = _bw(catalog, "dgx-h100", 2)
    c = cost(CollectiveOp.ALL_REDUCE, bw, IDEAL, "nvlstree", "simple")
    fill = c.times_s([GiB, 4 * GiB]) - c.latency_s - [GiB, 4 * GiB] / c.algbw_at([GiB, 4 * GiB])
    # 3 rounds of 16 MiB (16 CTAs x 8 heads x 128 KiB) at the algorithm bandwidth
    assert fill == pytest.approx(3 * 16 * MiB / c.algbw_bytes_per_s, rel=1e-9)


def test_four_gpu_full_mesh_rings_use_every_link(catalog: Catalog) -> None:
    # No set of directed rings covers K4's 12 links once (Tillson); six at half rate cover
    # each twice: the whole 450 GB/s of a GPU's 18 NVLink 4 links.
    bw = _bw(catalog, "hgx-h100-4gpu")
    assert bw.ring_intra_bytes_per_s == pytest.approx(450e9)
    assert len(bw.ring_channel_rates_bytes_per_s) == 6


def _pcie_box(catalog: Catalog, *, p2p: bool, gpus: int) -> CommunicatorBandwidths:
    fabric = build_fabric(catalog, FabricRequest(system="rtx2080ti-pcie-8x", p2p=p2p))
    return analyse_communicator(fabric, catalog, gpus_per_node=gpus)


@pytest.mark.parametrize(
    ("op", "gpus", "factor"),
    [
        # per chunk: send alone, n-2 two-way steps, receive alone -> (n-1)/n of the two-way rate
        (CollectiveOp.ALL_GATHER, 2, 1 / 2),
        (CollectiveOp.REDUCE_SCATTER, 4, 3 / 4),
        # send, 2n-3 two-way steps, receive -> 2(n-1)/(2n-1)
        (CollectiveOp.ALL_REDUCE, 2, 2 / 3),
        (CollectiveOp.ALL_REDUCE, 4, 6 / 7),
    ],
)
def test_host_staged_rings_lose_their_one_way_steps(
    catalog: Catalog, op: CollectiveOp, gpus: int, factor: float
) -> None:
    """Through host memory a rank's first send and last receive each run alone (SHM)."""
    staged = _pcie_box(catalog, p2p=False, gpus=gpus)
    assert staged.intra_tier == "host"
    ring = cost(op, staged, IDEAL, "ring", "simple")
    volume = 2 * (gpus - 1) / gpus if op is CollectiveOp.ALL_REDUCE else (gpus - 1) / gpus
    two_way = staged.ring_intra_bytes_per_s * data_fraction(staged, IDEAL)
    assert ring.algbw_bytes_per_s * volume == pytest.approx(factor * two_way, rel=1e-6)
    # broadcast's chain is pipelined (root sends, last rank receives, all at once): untouched
    chain = cost(CollectiveOp.BROADCAST, staged, IDEAL, "ring", "simple")
    assert chain.algbw_bytes_per_s == pytest.approx(
        staged.chain_intra_bytes_per_s * data_fraction(staged, IDEAL), rel=1e-6
    )
    # with peer-to-peer the last receive reads local memory: the ring keeps the link rate
    direct = _pcie_box(catalog, p2p=True, gpus=gpus)
    p2p_ring = cost(op, direct, IDEAL, "ring", "simple")
    assert p2p_ring.algbw_bytes_per_s * volume == pytest.approx(
        direct.ring_intra_bytes_per_s * data_fraction(direct, IDEAL), rel=1e-6
    )


def test_two_host_staged_gpus_against_the_measured_box(catalog: Catalog) -> None:
    """2x RTX 2080 Ti, P2P off: broadcast 11.1, all-reduce 4.0, all-gather 3.3 GB/s busbw
    (autodl rows of validation/data/nccl_tests.csv). Two GPUs under one switch share its
    uplink both ways (the graph: 12 / 2 = 6 GB/s two-way at NCCL's Gen3 rate); the phases
    give all-reduce 2/3 and all-gather 1/2 of that, at NCCL's own rate (efficiency 1)."""
    staged = _pcie_box(catalog, p2p=False, gpus=2)
    busbw = {
        op: cost(op, staged, IDEAL, "ring", "simple").algbw_bytes_per_s
        * {CollectiveOp.ALL_REDUCE: 1.0, CollectiveOp.ALL_GATHER: 0.5}.get(op, 1.0)
        / 1e9
        for op in (CollectiveOp.BROADCAST, CollectiveOp.ALL_REDUCE, CollectiveOp.ALL_GATHER)
    }
    assert busbw[CollectiveOp.BROADCAST] == pytest.approx(12.0, rel=1e-3)
    assert busbw[CollectiveOp.ALL_REDUCE] == pytest.approx(4.0, rel=1e-3)
    assert busbw[CollectiveOp.ALL_GATHER] == pytest.approx(3.0, rel=1e-3)
