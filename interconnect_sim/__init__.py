"""interconnect_sim: cluster-interconnect simulator and capacity-planning tool for GPU clusters.

Examples
--------
>>> import interconnect_sim as ics
>>> catalog = ics.load_catalog()
>>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100"))
>>> ics.summarize_fabric(fabric, catalog).per_gpu_bandwidth_bytes_per_s["nvlink"]
450000000000.0
"""

from typing import TYPE_CHECKING, Any

from interconnect_sim.errors import (
    InterconnectSimError,
    ScenarioError,
    SpecError,
    TopologyError,
    UnitError,
)

if TYPE_CHECKING:
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import Fabric, FabricRequest, build_fabric, summarize_fabric

# Imported on first use (PEP 562), so `import interconnect_sim.cli` does not load networkx.
_LAZY = {
    "load_catalog": "interconnect_sim.specs",
    "Fabric": "interconnect_sim.topology",
    "FabricRequest": "interconnect_sim.topology",
    "build_fabric": "interconnect_sim.topology",
    "summarize_fabric": "interconnect_sim.topology",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'interconnect_sim' has no attribute {name!r}")


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
