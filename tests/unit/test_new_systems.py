"""The new presets: per-GPU scale-up bandwidth pinned to the documents, NVLink domains across
hosts carry collectives on NVLink (separate 8-GPU nodes use the NICs), full meshes use every link,
and the NIC-faster-than-its-port and announced notes."""

from __future__ import annotations

import json

import pytest

from interconnect_sim.cli import main
from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from interconnect_sim.topology.fabric import TIER
from tests.collective_fabrics import ideal_calibration

GB = 1e9


def topo_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    assert main(["topo", *argv, "--json"]) == 0
    out, _ = capsys.readouterr()
    data: dict = json.loads(out)  # type: ignore[type-arg]
    return data


# Per-GPU scale-up bandwidth per direction, and the sentence of the document it comes from.
SCALE_UP = [
    # Blackwell Ultra datasheet (GB300 and HGX columns): "NVLink 5 1.8 TB/s" per GPU
    ("gb300-nvl72", 900 * GB, "NVLink"),
    ("dgx-b300", 900 * GB, "NVLink"),
    # DGX GH200 (NVIDIA blog via CN-BLOG): "900 GB/s per GPU"
    ("dgx-gh200", 450 * GB, "NVLink"),
    # H100 whitepaper: 18 NVLink 4 links, "900 GB/sec total bandwidth"
    ("h100-nvl256", 450 * GB, "NVLink"),
    ("hgx-h100-4gpu", 450 * GB, "NVLink"),
    # B100: "NVLink 1.8 TB/s (5.0)"
    ("hgx-b100", 900 * GB, "NVLink"),
    # H800 / A800: "400 GB/s" NVLink (bidirectional)
    ("h800-8x", 200 * GB, "NVLink"),
    ("a800-8x", 200 * GB, "NVLink"),
    # AMD: 7 Infinity Fabric links x 128 GB/s = 896 GB/s (MI300X); 7 x 153.6 = 1075.2 (MI355X)
    ("mi300x-8x", 448 * GB, "Infinity Fabric"),
    ("mi355x-8x", 537.6 * GB, "Infinity Fabric"),
    # Intel Gaudi docs: "21*200Gbps = 21*25 GB/s = 525 GB/s unidirectional"
    ("gaudi3-8x", 525 * GB, "RoCE mesh"),
    # Rubin announcement: NVLink 6 260 TB/s for 72 packages = 3.6 TB/s each (bidirectional)
    ("rubin-nvl144", 1800 * GB, "NVLink"),
    # GeForce RTX 5090: no NVLink
    ("rtx5090-pcie-8x", 0.0, "NVLink"),
]


@pytest.mark.parametrize(
    ("system", "per_direction", "label"), SCALE_UP, ids=[s[0] for s in SCALE_UP]
)
def test_topo_json_scale_up_per_gpu_matches_the_documents(
    capsys: pytest.CaptureFixture[str],
    catalog: Catalog,
    system: str,
    per_direction: float,
    label: str,
) -> None:
    data = topo_json(capsys, system)
    assert data["scale_up"]["per_gpu_bytes_per_s"] == pytest.approx(per_direction)
    assert data["per_gpu_bandwidth_bytes_per_s"]["nvlink"] == pytest.approx(per_direction)
    assert data["scale_up"]["label"] == label
    derived = catalog.derived(catalog.system(system))["scale_up_per_gpu_per_direction"]
    assert derived == pytest.approx(per_direction)


def test_rtx5090_box_is_pcie_gen5_with_p2p_off(capsys: pytest.CaptureFixture[str]) -> None:
    data = topo_json(capsys, "rtx5090-pcie-8x")
    assert data["p2p"] is False
    assert data["per_gpu_bandwidth_bytes_per_s"]["pcie"] == pytest.approx(63.02e9, rel=1e-3)


def test_dgx_gh200_bisection_is_nvidias_115_tb_per_s(capsys: pytest.CaptureFixture[str]) -> None:
    data = topo_json(capsys, "dgx-gh200")
    assert data["gpus"] == 256
    assert data["nodes"] == 1
    # "115.2 TB/s bisection" (bidirectional): 128 GPUs x 450 GB/s each way, non-blocking.
    assert 2 * data["bisection_bandwidth_bytes_per_s"] == pytest.approx(115.2e12)
    assert data["switches"]["nvswitch"] == 96
    assert data["switches"]["nvlink_spine"] == 36


def test_h100_nvl256_is_tapered_2_to_1(capsys: pytest.CaptureFixture[str]) -> None:
    data = topo_json(capsys, "h100-nvl256")
    # "57.6 TB/sec of all-to-all bandwidth" = 32 nodes x 72 links x 25 GB/s leaving the nodes;
    # half the nodes send across the cut: 28.8 TB/s, half of 128 GPUs x 450 GB/s (2:1 taper).
    assert data["bisection_bandwidth_bytes_per_s"] == pytest.approx(28.8e12)
    assert data["switches"]["nvlink_spine"] == 18
    assert any("ANNOUNCED" in w for w in data["warnings"])


# -- collectives inside NVLink domains that span hosts run on NVLink ---------------------------

DOMAINS = [
    # (domain, the same GPUs as separate 8-GPU nodes joined by their NICs)
    ("gb300-nvl72", "dgx-b300", 9),
    ("h100-nvl256", "dgx-h100", 32),
    ("dgx-gh200", "dgx-h100", 32),
]


@pytest.mark.parametrize(("domain", "nodes_system", "nodes"), DOMAINS, ids=[d[0] for d in DOMAINS])
@pytest.mark.parametrize(
    "engine_cls", [AnalyticEngine, DiscreteEventEngine], ids=["analytic", "des"]
)
def test_collective_in_a_domain_uses_nvlink_separate_nodes_use_nics(
    catalog: Catalog, domain: str, nodes_system: str, nodes: int, engine_cls: type
) -> None:
    size = [2.0**30]
    inside = build_fabric(catalog, FabricRequest(system=domain))
    apart = build_fabric(catalog, FabricRequest(system=nodes_system, node_count=nodes))
    assert len(inside.gpus) == len(apart.gpus)
    # What the communicator routes: inside the domain no byte touches a NIC.
    plan_in, plan_apart = (analyse_communicator(f, catalog).plan for f in (inside, apart))
    assert not plan_in.network_flow
    assert plan_in.ring_channels
    assert all(inside.graph.edges[e][TIER] == "nvlink" for _, f in plan_in.ring_channels for e in f)
    assert any(apart.kind(src) == "nic" for src, _ in plan_apart.network_flow)
    engine = engine_cls(catalog)
    a2a_in = engine.estimate(inside, CollectiveOp.ALLTOALL, size)
    a2a_apart = engine.estimate(apart, CollectiveOp.ALLTOALL, size)
    assert a2a_in.bottleneck[0].startswith("nvlink"), a2a_in.bottleneck[0]
    assert a2a_apart.bottleneck[0].startswith("network"), a2a_apart.bottleneck[0]
    assert a2a_in.busbw_bytes_per_s[0] > 5 * a2a_apart.busbw_bytes_per_s[0]
    best = engine.estimate(inside, CollectiveOp.ALL_REDUCE, size)
    assert best.algorithm[0] == "nvls"  # NVLink SHARP: the NVLink switches support multicast
    assert "network" not in best.bottleneck[0]
    ring = engine.estimate(
        inside, CollectiveOp.ALL_GATHER, size, algorithm="ring", protocol="simple"
    )
    assert ring.bottleneck[0].startswith("nvlink")


def test_domain_communicator_has_one_node_and_no_network(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-gh200"))
    bw = analyse_communicator(fabric, catalog)
    assert (bw.node_count, bw.gpus_per_node) == (1, 256)
    assert bw.intra_tier == "nvlink"
    assert bw.ring_intra_bytes_per_s == pytest.approx(450 * GB)


# -- full meshes: rings use every link, all-to-all is one hop ----------------------------------


@pytest.mark.parametrize(
    ("system", "link_rate"),
    [("mi300x-8x", 64 * GB), ("mi355x-8x", 76.8 * GB), ("gaudi3-8x", 75 * GB)],
)
def test_rings_over_a_full_mesh_use_every_link(
    catalog: Catalog, system: str, link_rate: float
) -> None:
    fabric = build_fabric(catalog, FabricRequest(system=system))
    bw = analyse_communicator(fabric, catalog)
    ideal = ideal_calibration()
    # Seven rings, each a full link per hop, every directed link in exactly one ring.
    assert bw.ring_channel_rates_bytes_per_s == pytest.approx((link_rate,) * 7)
    assert bw.ring_intra_bytes_per_s == pytest.approx(7 * link_rate)
    load: dict[tuple[str, str], float] = {}
    for _, flow in bw.plan.ring_channels:
        for edge, weight in flow.items():
            load[edge] = load.get(edge, 0.0) + weight
    gpu_links = {
        (u, v)
        for u, v, tier in fabric.graph.edges(data=TIER)
        if tier == "nvlink" and fabric.kind(u) == fabric.kind(v) == "gpu"
    }
    assert set(load) == gpu_links
    assert set(load.values()) == {1.0}
    # Both engines, with every efficiency 1 and no latency: ring all-gather busbw = 7 links.
    for engine in (AnalyticEngine(catalog, ideal), DiscreteEventEngine(catalog, ideal)):
        est = engine.estimate(
            fabric, CollectiveOp.ALL_GATHER, [2.0**30], algorithm="ring", protocol="simple"
        )
        assert est.busbw_bytes_per_s[0] == pytest.approx(7 * link_rate, rel=1e-6)
    # All-to-all: every pair at once, one hop each, all 7 links.
    assert bw.alltoall_intra_bytes_per_s == pytest.approx(7 * link_rate)
    for src, dst in bw.plan.alltoall_flow:
        assert fabric.kind(src) == "gpu"
        assert fabric.kind(dst) == "gpu"


# -- notes carried on the fabric ---------------------------------------------------------------


def test_nic_faster_than_its_leaf_port_names_the_limiting_link(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["topo", "dgx-h100", "--nodes", "2", "--nic", "connectx-8"]) == 0
    out, _ = capsys.readouterr()
    assert "note: connectx-8 NIC ports (ib-xdr, 100 GB/s per direction) plug into qm9700" in out
    assert "leaf port limits each NIC to 50 GB/s" in out
    assert (
        main(["topo", "dgx-h100", "--nodes", "2", "--nic", "connectx-8", "--switch", "q3400"]) == 0
    )
    out, _ = capsys.readouterr()
    assert "leaf port limits" not in out  # an XDR switch carries the full rate
    assert "pcie-5 x16 host links" in out  # ... but DGX H100's Gen5 slot still limits it


def test_announced_systems_say_so_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["topo", "rubin-nvl144"],
        ["collective", "--system", "rubin-nvl144", "--op", "all_reduce", "--max-bytes", "1K"],
    ):
        assert main(argv) == 0
        out, _ = capsys.readouterr()
        assert "rubin-nvl144 is ANNOUNCED, not shipping" in out


def test_amd_and_intel_classes_are_not_nvidias(capsys: pytest.CaptureFixture[str]) -> None:
    from interconnect_sim.calibration import load_calibration

    calibration = load_calibration()
    assert calibration.arch_class("cdna3") == "rccl"
    assert calibration.arch_class("gaudi3") == "hccl"
    assert {"rccl", "hccl"} <= calibration.prior_classes
    assert calibration.nvls_efficiency["rccl"] == 0.0
    argv = ["collective", "--system", "gaudi3-8x", "--op", "all_reduce", "--max-bytes", "1K"]
    assert main(argv) == 0
    out, _ = capsys.readouterr()
    assert "'hccl' collective-library class, whose constants are neutral priors" in out
