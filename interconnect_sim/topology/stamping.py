"""Many identical systems, built once and stamped: how a 65,536-GPU fabric builds in seconds.

The first system of a cluster is built by the ordinary builders
(:func:`~interconnect_sim.topology.node.add_system`); every other one is a copy of its devices
and links under its own ``n<k>/`` prefix, written straight into the graph. The copies' links
share one read-only attribute dict per link of the template
(:class:`~interconnect_sim.topology.fabric.SharedEdgeData`), so 8,192 DGX nodes hold one set of
link attributes, not 8,192. The result is the same graph, device for device and link for link,
as building every system with :func:`~interconnect_sim.topology.node.add_system` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from interconnect_sim.errors import TopologyError
from interconnect_sim.topology.fabric import Fabric, SharedEdgeData
from interconnect_sim.topology.hosts import NodePorts
from interconnect_sim.topology.structure import node_prefix

__all__ = ["NodeTemplate", "validate_copies"]

Neighbours = tuple[str, tuple[str, ...], tuple[SharedEdgeData, ...]]
"""A device, its neighbours on one side and the attributes of those links."""


@dataclass(frozen=True, slots=True)
class NodeTemplate:
    """One built system, in ids without their ``n<k>/`` prefix, ready to be stamped.

    Attributes
    ----------
    devices : tuple of (str, dict)
        Each device's local id and attributes, in the order they were added.
    successors, predecessors : tuple of (str, tuple of str, tuple of SharedEdgeData)
        Each device, its out- (in-) neighbours and those links' attributes, in the graph's order
        (so a stamped system lists its neighbours exactly as a built one would).
    ports : NodePorts
        The template's GPUs and NICs (local ids) and the NICs' rails.
    gpu_count : int
        GPUs per system (ranks are ``node x gpu_count + local_rank``).
    """

    devices: tuple[tuple[str, dict[str, Any]], ...]
    successors: tuple[Neighbours, ...]
    predecessors: tuple[Neighbours, ...]
    ports: NodePorts
    gpu_count: int

    @classmethod
    def capture(cls, fabric: Fabric, ports: NodePorts) -> NodeTemplate:
        """The system just built as node ``ports.index`` of ``fabric``; its links are given
        shared, read-only attribute dicts in the fabric too."""
        graph = fabric.graph
        prefix = node_prefix(ports.index)
        cut = len(prefix)
        members = [d for d, node in graph.nodes(data="node") if node == ports.index]
        if any(not d.startswith(prefix) for d in members):
            raise TopologyError(f"node {ports.index}: device ids must start with {prefix!r}")
        inside = set(members)
        succ, pred = graph._succ, graph._pred
        for u in members:
            for v, data in list(succ[u].items()):
                if v not in inside:
                    raise TopologyError(f"{u} -> {v}: a system's links must stay inside it")
                shared = data if isinstance(data, SharedEdgeData) else SharedEdgeData(data)
                succ[u][v] = shared
                pred[v][u] = shared
        successors = tuple(
            (u[cut:], tuple(v[cut:] for v in succ[u]), tuple(succ[u].values())) for u in members
        )
        predecessors = tuple(
            (v[cut:], tuple(u[cut:] for u in pred[v]), tuple(pred[v].values())) for v in members
        )
        local = NodePorts(
            index=-1,
            gpus=[g[cut:] for g in ports.gpus],
            nics=[n[cut:] for n in ports.nics],
            nic_rails=list(ports.nic_rails),
            nic_total=ports.nic_total,
        )
        devices = tuple((d[cut:], dict(graph.nodes[d])) for d in members)
        gpu_count = sum(1 for _, attributes in devices if attributes["kind"] == "gpu")
        return cls(devices, successors, predecessors, local, gpu_count)

    def stamp(self, fabric: Fabric, index: int) -> NodePorts:
        """Add a copy of the template as node ``index``; its GPUs and NICs for wiring."""
        graph = fabric.graph
        prefix = node_prefix(index)
        node_attributes, succ, pred = graph._node, graph._succ, graph._pred
        names = {local: prefix + local for local, _ in self.devices}
        for local, attributes in self.devices:
            name = names[local]
            if name in node_attributes:
                raise TopologyError(f"node {name!r} added twice")
            copied = dict(attributes)
            copied["node"] = index
            if "rank" in copied:
                copied["rank"] = index * self.gpu_count + int(copied["local_rank"])
            node_attributes[name] = copied
        rename = names.__getitem__
        for u, ends, datas in self.successors:
            succ[names[u]] = dict(zip(map(rename, ends), datas, strict=True))
        for v, ends, datas in self.predecessors:
            pred[names[v]] = dict(zip(map(rename, ends), datas, strict=True))
        nx._clear_cache(graph)
        fabric.forget_derived()
        ports = self.ports
        return NodePorts(
            index=index,
            gpus=[prefix + g for g in ports.gpus],
            nics=[prefix + n for n in ports.nics],
            nic_rails=list(ports.nic_rails),
            nic_total=ports.nic_total,
        )


def validate_copies(fabric: Fabric, node_count: int) -> None:
    """:meth:`Fabric.validate` for a fabric whose nodes ``1..`` are stamped copies of node 0.

    The copies' inner links are node 0's (checked once), so what is left to walk is node 0, every
    link of the network (each touches a switch), and connectivity over whole nodes: node 0
    reaches all its own devices, and the network joins every node and switch. Falls back to the
    full check when node 0 does not hold together by itself.
    """
    graph = fabric.graph
    succ = graph._succ
    first = set(fabric.devices_of_node(0))
    outside = [n for n, attributes in graph._node.items() if "node" not in attributes]
    if not first or not _connected_within(succ, first):
        fabric.validate()
        return
    checked: set[int] = set()
    joined: dict[str, list[int | str]] = {}  # switch -> the nodes and switches it links
    nodes = graph._node
    for devices in (first, outside):
        for u in devices:
            for v, data in succ[u].items():
                if u not in succ[v]:
                    raise TopologyError(f"fabric {fabric.name!r}: edge {u} -> {v} has no reverse")
                if id(data) not in checked:
                    fabric._check_edge(u, v, data)
                    if isinstance(data, SharedEdgeData):
                        checked.add(id(data))
            if devices is outside:
                joined[u] = [v if (n := nodes[v].get("node")) is None else n for v in succ[u]]
    _check_joined(fabric, joined, node_count, len(outside))


def _connected_within(succ: dict[str, dict[str, Any]], devices: set[str]) -> bool:
    start = next(iter(devices))
    reached = {start}
    frontier = [start]
    while frontier:
        new = [n for d in frontier for n in succ[d] if n in devices and n not in reached]
        reached.update(new)
        frontier = list(dict.fromkeys(new))
    return len(reached) == len(devices)


def _check_joined(
    fabric: Fabric, joined: dict[str, list[int | str]], node_count: int, switches: int
) -> None:
    """Every node and switch reachable over whole nodes and the network."""
    by_node: dict[int | str, list[int | str]] = dict(joined.items())
    for switch, ends in joined.items():
        for end in ends:
            if not isinstance(end, str):
                by_node.setdefault(end, []).append(switch)
    reached: set[int | str] = {0}
    frontier: list[int | str] = [0]
    while frontier:
        new = [n for v in frontier for n in by_node.get(v, ()) if n not in reached]
        reached.update(new)
        frontier = list(dict.fromkeys(new))
    if len(reached) != node_count + switches:
        fabric.validate()  # names the device cut off
        raise TopologyError(f"fabric {fabric.name!r} is not connected")
