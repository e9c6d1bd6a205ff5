"""interconnect_sim: cluster-interconnect simulator and capacity-planning tool for GPU clusters.

The public surface, ``import interconnect_sim as ics``:

=====================  ===========================================================================
fabrics                ``load_catalog``, ``gpu_table``, ``FabricRequest``, ``build_fabric``,
                       ``summarize_fabric``, ``Fabric``; what-ifs ``without_device``,
                       ``without_link``, ``with_links_disabled``, ``with_p2p``,
                       ``with_devices_moved``; ``draw_fabric``
collectives            ``collective``, ``nccl_sizes``, ``CollectiveOp``, ``busbw_factor``,
                       ``plot_busbw``; measured data ``load_measurements``, ``validation_score``
training               ``train``, ``load_model``
scenarios and reports  ``load_scenario``, ``run_scenario``, ``write_report``
errors                 ``InterconnectSimError`` and its subclasses
=====================  ===========================================================================

Examples
--------
>>> import interconnect_sim as ics
>>> catalog = ics.load_catalog()
>>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100"))
>>> ics.summarize_fabric(fabric, catalog).per_gpu_bandwidth_bytes_per_s["nvlink"]
450000000000.0
>>> estimate = ics.collective(fabric, "all_reduce", ics.nccl_sizes("1G", "1G"))
>>> bool(estimate.busbw_bytes_per_s[0] > 400e9), estimate.algorithm[0]
(True, 'nvls')
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from interconnect_sim.errors import (
    InterconnectSimError,
    ScenarioError,
    SpecError,
    TopologyError,
    UnitError,
)

if TYPE_CHECKING:
    from interconnect_sim.api import collective, gpu_table, nccl_sizes, train, validation_score
    from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor
    from interconnect_sim.report.drawing import draw_fabric
    from interconnect_sim.report.plots import plot_busbw
    from interconnect_sim.report.scenario_report import write_report
    from interconnect_sim.scenarios import load_scenario, run_scenario
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import (
        Fabric,
        FabricRequest,
        build_fabric,
        summarize_fabric,
        with_links_disabled,
        with_p2p,
        without_device,
        without_link,
    )
    from interconnect_sim.topology.whatif import with_devices_moved
    from interconnect_sim.training.model import load_model
    from interconnect_sim.validation.measurements import load_measurements

_LAZY = {
    "load_catalog": "interconnect_sim.specs",
    "Fabric": "interconnect_sim.topology",
    "FabricRequest": "interconnect_sim.topology",
    "build_fabric": "interconnect_sim.topology",
    "summarize_fabric": "interconnect_sim.topology",
    "with_links_disabled": "interconnect_sim.topology",
    "with_p2p": "interconnect_sim.topology",
    "without_device": "interconnect_sim.topology",
    "without_link": "interconnect_sim.topology",
    "collective": "interconnect_sim.api",
    "nccl_sizes": "interconnect_sim.api",
    "gpu_table": "interconnect_sim.api",
    "train": "interconnect_sim.api",
    "CollectiveOp": "interconnect_sim.collectives.ops",
    "busbw_factor": "interconnect_sim.collectives.ops",
    "draw_fabric": "interconnect_sim.report.drawing",
    "plot_busbw": "interconnect_sim.report.plots",
    "write_report": "interconnect_sim.report.scenario_report",
    "load_scenario": "interconnect_sim.scenarios",
    "run_scenario": "interconnect_sim.scenarios",
    "with_devices_moved": "interconnect_sim.topology.whatif",
    "load_model": "interconnect_sim.training.model",
    "load_measurements": "interconnect_sim.validation.measurements",
    "validation_score": "interconnect_sim.api",
}
"""Names imported on first use, so ``import interconnect_sim`` stays light (no networkx,
plotting, engines or pandas until asked for: the command line starts in milliseconds)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interconnect_sim' has no attribute {name!r}")


__all__ = [
    "CollectiveOp",
    "Fabric",
    "FabricRequest",
    "InterconnectSimError",
    "ScenarioError",
    "SpecError",
    "TopologyError",
    "UnitError",
    "build_fabric",
    "busbw_factor",
    "collective",
    "draw_fabric",
    "gpu_table",
    "load_catalog",
    "load_measurements",
    "load_model",
    "load_scenario",
    "nccl_sizes",
    "plot_busbw",
    "run_scenario",
    "summarize_fabric",
    "train",
    "validation_score",
    "with_devices_moved",
    "with_links_disabled",
    "with_p2p",
    "without_device",
    "without_link",
    "write_report",
]

__version__ = "0.1.0"
