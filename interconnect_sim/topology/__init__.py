"""Fabrics: the graph type, builders for systems and multi-node networks, routing, analysis."""

from interconnect_sim.topology.analysis import (
    FabricSummary,
    bisection_bandwidth_bytes_per_s,
    summarize_fabric,
)
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.fat_tree import FatTreeDesign, build_multi_node
from interconnect_sim.topology.node import NodeOptions, add_system
from interconnect_sim.topology.presets import FabricRequest, build_fabric, list_presets
from interconnect_sim.topology.routing import gpu_path
from interconnect_sim.topology.whatif import (
    with_device_degraded,
    with_link_degraded,
    with_links_disabled,
    with_p2p,
    without_device,
    without_link,
)

__all__ = [
    "Fabric",
    "FabricRequest",
    "FabricSummary",
    "FatTreeDesign",
    "NodeOptions",
    "add_system",
    "bisection_bandwidth_bytes_per_s",
    "build_fabric",
    "build_multi_node",
    "gpu_path",
    "list_presets",
    "summarize_fabric",
    "with_device_degraded",
    "with_link_degraded",
    "with_links_disabled",
    "with_p2p",
    "without_device",
    "without_link",
]
