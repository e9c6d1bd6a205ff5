"""Small synthetic fabrics and an ideal calibration for closed-form collective tests."""

from __future__ import annotations

from dataclasses import replace

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric


def star_fabric(catalog: Catalog, links_per_gpu: list[int]) -> Fabric:
    """GPUs on one crossbar switch; GPU i has ``links_per_gpu[i]`` NVLink 4 links (25 GB/s each).

    The switch has no multicast, so NVLS does not apply; every ring hop is GPU-switch-GPU.
    """
    fabric = Fabric("star")
    fabric.add_device("n0/sw", kind="nvswitch", node=0, multicast=False, sharp=False)
    link = catalog.link("nvlink-4")
    for i, count in enumerate(links_per_gpu):
        gpu = f"n0/gpu{i}"
        fabric.add_device(gpu, kind="gpu", spec="h100-sxm5-80gb", node=0, local_rank=i, rank=i)
        fabric.add_duplex_link(gpu, "n0/sw", link, link_count=count)
    fabric.graph.graph.update(system="star", node_count=1, gpus_per_node=len(links_per_gpu))
    fabric.validate()
    return fabric


def ideal_calibration() -> Calibration:
    """Every efficiency 1, NVLink at its raw rate and every latency 0: the alpha-beta model's
    pure bandwidth term."""
    shipped = load_calibration()
    return replace(
        shipped,
        base_latency_s=dict.fromkeys(shipped.base_latency_s, 0.0),
        hw_latency_s=dict.fromkeys(shipped.hw_latency_s, 0.0),
        intra_efficiency=dict.fromkeys(shipped.intra_efficiency, 1.0),
        p2p_efficiency=dict.fromkeys(shipped.p2p_efficiency, 1.0),
        network_efficiency=dict.fromkeys(shipped.network_efficiency, 1.0),
        network_latency_s=dict.fromkeys(shipped.network_latency_s, 0.0),
        intra_latency_s=dict.fromkeys(shipped.intra_latency_s, 0.0),
        nvlink_data_rate_bytes_per_s={},
        pcie_data_rate_bytes_per_s={},
    )
