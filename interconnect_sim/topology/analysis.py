"""Numbers people ask of a fabric: device and link counts, per-GPU bandwidth per tier, bisection.

Every bandwidth is bytes per second per direction; ``*_bidirectional`` values are the vendor-style
sums of both directions, for comparison with datasheet headlines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import Spec
from interconnect_sim.specs.provenance import field_provenance, origin_label, provenance_summary
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_COUNT, LINK_SPEC, TIER, Fabric

__all__ = ["FabricSummary", "bisection_bandwidth_bytes_per_s", "summarize_fabric"]

SWITCH_KINDS = ("nvswitch", "pcie_switch", "leaf", "spine", "core")


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricSummary:
    """A fabric described in the numbers the ``topo`` command prints."""

    name: str
    system: str
    nodes: int
    gpus: int
    gpus_per_node: int
    devices: dict[str, int]
    switches: dict[str, int]
    links_by_spec: dict[str, int]
    per_gpu_bandwidth_bytes_per_s: dict[str, float]
    bisection_bandwidth_bytes_per_s: float
    bisection_cut: str
    nvlink_bisection_bandwidth_bytes_per_s: float | None
    p2p: bool
    network_levels: int | None = None
    oversubscription: float | None = None
    notes: list[str] = field(default_factory=list)
    scale_up_label: str = "NVLink"
    scale_up_links: list[str] = field(default_factory=list)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (units in key names, bytes per second per direction)."""
        per_gpu = self.per_gpu_bandwidth_bytes_per_s
        return {
            "name": self.name,
            "system": self.system,
            "nodes": self.nodes,
            "gpus": self.gpus,
            "gpus_per_node": self.gpus_per_node,
            "devices": self.devices,
            "switches": self.switches,
            "links_by_spec": self.links_by_spec,
            "per_gpu_bandwidth_bytes_per_s": per_gpu,
            "per_gpu_bandwidth_bidirectional_bytes_per_s": {k: 2 * v for k, v in per_gpu.items()},
            "bisection_bandwidth_bytes_per_s": self.bisection_bandwidth_bytes_per_s,
            "bisection_cut": self.bisection_cut,
            "nvlink_bisection_bandwidth_bytes_per_s": self.nvlink_bisection_bandwidth_bytes_per_s,
            "p2p": self.p2p,
            "network_levels": self.network_levels,
            "oversubscription": self.oversubscription,
            "scale_up": {
                "label": self.scale_up_label,
                "links": self.scale_up_links,
                "per_gpu_bytes_per_s": per_gpu.get("nvlink", 0.0),
            },
            "provenance": self.provenance,
            "notes": self.notes,
            "warnings": self.warnings,
        }


def _out_bandwidth(
    fabric: Fabric, node: str, tier: str, *, to: tuple[str, ...] | None = None
) -> float:
    """Bandwidth of ``node``'s out-edges of one tier (only towards these device kinds)."""
    return float(
        sum(
            d[BANDWIDTH]
            for _, dst, d in fabric.graph.out_edges(node, data=True)
            if d[TIER] == tier and (to is None or fabric.kind(dst) in to)
        )
    )


def _per_gpu(fabric: Fabric, catalog: Catalog) -> dict[str, float]:
    """Tier bandwidths of the first GPU, and the scale-out share per GPU of its node."""
    gpu = fabric.gpus[0]
    node = fabric.graph.nodes[gpu]["node"]
    nics = [n for n in fabric.nodes_of_kind("nic") if fabric.graph.nodes[n]["node"] == node]
    gpus_in_node = sum(1 for g in fabric.gpus if fabric.graph.nodes[g]["node"] == node)
    network = 0.0
    for nic in nics:
        nic_spec = catalog.nic(fabric.graph.nodes[nic]["spec"])
        to_net = _out_bandwidth(fabric, nic, "network")
        port = catalog.link(nic_spec.port_link).data_rate_per_direction_bytes_per_s
        network += to_net if to_net else port * nic_spec.port_count
    # A NIC on the GPU (ConnectX-8 on the GPU board, Gaudi's on-die ports) is not its host link.
    return {
        "nvlink": _out_bandwidth(fabric, gpu, "nvlink"),
        "pcie": _out_bandwidth(fabric, gpu, "pcie", to=("pcie_switch", "cpu")),
        "host": _out_bandwidth(fabric, gpu, "host", to=("cpu",)),
        "network": network / gpus_in_node if gpus_in_node else 0.0,
    }


_SCALE_UP_NAMES = {
    "nvlink": "NVLink",
    "infinity-fabric": "Infinity Fabric",
    "ethernet": "RoCE mesh",
    "infiniband": "InfiniBand mesh",
}


def _scale_up(fabric: Fabric, catalog: Catalog) -> tuple[str, list[str]]:
    """What the GPUs' scale-up tier is made of: a label and the link types of the first GPU."""
    gpu = fabric.gpus[0]
    links = sorted(
        {d[LINK_SPEC] for _, _, d in fabric.graph.out_edges(gpu, data=True) if d[TIER] == "nvlink"}
    )
    if not links:
        return "NVLink", []
    family = catalog.link(links[0]).family
    return _SCALE_UP_NAMES.get(family, family), links


def _entry(spec: Spec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "entry": origin_label(spec),
        "summary": provenance_summary(spec),
        "fields": field_provenance(spec),
    }


def _provenance(fabric: Fabric, catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Where the system's, its GPU's and its NICs' numbers come from."""
    system = fabric.graph.graph.get("system_spec")
    result: dict[str, dict[str, Any]] = {}
    if isinstance(system, Spec):
        result["system"] = _entry(system)
    result["gpu"] = _entry(catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"])))
    nics = sorted({str(fabric.graph.nodes[n]["spec"]) for n in fabric.nodes_of_kind("nic")})
    for nic in nics:
        result[f"nic {nic}" if len(nics) > 1 else "nic"] = _entry(catalog.nic(nic))
    return result


def _switch_counts(fabric: Fabric, devices: dict[str, int]) -> dict[str, int]:
    counts = {kind: devices.get(kind, 0) for kind in SWITCH_KINDS}
    spines = sum(
        1 for n in fabric.nodes_of_kind("nvswitch") if fabric.graph.nodes[n].get("level") == 2
    )
    if spines:
        counts["nvswitch"] -= spines
        counts["nvlink_spine"] = spines
    return counts


def _halves(fabric: Fabric) -> tuple[list[str], list[str], str]:
    gpus = fabric.gpus
    nodes = sorted({fabric.graph.nodes[g]["node"] for g in gpus})
    if len(nodes) > 1:
        first = set(nodes[: len(nodes) // 2])
        a = [g for g in gpus if fabric.graph.nodes[g]["node"] in first]
        b = [g for g in gpus if fabric.graph.nodes[g]["node"] not in first]
        return a, b, f"nodes 0-{len(first) - 1} | nodes {len(first)}-{len(nodes) - 1}"
    half = len(gpus) // 2
    return gpus[:half], gpus[half:], f"GPUs 0-{half - 1} | GPUs {half}-{len(gpus) - 1}"


def bisection_bandwidth_bytes_per_s(
    fabric: Fabric, *, tiers: tuple[str, ...] | None = None
) -> tuple[float, str]:
    """Maximum flow from one half of the GPUs to the other, over the fabric's capacities.

    The halves are the first and second half of the nodes (or, inside one node, of the GPUs) in
    rank order; for fat trees and switched nodes this is the cut through the top of the tree.
    The flow may use any device as transit (as a routing-agnostic capacity bound).

    Parameters
    ----------
    fabric : Fabric
        The fabric to cut.
    tiers : tuple of str, optional
        Count only links of these tiers (e.g. ``("nvlink",)``); default every link, so inside a
        DGX the PCIe and inter-socket paths add to the NVLink ones.

    Returns
    -------
    tuple of (float, str)
        Bandwidth in bytes per second (one direction: half A to half B) and the cut's description.
    """
    a, b, description = _halves(fabric)
    if not a or not b:
        return 0.0, "fewer than two GPUs"
    graph = nx.DiGraph()
    graph.add_edges_from(
        (u, v, {"capacity": d[BANDWIDTH]})
        for u, v, d in fabric.graph.edges(data=True)
        if tiers is None or d[TIER] in tiers
    )
    graph.add_nodes_from(fabric.gpus)
    source, sink = "__source__", "__sink__"
    graph.add_edges_from((source, gpu) for gpu in a)  # no capacity attribute = unbounded
    graph.add_edges_from((gpu, sink) for gpu in b)
    value = nx.maximum_flow_value(graph, source, sink, capacity="capacity")
    return float(value), description


def summarize_fabric(fabric: Fabric, catalog: Catalog) -> FabricSummary:
    """Device counts, link counts, per-GPU bandwidth per tier and bisection of a fabric."""
    devices = fabric.device_counts()
    gpus = fabric.gpus
    node_count = len({fabric.graph.nodes[g]["node"] for g in gpus})
    bisection, cut = bisection_bandwidth_bytes_per_s(fabric)
    nvlink_bisection = None
    if node_count == 1 and any(d[TIER] == "nvlink" for _, _, d in fabric.graph.edges(data=True)):
        nvlink_bisection, _ = bisection_bandwidth_bytes_per_s(fabric, tiers=("nvlink",))
    links: Counter[str] = Counter()
    for src, dst, data in fabric.graph.edges(data=True):
        if str(src) < str(dst):
            links[data[LINK_SPEC]] += data[LINK_COUNT]
    attrs = fabric.graph.graph
    notes = []
    if not fabric.p2p:
        notes.append("P2P off: GPU-to-GPU traffic is staged through host memory (no NVLink)")
    if attrs.get("nvlink_lanes_per_link"):
        notes.append(f"NVLink degraded to {attrs['nvlink_lanes_per_link']} lane(s) per link")
    label, scale_up_links = _scale_up(fabric, catalog)
    return FabricSummary(
        name=fabric.name,
        system=str(attrs.get("system", "")),
        nodes=node_count,
        gpus=len(gpus),
        gpus_per_node=len(gpus) // max(1, node_count),
        devices=devices,
        switches=_switch_counts(fabric, devices),
        links_by_spec=dict(sorted(links.items())),
        per_gpu_bandwidth_bytes_per_s=_per_gpu(fabric, catalog),
        bisection_bandwidth_bytes_per_s=bisection,
        bisection_cut=cut,
        nvlink_bisection_bandwidth_bytes_per_s=nvlink_bisection,
        p2p=fabric.p2p,
        network_levels=attrs.get("levels") if node_count > 1 else None,
        oversubscription=attrs.get("oversubscription"),
        notes=notes,
        scale_up_label=label,
        scale_up_links=scale_up_links,
        provenance=_provenance(fabric, catalog),
        warnings=list(fabric.warnings),
    )
