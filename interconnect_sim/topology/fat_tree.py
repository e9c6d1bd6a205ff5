"""Rail-optimized fat trees of many systems, and DGX SuperPOD scalable units.

Design rules (see ``docs/design/fat-tree-rules.md``), applied to any switch radix and
oversubscription, so the DGX SuperPOD reference tables can *check* them rather than feed them:

* **Leaf.** A leaf of radix ``k`` at oversubscription ``R`` (down:up) has at most
  ``down = floor(k * R / (R + 1))`` node-facing ports. Nodes are grouped into scalable units
  (SUs); in every SU each rail (NIC index modulo the system's rail count) gets
  ``ceil(nics on that rail / down)`` leaves of its own. A leaf's uplinks follow the ports its SU
  is designed to fill, ``c = min(down, NICs per rail per SU)``: ``up = max(1, round(c / R))``.
  So a DGX H100 SU (32 nodes, 64-port leaves) has 32 uplinks per leaf at 1:1 and 16 at 2:1.
* **Two levels** (``shared`` spines): every leaf connects to every spine with ``up / S`` links;
  ``S`` is the smallest divisor of ``up`` whose ports cover all leaf uplinks. Possible while
  ``leaves <= k``.
* **Three levels** (``shared``): pods of ``k/2`` leaves, each with ``up`` spines (one link from
  every leaf of the pod to every spine of the pod); spine ``j`` of every pod belongs to plane ``j``,
  and each plane has ``ceil(leaves / k)`` core switches, each spine spreading its uplinks evenly
  over the cores of its plane.
* **Per-rail spine groups** (DGX A100 SuperPOD): rail ``r``'s leaves connect to spine group ``r``
  of ``spine_group_size`` switches; each spine connects one link to every core of its core group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import LinkSpec, SwitchSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.node import NodeOptions, NodePorts, add_system, slower_link
from interconnect_sim.topology.stamping import NodeTemplate, validate_copies
from interconnect_sim.topology.structure import (
    NodeKinds,
    collector_paused,
    record_node_kinds,
    sharing_enabled,
)
from interconnect_sim.units import format_rate

__all__ = ["FatTreeDesign", "build_multi_node", "leaf_port_split"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FatTreeDesign:
    """How the scale-out network of a multi-node fabric is laid out.

    Attributes
    ----------
    nodes_per_scalable_unit : int
        Systems per scalable unit (SU); leaves are per rail per SU.
    leaf_switch, spine_switch, core_switch : str
        Catalog ids of the network switches.
    oversubscription : float
        Leaf down:up port ratio (1.0 = non-blocking, 2.0 = 2:1).
    levels : int, optional
        2 or 3; default: 2 while the leaves fit under one spine layer, else 3.
    spine_layout : {"shared", "per-rail-groups"}
        Whether all leaves share the spines or each rail has its own spine group.
    spine_group_size : int
        Spines per rail group (``per-rail-groups`` only).
    """

    nodes_per_scalable_unit: int
    leaf_switch: str
    spine_switch: str
    core_switch: str
    oversubscription: float = 1.0
    levels: int | None = None
    spine_layout: str = "shared"
    spine_group_size: int = 0


def leaf_port_split(radix: int, oversubscription: float) -> tuple[int, int]:
    """Node-facing and uplink port counts of a leaf of ``radix`` ports at a down:up ratio.

    Examples
    --------
    >>> leaf_port_split(64, 1.0)
    (32, 32)
    >>> leaf_port_split(64, 2.0)
    (42, 21)
    >>> leaf_port_split(64, 3.0)
    (48, 16)
    """
    if not oversubscription > 0 or not math.isfinite(oversubscription):
        raise TopologyError(f"oversubscription must be a positive number, got {oversubscription}")
    down = math.floor(radix * oversubscription / (oversubscription + 1) + 1e-9)
    up = math.floor(down / oversubscription + 1e-9)
    if down < 1 or up < 1:
        raise TopologyError(
            f"a {radix}-port leaf cannot be split at {oversubscription}:1 (down={down}, up={up})"
        )
    return down, up


@dataclass(slots=True)
class _Leaf:
    node_id: str
    rail: int
    su: int
    uplinks: int


def build_multi_node(
    catalog: Catalog,
    system: SystemSpec,
    node_count: int,
    design: FatTreeDesign,
    *,
    options: NodeOptions | None = None,
    name: str | None = None,
) -> Fabric:
    """Build ``node_count`` systems joined by a rail-optimized fat tree.

    Parameters
    ----------
    catalog : Catalog
        Spec catalog.
    system : SystemSpec
        The system every node is.
    node_count : int
        Number of systems (>= 1).
    design : FatTreeDesign
        Scale-out layout and switch models.
    options : NodeOptions, optional
        What-if choices for every node (NIC swap, NVLink lanes).
    name : str, optional
        Fabric name.

    Returns
    -------
    Fabric
        Validated fabric; graph attributes record the design (``levels``, ``oversubscription``,
        ``scalable_units``).
    """
    if node_count < 1:
        raise TopologyError(f"node_count must be at least 1, got {node_count}")
    with collector_paused():
        return _build(catalog, system, node_count, design, options, name)


def _build(
    catalog: Catalog,
    system: SystemSpec,
    node_count: int,
    design: FatTreeDesign,
    options: NodeOptions | None,
    name: str | None,
) -> Fabric:
    fabric = Fabric(name or f"{system.id} x {node_count}")
    nodes = [add_system(fabric, catalog, system, index=0, options=options)]
    stamped = node_count > 1 and sharing_enabled()
    if stamped:  # the others are copies of the first
        template = NodeTemplate.capture(fabric, nodes[0])
        nodes += [template.stamp(fabric, i) for i in range(1, node_count)]
    else:
        nodes += [
            add_system(fabric, catalog, system, index=i, options=options)
            for i in range(1, node_count)
        ]
    if node_count > 1:
        if not nodes[0].nics:
            raise TopologyError(f"{system.id} has no NICs to join {node_count} nodes")
        _add_network(fabric, catalog, nodes, design)
    fabric.graph.graph.update(
        system=system.id,
        system_spec=system,
        node_count=node_count,
        gpus_per_node=system.gpu_count,
        oversubscription=design.oversubscription if node_count > 1 else None,
    )
    if stamped:
        validate_copies(fabric, node_count)
    else:
        fabric.validate()
    record_node_kinds(fabric, NodeKinds((0,) * node_count))  # every node built alike
    return fabric


def _add_network(
    fabric: Fabric, catalog: Catalog, nodes: list[NodePorts], design: FatTreeDesign
) -> None:
    leaf_spec = catalog.switch(design.leaf_switch)
    spine_spec = catalog.switch(design.spine_switch)
    core_spec = catalog.switch(design.core_switch)
    for spec in (leaf_spec, spine_spec, core_spec):
        if spec.role != "network":
            raise TopologyError(f"{spec.id} is not a network switch")
    down, _ = leaf_port_split(leaf_spec.port_count, design.oversubscription)
    nics_per_rail = _nics_per_rail_per_node(nodes[0])
    designed_down = min(down, design.nodes_per_scalable_unit * nics_per_rail)
    up = max(1, round(designed_down / design.oversubscription))
    if designed_down + up > leaf_spec.port_count:
        raise TopologyError(
            f"{leaf_spec.id}: {designed_down} down + {up} up ports exceed its "
            f"{leaf_spec.port_count} ports"
        )
    leaves = _add_leaves(fabric, catalog, nodes, design, leaf_spec, down, up)
    radix = spine_spec.port_count
    levels = design.levels
    if design.spine_layout == "per-rail-groups":
        if levels not in (None, 3):
            raise TopologyError("per-rail spine groups are a three-level design")
        _add_rail_groups(fabric, catalog, leaves, design, spine_spec, core_spec)
        levels = 3
    else:
        if levels is None:
            levels = 2 if len(leaves) <= radix else 3
        if levels == 2:
            _add_two_level(fabric, catalog, leaves, spine_spec, up)
        elif levels == 3:
            _add_three_level(fabric, catalog, leaves, spine_spec, core_spec, up)
        else:
            raise TopologyError(f"levels must be 2 or 3, got {levels}")
    fabric.graph.graph.update(levels=levels, leaf_down_ports=designed_down, leaf_up_ports=up)


def _nics_per_rail_per_node(node: NodePorts) -> int:
    rails: dict[int, int] = {}
    for rail in node.nic_rails:
        rails[rail] = rails.get(rail, 0) + 1
    return max(rails.values())


def _add_leaves(
    fabric: Fabric,
    catalog: Catalog,
    nodes: list[NodePorts],
    design: FatTreeDesign,
    leaf_spec: SwitchSpec,
    down: int,
    up: int,
) -> list[_Leaf]:
    per_su = design.nodes_per_scalable_unit
    if per_su < 1:
        raise TopologyError("nodes_per_scalable_unit must be at least 1")
    leaf_port = catalog.link(leaf_spec.port_link)
    leaves: list[_Leaf] = []
    ports: dict[str, LinkSpec] = {}  # NIC spec -> the link it gets to a leaf port
    su_count = math.ceil(len(nodes) / per_su)
    for su in range(su_count):
        in_su = 0
        members = nodes[su * per_su : (su + 1) * per_su]
        by_rail: dict[int, list[str]] = {}
        for node in members:
            for nic_id, rail in zip(node.nics, node.nic_rails, strict=True):
                by_rail.setdefault(rail, []).append(nic_id)
        for rail in sorted(by_rail):
            nics = by_rail[rail]
            for k in range(math.ceil(len(nics) / down)):
                leaf_id = f"su{su}/leaf{in_su}"
                in_su += 1
                fabric.add_device(
                    leaf_id, kind="leaf", spec=leaf_spec.id, su=su, rail=rail, sharp=leaf_spec.sharp
                )
                leaves.append(_Leaf(leaf_id, rail, su, up))
                for nic_id in nics[k * down : (k + 1) * down]:
                    nic_spec = str(fabric.graph.nodes[nic_id]["spec"])
                    if nic_spec not in ports:
                        nic = catalog.nic(nic_spec)
                        ports[nic_spec] = slower_link(catalog.link(nic.port_link), leaf_port)
                        if ports[nic_spec].id != nic.port_link:
                            _note_slow_port(fabric, catalog, nic.id, nic.port_link, leaf_spec)
                    fabric.add_duplex_links([(nic_id, leaf_id)], ports[nic_spec])
    fabric.graph.graph["scalable_units"] = su_count
    return leaves


def _note_slow_port(
    fabric: Fabric,
    catalog: Catalog,
    nic_id: str,
    nic_link: str,
    leaf: SwitchSpec,
) -> None:
    """A NIC faster than the leaf port it plugs into runs at the port's rate: say so."""
    nic_rate = catalog.link(nic_link).data_rate_per_direction_bytes_per_s
    leaf_rate = catalog.link(leaf.port_link).data_rate_per_direction_bytes_per_s
    if leaf_rate >= nic_rate * 0.99:
        return  # same rate, different lane layout: nothing lost
    fabric.warn(
        f"{nic_id} NIC ports ({nic_link}, {format_rate(nic_rate)} per direction) plug into "
        f"{leaf.id} leaf ports ({leaf.port_link}, {format_rate(leaf_rate)}): the leaf port "
        f"limits each NIC to {format_rate(leaf_rate)}; give --switch a switch with "
        f"{nic_link} ports for the full rate"
    )


def _add_switch(fabric: Fabric, node_id: str, kind: str, spec: SwitchSpec, **attrs: int) -> None:
    fabric.add_device(node_id, kind=kind, spec=spec.id, sharp=spec.sharp, **attrs)


def _add_two_level(
    fabric: Fabric, catalog: Catalog, leaves: list[_Leaf], spine_spec: SwitchSpec, up: int
) -> None:
    radix = spine_spec.port_count
    total_up = len(leaves) * up
    spine_count = next((s for s in range(1, up + 1) if up % s == 0 and s * radix >= total_up), None)
    if spine_count is None:
        raise TopologyError(
            f"{len(leaves)} leaves do not fit under one layer of {radix}-port spines; "
            "use three levels"
        )
    link = catalog.link(spine_spec.port_link)
    spines = [f"spine{j}" for j in range(spine_count)]
    for spine in spines:
        _add_switch(fabric, spine, "spine", spine_spec)
    for leaf in leaves:
        for spine in spines:
            fabric.add_duplex_links([(leaf.node_id, spine)], link, link_count=up // spine_count)


def _add_three_level(
    fabric: Fabric,
    catalog: Catalog,
    leaves: list[_Leaf],
    spine_spec: SwitchSpec,
    core_spec: SwitchSpec,
    up: int,
) -> None:
    radix = spine_spec.port_count
    leaves_per_pod = radix // 2
    pod_count = math.ceil(len(leaves) / leaves_per_pod)
    cores_per_plane = math.ceil(len(leaves) / core_spec.port_count)
    link = catalog.link(spine_spec.port_link)
    core_link = slower_link(link, catalog.link(core_spec.port_link))
    planes = [[f"core{j * cores_per_plane + c}" for c in range(cores_per_plane)] for j in range(up)]
    for j, plane in enumerate(planes):
        for core in plane:
            _add_switch(fabric, core, "core", core_spec, plane=j)
    for pod in range(pod_count):
        members = leaves[pod * leaves_per_pod : (pod + 1) * leaves_per_pod]
        for j in range(up):
            spine = f"pod{pod}/spine{j}"
            _add_switch(fabric, spine, "spine", spine_spec, pod=pod, plane=j)
            fabric.add_duplex_links([(leaf.node_id, spine) for leaf in members], link)
            # Uplinks mirror the populated downlinks (non-blocking spine), spread over the plane.
            for c, core in enumerate(planes[j]):
                share = len(members) // cores_per_plane + (c < len(members) % cores_per_plane)
                if share:
                    fabric.add_duplex_links([(spine, core)], core_link, link_count=share)


def _add_rail_groups(
    fabric: Fabric,
    catalog: Catalog,
    leaves: list[_Leaf],
    design: FatTreeDesign,
    spine_spec: SwitchSpec,
    core_spec: SwitchSpec,
) -> None:
    if design.spine_group_size < 1:
        raise TopologyError("per-rail spine groups need spine_group_size >= 1")
    # A group wider than a leaf's uplinks would leave spines unwired.
    group = min(design.spine_group_size, max(leaf.uplinks for leaf in leaves))
    link = catalog.link(spine_spec.port_link)
    rails = sorted({leaf.rail for leaf in leaves})
    spine_downlinks: dict[str, int] = {}
    spines_by_rail: dict[int, list[str]] = {}
    for rail in rails:
        members = [leaf for leaf in leaves if leaf.rail == rail]
        spines = [f"rail{rail}/spine{g}" for g in range(group)]
        spines_by_rail[rail] = spines
        for g, spine in enumerate(spines):
            _add_switch(fabric, spine, "spine", spine_spec, rail=rail, position=g)
            spine_downlinks[spine] = 0
        for leaf in members:
            # Spread the leaf's uplinks as evenly as the group allows (13 over 10: 3 get 2).
            per_spine, extra = divmod(leaf.uplinks, group)
            for g, spine in enumerate(spines):
                count = per_spine + (g < extra)
                if count:
                    fabric.add_duplex_links([(leaf.node_id, spine)], link, link_count=count)
                    spine_downlinks[spine] += count
    # Spines pass up as many links as they take from leaves (non-blocking spine). Spine
    # position k of every rail group belongs to core group k mod G; each group gets the cores
    # its load needs, and links are dealt round-robin so no core exceeds its ports.
    used_up = max(1, max(spine_downlinks.values()))
    total_up = sum(spine_downlinks.values())
    group_count = max(1, min(group, math.ceil(total_up / core_spec.port_count / used_up)))
    core_link = slower_link(link, catalog.link(core_spec.port_link))
    next_core = 0
    for g in range(group_count):
        group_spines = [
            spine
            for rail in rails
            for position, spine in enumerate(spines_by_rail[rail])
            if position % group_count == g
        ]
        load = sum(spine_downlinks[spine] for spine in group_spines)
        cores = [f"core{next_core + c}" for c in range(math.ceil(load / core_spec.port_count))]
        next_core += len(cores)
        for core in cores:
            _add_switch(fabric, core, "core", core_spec, group=g)
        pointer = 0
        for spine in group_spines:
            counts: dict[str, int] = {}
            for _ in range(spine_downlinks[spine]):
                counts[cores[pointer]] = counts.get(cores[pointer], 0) + 1
                pointer = (pointer + 1) % len(cores)
            for core, count in counts.items():
                fabric.add_duplex_links([(spine, core)], core_link, link_count=count)
