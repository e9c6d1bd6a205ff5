"""Build a fabric from a preset system id plus what-if knobs; the entry point commands use.

A preset is a system spec in the catalog (``dgx-h100``, ``gb200-nvl72`` ...). With more than one
node, systems are joined by a rail-optimized fat tree laid out as the system's DGX SuperPOD
reference design when it has one, otherwise by the generic rules of
:mod:`interconnect_sim.topology.fat_tree` with a switch matching the NIC.
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect_sim.errors import ScenarioError, TopologyError
from interconnect_sim.limits import check_fabric_size
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import SwitchSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.fat_tree import (
    FatTreeDesign,
    build_multi_node,
    check_network_fits,
    leaf_port_split,
)
from interconnect_sim.topology.node import NodeOptions
from interconnect_sim.topology.whatif import with_p2p

__all__ = ["FabricRequest", "build_fabric", "default_design", "fabric_size", "list_presets"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricRequest:
    """Everything that defines a fabric to build.

    Attributes
    ----------
    system : str
        Preset (system spec) id.
    node_count : int, optional
        Number of systems; exclusive with ``scalable_units``. Default 1.
    scalable_units : int, optional
        Build this many full scalable units of the system's SuperPOD design (the reference
        tables' node counts, e.g. 31 nodes per DGX H100 SU).
    oversubscription : float
        Leaf down:up ratio.
    levels : int, optional
        Force a 2- or 3-level network.
    nic : str, optional
        Replace the compute NICs by this NIC id.
    nic_count : int, optional
        Replace the number of compute NICs per system (each NIC its own rail).
    switch : str, optional
        Use this network switch for leaf, spine and core.
    nvlink_lanes_per_link : int, optional
        Active NVLink lanes per link (e.g. 1 of 2 on NVLink 4: "half the lanes").
    p2p : bool, optional
        Override the system's GPU peer-to-peer setting.
    """

    system: str
    node_count: int | None = None
    scalable_units: int | None = None
    oversubscription: float = 1.0
    levels: int | None = None
    nic: str | None = None
    nic_count: int | None = None
    switch: str | None = None
    nvlink_lanes_per_link: int | None = None
    p2p: bool | None = None


def list_presets(catalog: Catalog) -> list[SystemSpec]:
    """Every system preset in the catalog, sorted by id."""
    return catalog.of_kind(SystemSpec)


def _matching_switch(catalog: Catalog, port_link: str) -> SwitchSpec:
    candidates = [
        s for s in catalog.of_kind(SwitchSpec) if s.role == "network" and s.port_link == port_link
    ]
    if not candidates:
        raise ScenarioError(f"no network switch in the catalog has {port_link} ports; pass one")
    return max(candidates, key=lambda s: (s.port_count, s.id))


def default_design(catalog: Catalog, system: SystemSpec, request: FabricRequest) -> FatTreeDesign:
    """The scale-out design used for ``request``: the SuperPOD's, or generic rules."""
    if system.superpod is not None and request.switch is None:
        pod = catalog.superpod(system.superpod)
        return FatTreeDesign(
            nodes_per_scalable_unit=pod.nodes_per_scalable_unit,
            leaf_switch=pod.leaf_switch,
            spine_switch=pod.spine_switch,
            core_switch=pod.core_switch,
            oversubscription=request.oversubscription,
            levels=request.levels,
            spine_layout=pod.spine_layout,
            spine_group_size=pod.spine_group_size,
        )
    if request.switch is not None:
        switch = catalog.switch(request.switch)
    else:
        nic = catalog.nic(request.nic or system.nic or "")
        switch = _matching_switch(catalog, nic.port_link)
    down, _ = leaf_port_split(switch.port_count, request.oversubscription)
    nics_per_rail = (
        1
        if request.nic_count is not None
        else max(1, system.nic_count // max(1, system.rail_count or system.nic_count))
    )
    return FatTreeDesign(
        nodes_per_scalable_unit=max(1, down // nics_per_rail),
        leaf_switch=switch.id,
        spine_switch=switch.id,
        core_switch=switch.id,
        oversubscription=request.oversubscription,
        levels=request.levels,
    )


def _node_count(catalog: Catalog, system: SystemSpec, request: FabricRequest) -> int:
    if request.scalable_units is None:
        return 1 if request.node_count is None else request.node_count
    if request.node_count is not None:
        raise ScenarioError("give either a node count or a number of scalable units, not both")
    if request.scalable_units < 1:
        raise ScenarioError(f"scalable units must be at least 1, got {request.scalable_units}")
    if system.superpod is None:
        raise ScenarioError(f"{system.id} has no SuperPOD reference design; give a node count")
    pod = catalog.superpod(system.superpod)
    rows = {row.scalable_unit_count: row.node_count for row in pod.reference_rows}
    if request.scalable_units in rows:
        return rows[request.scalable_units]
    return request.scalable_units * pod.nodes_per_scalable_unit


def _system(catalog: Catalog, request: FabricRequest) -> SystemSpec:
    try:
        return catalog.system(request.system)
    except Exception as exc:
        raise ScenarioError(str(exc)) from None


def fabric_size(catalog: Catalog, request: FabricRequest) -> tuple[int, int]:
    """``(nodes, GPUs per node)`` of the fabric ``request`` describes, without building it."""
    system = _system(catalog, request)
    return _node_count(catalog, system, request), system.gpu_count


def build_fabric(catalog: Catalog, request: FabricRequest) -> Fabric:
    """Build and validate the fabric described by ``request``.

    The size is checked against :data:`~interconnect_sim.limits.LIMITS` and the network design
    against its levels before anything is built.

    Raises
    ------
    ScenarioError
        Unknown preset, contradictory options, a fabric above the accepted size.
    TopologyError
        A design that cannot be built (too few ports, a knob outside its range).
    """
    system = _system(catalog, request)
    node_count = _node_count(catalog, system, request)
    if isinstance(node_count, bool) or not isinstance(node_count, int) or node_count < 1:
        raise ScenarioError(f"node count must be a whole number of at least 1, got {node_count!r}")
    options = NodeOptions(
        nic=request.nic,
        nic_count=request.nic_count,
        nvlink_lanes_per_link=request.nvlink_lanes_per_link,
    )
    if request.nic is not None:
        catalog.nic(request.nic)
    design = default_design(catalog, system, request)
    label = f"{node_count} x {system.id}" + (
        f" ({request.scalable_units} scalable units)" if request.scalable_units else ""
    )
    check_network_fits(catalog, system, node_count, design, options=options, label=label)
    check_fabric_size(node_count, system.gpu_count, label)
    name = system.id if node_count == 1 else f"{system.id} x {node_count}"
    fabric = build_multi_node(catalog, system, node_count, design, options=options, name=name)
    p2p = system.p2p if request.p2p is None else request.p2p
    fabric = with_p2p(fabric, p2p) if p2p != fabric.p2p else fabric
    fabric.graph.graph["nvlink_lanes_per_link"] = request.nvlink_lanes_per_link
    if fabric.graph.graph.get("node_count") != node_count:
        raise TopologyError("internal error: node count mismatch")
    return fabric
