"""Bill of materials of a built fabric, counted from the graph itself.

GPUs, nodes, hosts and NICs are the graph's devices; leaf, spine and core switches its switch
nodes, with the ports their links use and the ports left free. Every network link is one cable:
node-leaf, leaf-spine and spine-core links are counted per tier from the edges (``link_count``
parallel links each), plus the management appliances' ports a SuperPOD design reserves on the
leaves (the UFM ports of the DGX H100 RA). How each tier is carried depends on its length: the
shortest-reach medium that covers it, preferring copper, then active optical cables, then
multimode and single-mode optics (catalog ``transceivers/``). With optics each end of a link
needs a transceiver port: a twin-port transceiver in a two-port cage serves two links of one
switch (or node) of the same tier, so a switch needs ``ceil(links / ports per cage)``
transceivers per tier; fibres are one per link. Copper from a two-port switch cage to
single-port node cages is a 1:2 split cable.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.placement import hosts_of
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import SystemSpec, TransceiverSpec
from interconnect_sim.topology.fabric import LINK_COUNT, LINK_SPEC, Fabric

__all__ = [
    "MEDIA_PREFERENCE",
    "BillOfMaterials",
    "CableRun",
    "Reach",
    "SwitchTier",
    "bill_of_materials",
]

MEDIA_PREFERENCE = ("dac", "acc", "aoc", "multimode", "singlemode")
"""Media tried from first to last; the first whose reach covers a run is used."""

_TIERS = {
    frozenset({"nic", "leaf"}): "node-leaf",
    frozenset({"leaf", "spine"}): "leaf-spine",
    frozenset({"spine", "core"}): "spine-core",
}
_SWITCH_KINDS = ("leaf", "spine", "core")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """Cable length of each network tier, metres (a planning input, not a catalog fact)."""

    node_leaf_m: float = 20.0
    leaf_spine_m: float = 100.0
    spine_core_m: float = 300.0

    def of(self, tier: str) -> float:
        """Length of ``tier`` (``node-leaf``, ``leaf-spine``, ``spine-core``)."""
        return {
            "node-leaf": self.node_leaf_m,
            "leaf-spine": self.leaf_spine_m,
            "spine-core": self.spine_core_m,
        }[tier]


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchTier:
    """The switches of one kind and model, and their ports."""

    kind: str
    spec: str
    count: int
    ports: int
    ports_used: int

    @property
    def ports_free(self) -> int:
        """Ports not cabled."""
        return self.ports - self.ports_used


@dataclass(frozen=True, slots=True, kw_only=True)
class CableRun:
    """All links of one tier: how many, how long, and what carries them."""

    tier: str
    link: str
    links: int
    reach_m: float
    media: str
    cables: int
    split_cables: int
    transceivers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class BillOfMaterials:
    """What a design is made of."""

    system: str
    system_spec: SystemSpec
    nodes: int
    hosts: int
    gpus: int
    racks: int
    nics: dict[str, int]
    switches: list[SwitchTier]
    cables: list[CableRun]
    management_ports: int = 0
    warnings: list[str] = field(default_factory=list)

    def switch_count(self, kind: str) -> int:
        """Number of switches of a kind (leaf, spine, core)."""
        return sum(s.count for s in self.switches if s.kind == kind)

    def links(self, tier: str) -> int:
        """Links (cables) of a tier."""
        return sum(c.links for c in self.cables if c.tier == tier)

    def transceivers(self) -> dict[str, int]:
        """Transceivers (or active cable ends) by catalog id, all tiers."""
        total: Counter[str] = Counter()
        for run in self.cables:
            total.update(run.transceivers)
        return dict(total)

    def to_row(self) -> dict[str, Any]:
        """Flat columns for a designs table."""
        row: dict[str, Any] = {
            "bom_nodes": self.nodes,
            "bom_hosts": self.hosts,
            "bom_gpus": self.gpus,
            "bom_racks": self.racks,
            "bom_nics": sum(self.nics.values()),
            "bom_management_ports": self.management_ports,
        }
        for kind in _SWITCH_KINDS:
            tiers = [s for s in self.switches if s.kind == kind]
            row[f"bom_{kind}_switches"] = sum(s.count for s in tiers)
            row[f"bom_{kind}_ports_used"] = sum(s.ports_used for s in tiers)
            row[f"bom_{kind}_ports_free"] = sum(s.ports_free for s in tiers)
        for tier in ("node-leaf", "leaf-spine", "spine-core"):
            runs = [c for c in self.cables if c.tier == tier]
            key = tier.replace("-", "_")
            row[f"bom_{key}_cables"] = sum(c.cables for c in runs)
            row[f"bom_{key}_media"] = ",".join(sorted({c.media for c in runs}))
            row[f"bom_{key}_split_cables"] = sum(c.split_cables for c in runs)
        row["bom_node_leaf_cables"] += self.management_ports
        placed = min(self.management_ports, row["bom_leaf_ports_free"])  # the rest: a warning
        row["bom_leaf_ports_used"] += placed
        row["bom_leaf_ports_free"] -= placed
        row["bom_transceivers"] = sum(self.transceivers().values())
        row["bom_transceiver_types"] = ";".join(
            f"{k}={v}" for k, v in sorted(self.transceivers().items())
        )
        return row


def _switch_tiers(fabric: Fabric, catalog: Catalog) -> list[SwitchTier]:
    graph = fabric.graph
    groups: dict[tuple[str, str], list[int]] = {}
    for kind in _SWITCH_KINDS:
        for node in fabric.nodes_of_kind(kind):
            used = sum(int(data[LINK_COUNT]) for _, _, data in graph.out_edges(node, data=True))
            groups.setdefault((kind, str(graph.nodes[node]["spec"])), []).append(used)
    return [
        SwitchTier(
            kind=kind,
            spec=spec,
            count=len(used),
            ports=len(used) * catalog.switch(spec).port_count,
            ports_used=sum(used),
        )
        for (kind, spec), used in groups.items()
    ]


def _links_by_tier(fabric: Fabric) -> dict[tuple[str, str], dict[str, Counter[str]]]:
    """(tier, link spec) -> end kind -> links per device at that end."""
    graph = fabric.graph
    runs: dict[tuple[str, str], dict[str, Counter[str]]] = {}
    for src, dst, data in graph.edges(data=True):
        if str(src) > str(dst):
            continue
        kinds = (graph.nodes[src]["kind"], graph.nodes[dst]["kind"])
        tier = _TIERS.get(frozenset(kinds))
        if tier is None:
            continue
        ends = runs.setdefault((tier, str(data[LINK_SPEC])), {})
        for node, kind in zip((src, dst), kinds, strict=True):
            # NIC ends are grouped by host (node), where the NICs share cages.
            key = str(graph.nodes[node]["node"]) if kind == "nic" else str(node)
            ends.setdefault(kind, Counter())[key] += int(data[LINK_COUNT])
    return runs


def _options(catalog: Catalog, link: str, reach_m: float) -> list[TransceiverSpec]:
    fits = [
        t for t in catalog.of_kind(TransceiverSpec) if t.link == link and t.max_reach_m >= reach_m
    ]
    return sorted(fits, key=lambda t: (MEDIA_PREFERENCE.index(t.media), t.max_reach_m, t.id))


def _end_part(options: list[TransceiverSpec], media: str, ports: int) -> TransceiverSpec:
    same = [t for t in options if t.media == media]
    exact = [t for t in same if t.ports == ports]
    return (exact or sorted(same, key=lambda t: abs(t.ports - ports)))[0]


def _cage_ports(
    catalog: Catalog, fabric: Fabric, kind: str, device: str, system: SystemSpec
) -> int:
    if kind == "nic":
        return max(1, system.nic_ports_per_cage)
    return max(1, catalog.switch(str(fabric.graph.nodes[device]["spec"])).ports_per_cage)


def _cable_run(
    catalog: Catalog,
    fabric: Fabric,
    system: SystemSpec,
    tier: str,
    link: str,
    ends: dict[str, Counter[str]],
    reach_m: float,
) -> tuple[CableRun, str | None]:
    links = sum(next(iter(ends.values())).values())
    options = _options(catalog, link, reach_m)
    if not options:
        empty = CableRun(
            tier=tier,
            link=link,
            links=links,
            reach_m=reach_m,
            media="unknown",
            cables=links,
            split_cables=0,
        )
        return empty, f"{tier}: no transceiver or cable for {link} reaches {reach_m:g} m"
    media = options[0].media
    parts: Counter[str] = Counter()
    cage_ports: dict[str, int] = {}
    for kind, per_device in ends.items():
        for device, count in per_device.items():
            ports = _cage_ports(catalog, fabric, kind, device, system)
            cage_ports[kind] = ports
            part = _end_part(options, media, ports)
            parts[part.id] += math.ceil(count / part.ports)
    widest = max(cage_ports.values())
    cables, split = links, 0
    if media in ("dac", "acc"):  # one cable per widest cage, split when the other end is narrower
        cables = math.ceil(links / widest)
        split = cables if min(cage_ports.values()) < widest else 0
        parts = Counter({_end_part(options, media, widest).id: cables})
    run = CableRun(
        tier=tier,
        link=link,
        links=links,
        reach_m=reach_m,
        media=media,
        cables=cables,
        split_cables=split,
        transceivers=dict(parts),
    )
    return run, None


def _racks(catalog: Catalog, system: SystemSpec, nodes: int, rack_power_w: float) -> int:
    per_rack = 0
    if system.superpod is not None:
        per_rack = catalog.superpod(system.superpod).nodes_per_rack
    if not per_rack and system.power_w:
        per_rack = max(1, int(rack_power_w // system.power_w))
    return math.ceil(nodes / max(1, per_rack))


def bill_of_materials(
    fabric: Fabric,
    catalog: Catalog,
    *,
    reach: Reach | None = None,
    management_ports: int = 0,
    rack_power_w: float = 40e3,
    system: SystemSpec | None = None,
) -> BillOfMaterials:
    """Count what ``fabric`` is made of.

    Parameters
    ----------
    fabric : Fabric
        A built fabric (``build_fabric``).
    catalog : Catalog
        Spec catalog (switch ports, cages, transceivers).
    reach : Reach, optional
        Cable length per tier; picks the medium.
    management_ports : int
        Leaf ports taken by fabric-management appliances (UFM), counted as node-leaf cables.
    rack_power_w : float
        Rack power budget, used for nodes per rack when the SuperPOD design gives none.
    system : SystemSpec, optional
        The fabric's system (default: the catalog's spec of the fabric's system id; give it for
        a system read from a user's file).
    """
    reach = reach or Reach()
    system = system or catalog.system(str(fabric.graph.graph["system"]))
    nodes = int(fabric.graph.graph["node_count"])
    nics = Counter(str(fabric.graph.nodes[n]["spec"]) for n in fabric.nodes_of_kind("nic"))
    runs: list[CableRun] = []
    warnings: list[str] = []
    for (tier, link), ends in sorted(_links_by_tier(fabric).items()):
        run, warning = _cable_run(catalog, fabric, system, tier, link, ends, reach.of(tier))
        runs.append(run)
        if warning:
            warnings.append(warning)
    if management_ports < 0:
        raise ScenarioError("management ports must not be negative")
    switches = _switch_tiers(fabric, catalog)
    management_ports = management_ports if nodes > 1 else 0
    free = sum(s.ports_free for s in switches if s.kind == "leaf")
    if management_ports > free:
        warnings.append(
            f"the design's {management_ports} fabric-management (UFM) ports need free leaf "
            f"ports and {nodes} nodes leave {free}: plan one node fewer (as the reference "
            "architecture's 31/63/95/127-node pods do) or another leaf"
        )
    return BillOfMaterials(
        system=system.id,
        system_spec=system,
        nodes=nodes,
        hosts=hosts_of(system, nodes),
        gpus=len(fabric.gpus),
        racks=_racks(catalog, system, nodes, rack_power_w),
        nics=dict(nics),
        switches=switches,
        cables=runs,
        management_ports=management_ports,
        warnings=warnings,
    )
