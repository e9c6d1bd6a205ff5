"""interconnect_sim: cluster-interconnect simulator and capacity-planning tool for GPU clusters.

Examples
--------
>>> import interconnect_sim as ics
>>> catalog = ics.load_catalog()
>>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100"))
>>> ics.summarize_fabric(fabric, catalog).per_gpu_bandwidth_bytes_per_s["nvlink"]
450000000000.0
"""

from interconnect_sim.errors import (
    InterconnectSimError,
    ScenarioError,
    SpecError,
    TopologyError,
    UnitError,
)
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import Fabric, FabricRequest, build_fabric, summarize_fabric

__all__ = [
    "Fabric",
    "FabricRequest",
    "InterconnectSimError",
    "ScenarioError",
    "SpecError",
    "TopologyError",
    "UnitError",
    "build_fabric",
    "load_catalog",
    "summarize_fabric",
]

__version__ = "0.1.0"
