"""Power of a design from the catalog: systems, switches, optics, and the facility's PUE.

Node power is the system's maximum power (``power`` in the system spec: a DGX H100's 10.2 kW,
a GB200 NVL72 rack's 120 kW) and includes its GPUs, CPUs and NICs; where a system has no
``power`` the GPUs' TDP alone is used and the shortfall is reported. Switches draw their
``power`` without pluggables; transceivers and active cable ends their own ``power`` each. The
facility draws IT power times the PUE (a user input; 1.0 reports IT power only). Every figure is
the maximum: a training run near full load is the planning case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.bom import BillOfMaterials
from interconnect_sim.specs.catalog import Catalog

__all__ = ["PowerEstimate", "estimate_power"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerEstimate:
    """Watts drawn by a design."""

    nodes_w: float
    gpus_w: float
    switches_w: float
    optics_w: float
    pue: float
    notes: list[str] = field(default_factory=list)

    @property
    def it_w(self) -> float:
        """Nodes, switches and optics."""
        return self.nodes_w + self.switches_w + self.optics_w

    @property
    def facility_w(self) -> float:
        """IT power times PUE."""
        return self.it_w * self.pue

    def to_row(self) -> dict[str, Any]:
        """Flat columns for a designs table (kW)."""
        return {
            "power_nodes_kw": self.nodes_w / 1e3,
            "power_gpus_tdp_kw": self.gpus_w / 1e3,
            "power_switches_kw": self.switches_w / 1e3,
            "power_optics_kw": self.optics_w / 1e3,
            "power_it_kw": self.it_w / 1e3,
            "pue": self.pue,
            "power_facility_kw": self.facility_w / 1e3,
            "power_notes": "; ".join(self.notes),
        }


def estimate_power(bom: BillOfMaterials, catalog: Catalog, *, pue: float = 1.0) -> PowerEstimate:
    """Maximum power of the design in ``bom``."""
    if not pue >= 1.0:
        raise ScenarioError(f"PUE must be at least 1.0, got {pue}")
    system = bom.system_spec
    gpu = catalog.gpu(system.gpu)
    notes: list[str] = []
    gpus_w = bom.gpus * gpu.tdp_w
    if system.power_w:
        nodes_w = bom.nodes * system.power_w
    else:
        nodes_w = gpus_w
        notes.append(f"{system.id} has no system power in the catalog: GPU TDP only")
    switches_w = 0.0
    for tier in bom.switches:
        spec = catalog.switch(tier.spec)
        if spec.power_w is None:
            notes.append(f"{spec.id} has no power in the catalog: counted as 0 W")
        else:
            switches_w += tier.count * spec.power_w
    optics_w = sum(
        count * catalog.transceiver(part).power_w for part, count in bom.transceivers().items()
    )
    return PowerEstimate(
        nodes_w=nodes_w,
        gpus_w=gpus_w,
        switches_w=switches_w,
        optics_w=optics_w,
        pue=pue,
        notes=notes,
    )
