"""Build a fabric from a system plus what-if knobs: the one entry point every command uses.

A system is a preset id of the catalog (``dgx-h100``, ``GB200-NVL72``: any case), a path to a
system TOML file (``nodes/my-4xh100.toml``) or to a topology dump that a registered reader turns
into one (``nvidia-smi topo -m`` text, NCCL XML: :mod:`interconnect_sim.specs.system_readers`);
all go through :func:`build_fabric`, so every command, scenario and measurement file that names
a system accepts any of them. With more than one
node, systems are joined by a rail-optimized fat tree laid out as the system's DGX SuperPOD
reference design when it has one, otherwise by the generic rules of
:mod:`interconnect_sim.topology.fat_tree` with a switch matching the NIC. Failure what-ifs (links,
devices) are applied last.
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect_sim.errors import ScenarioError, SpecError, TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import SwitchSpec, SystemSpec
from interconnect_sim.specs.system_readers import SystemHints
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.fat_tree import FatTreeDesign, build_multi_node, leaf_port_split
from interconnect_sim.topology.node import NodeOptions
from interconnect_sim.topology.whatif import (
    with_device_degraded,
    with_link_degraded,
    with_links_disabled,
    with_p2p,
    without_device,
    without_link,
)

__all__ = ["FabricRequest", "build_fabric", "default_design", "list_presets", "resolve_system"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricRequest:
    """Everything that defines a fabric to build.

    Attributes
    ----------
    system : str
        Preset id (case-insensitive), path to a system TOML file, or path to a topology dump.
    gpu : str, optional
        GPU id of a topology dump that does not name its GPUs (``nvidia-smi topo -m``).
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
        Replace the compute NICs by this NIC id (for a dump that does not name its NICs, their
        model).
    nic_count : int, optional
        Replace the number of compute NICs per system (each NIC its own rail).
    switch : str, optional
        Use this network switch for leaf, spine and core.
    nvlink_lanes_per_link : int, optional
        Active NVLink lanes per link (e.g. 1 of 2 on NVLink 4: "half the lanes").
    p2p : bool, optional
        Override the system's GPU peer-to-peer setting.
    fail_links : tuple of (str, str)
        Remove every link between each pair of devices.
    disable_links : tuple of (str, str, int)
        Disable that many of the parallel links between two devices (a failed NVLink).
    fail_devices : tuple of str
        Remove these switches or NICs.
    degrade_links : tuple of (str, str, float)
        Run the link between two devices at that fraction of its capacity (both directions).
    degrade_devices : tuple of (str, float)
        Run every link of a device (a NIC, a switch) at that fraction of its capacity.
    """

    system: str
    gpu: str | None = None
    node_count: int | None = None
    scalable_units: int | None = None
    oversubscription: float = 1.0
    levels: int | None = None
    nic: str | None = None
    nic_count: int | None = None
    switch: str | None = None
    nvlink_lanes_per_link: int | None = None
    p2p: bool | None = None
    fail_links: tuple[tuple[str, str], ...] = ()
    disable_links: tuple[tuple[str, str, int], ...] = ()
    fail_devices: tuple[str, ...] = ()
    degrade_links: tuple[tuple[str, str, float], ...] = ()
    degrade_devices: tuple[tuple[str, float], ...] = ()


def list_presets(catalog: Catalog) -> list[SystemSpec]:
    """Every system preset in the catalog, sorted by id."""
    return catalog.of_kind(SystemSpec)


def _matching_switch(catalog: Catalog, port_link: str) -> SwitchSpec:
    """The largest network switch with the NIC's port type, else the fastest of its family."""
    network = [s for s in catalog.of_kind(SwitchSpec) if s.role == "network"]
    candidates = [s for s in network if s.port_link == port_link]
    if candidates:
        return max(candidates, key=lambda s: (s.port_count, s.id))
    family = catalog.link(port_link).family
    rate = catalog.link

    same_family = [s for s in network if rate(s.port_link).family == family]
    if not same_family:
        raise ScenarioError(
            f"no network switch in the catalog has {port_link} ports or any {family} ports; "
            "pass one with --switch"
        )
    return max(
        same_family,
        key=lambda s: (rate(s.port_link).data_rate_per_direction_bytes_per_s, s.port_count, s.id),
    )


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


def resolve_system(
    catalog: Catalog, reference: str, hints: SystemHints | None = None
) -> SystemSpec:
    """The system a request names: a preset id (any case), a system file or a topology dump
    (with the ``--gpu`` / ``--nic`` ``hints`` it may need).

    Raises
    ------
    ScenarioError
        Unknown id (naming the nearest presets), or a file that is missing or invalid (naming
        the file, the key and the value).
    """
    try:
        return catalog.resolve_system(reference, hints)
    except SpecError as exc:
        raise ScenarioError(str(exc)) from None


def _apply_failures(fabric: Fabric, request: FabricRequest) -> Fabric:
    for a, b in request.fail_links:
        fabric = without_link(fabric, a, b)
    for a, b, count in request.disable_links:
        fabric = with_links_disabled(fabric, a, b, count)
    for device in request.fail_devices:
        fabric = without_device(fabric, device)
    for a, b, fraction in request.degrade_links:
        fabric = with_link_degraded(fabric, a, b, fraction)
    for device, fraction in request.degrade_devices:
        fabric = with_device_degraded(fabric, device, fraction)
    return fabric


def build_fabric(catalog: Catalog, request: FabricRequest) -> Fabric:
    """Build and validate the fabric described by ``request``.

    Raises
    ------
    ScenarioError
        Unknown preset or bad system file, contradictory options.
    TopologyError
        A design that cannot be built (too few ports, a knob outside its range, a failure that
        names no link or disconnects a GPU).
    """
    system = resolve_system(catalog, request.system, SystemHints(gpu=request.gpu, nic=request.nic))
    node_count = _node_count(catalog, system, request)
    if node_count < 1:
        raise ScenarioError(f"node count must be at least 1, got {node_count}")
    options = NodeOptions(
        nic=request.nic,
        nic_count=request.nic_count,
        nvlink_lanes_per_link=request.nvlink_lanes_per_link,
    )
    if request.nic is not None:
        catalog.nic(request.nic)
    design = default_design(catalog, system, request)
    name = system.id if node_count == 1 else f"{system.id} x {node_count}"
    fabric = build_multi_node(catalog, system, node_count, design, options=options, name=name)
    p2p = system.p2p if request.p2p is None else request.p2p
    fabric = with_p2p(fabric, p2p) if p2p != fabric.p2p else fabric
    fabric.graph.graph["nvlink_lanes_per_link"] = request.nvlink_lanes_per_link
    if fabric.graph.graph.get("node_count") != node_count:
        raise TopologyError("internal error: node count mismatch")
    nic_id = request.nic or system.nic
    if node_count > 1 and nic_id is not None and request.switch is None and not system.superpod:
        leaf = catalog.switch(design.leaf_switch)
        port = catalog.nic(nic_id).port_link
        if leaf.port_link != port:
            fabric.warn(
                f"no network switch with {port} ports in the catalog: the leaves are {leaf.id} "
                f"({leaf.port_link} ports, cabled at the slower of the two); choose one with "
                "--switch"
            )
    if system.status == "announced":
        fabric.warn(
            f"{system.id} is ANNOUNCED, not shipping: its figures are the announcement's and "
            "may change (a what-if, not a product)"
        )
    return _apply_failures(fabric, request)
