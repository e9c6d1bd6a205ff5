"""Scale-out routes: which NIC each GPU uses, and how traffic between NICs crosses the fat tree.

Each GPU drives its nearest NIC(s), NCCL's PIX/PXB preference: a GPU's share is
``max(1, NICs per node // GPUs per node)`` (32 EFA devices give 4 per GPU); with fewer NICs than
GPUs (DGX-1, p4d) each NIC serves its nearest GPU. Between two NICs traffic follows every
equal-cost path through the switches, split evenly (ECMP). Routes are computed between *leaf
switches* and cached, so a ring over thousands of nodes, whose neighbours mostly share a leaf,
costs a handful of route computations, each looking only at the two leaves' neighbourhoods.
"""

from __future__ import annotations

import itertools
from collections import deque
from functools import cache

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from interconnect_sim.collectives.paths import Edge, Flow, add_flow
from interconnect_sim.errors import TopologyError
from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import TIER, Fabric
from interconnect_sim.topology.structure import (
    LocalFlow,
    NodeSharing,
    node_prefix,
    sharing_enabled,
    to_local,
    to_node,
)
from interconnect_sim.topology.switch_routes import RouteParts, SwitchRoutes, enumerated_split

__all__ = ["NetworkRoutes", "attach_point"]


def attach_point(fabric: Fabric, device: str) -> str:
    """The PCIe switch or CPU a device hangs off."""
    for neighbour in fabric.graph.successors(device):
        if fabric.kind(neighbour) in ("pcie_switch", "cpu"):
            return str(neighbour)
    raise TopologyError(f"{device} is not attached to a PCIe switch or CPU")


_PCIE_KINDS = frozenset({"gpu", "nic", "pcie_switch", "cpu"})
_SWITCH_KINDS = frozenset({"leaf", "spine", "core"})
_PCIE_TIERS = frozenset({"pcie", "host"})


def _pcie_bfs(
    fabric: Fabric, source: str, *, reverse: bool = False, cutoff: int = 8
) -> dict[str, str | None]:
    """Breadth-first parents over PCIe/host edges from ``source`` (a node's tree is small, so
    this never touches the rest of a large fabric)."""
    graph = fabric.graph
    adjacency = graph.pred if reverse else graph.succ
    parents: dict[str, str | None] = {source: None}
    depth = {source: 0}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if depth[node] >= cutoff:
            continue
        for neighbour, data in adjacency[node].items():
            if (
                neighbour not in parents
                and data[TIER] in _PCIE_TIERS
                and graph.nodes[neighbour]["kind"] in _PCIE_KINDS
            ):
                parents[neighbour] = node
                depth[neighbour] = depth[node] + 1
                queue.append(neighbour)
    return parents


def _distances(parents: dict[str, str | None]) -> dict[str, int]:
    distance: dict[str, int] = {}
    for node in parents:
        steps, cursor = 0, parents[node]
        while cursor is not None:
            steps, cursor = steps + 1, parents[cursor]
        distance[node] = steps
    return distance


class _SwitchNeighbours(dict[str, list[str]]):
    """Neighbours of each network switch among the switches (found on first use)."""

    def __init__(self, fabric: Fabric, *, reverse: bool) -> None:
        super().__init__()
        # the plain dicts: the public views cost a wrapper per lookup
        self._adjacency = fabric.graph._pred if reverse else fabric.graph._succ
        self._nodes = fabric.graph._node

    def __missing__(self, switch: str) -> list[str]:
        nodes = self._nodes
        found = [n for n in self._adjacency[switch] if nodes[n]["kind"] in _SWITCH_KINDS]
        self[switch] = found
        return found


class NetworkRoutes:
    """NIC choice and cached NIC-to-NIC routes on one fabric (:meth:`of` shares one per fabric).

    What happens inside a node (which NIC a GPU drives, its PCIe path there) is worked out once
    per kind of node and renamed (:class:`~interconnect_sim.topology.structure.NodeSharing`);
    routes between leaves are found by meeting in the middle, once per pair of neighbour sets
    (:class:`~interconnect_sim.topology.switch_routes.SwitchRoutes`), or with sharing off by
    listing every shortest path.
    """

    @classmethod
    def of(cls, fabric: Fabric) -> NetworkRoutes:
        """The shared instance for ``fabric``."""
        return fabric.derived("network_routes", lambda: cls(fabric))

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.sharing = NodeSharing.of(fabric)
        self._up = _SwitchNeighbours(fabric, reverse=False)
        self._down = _SwitchNeighbours(fabric, reverse=True)
        self._routes = SwitchRoutes(self._up, self._down, self._switch_graph)
        self._leaves: dict[str, str] = {}

    def _devices(self, node: int, kind: str) -> list[str]:
        graph = self.fabric.graph
        return [d for d in self.fabric.devices_of_node(node) if graph.nodes[d]["kind"] == kind]

    def has_nics(self, node: int) -> bool:
        """Whether system ``node`` has NICs."""
        return bool(self._nics(node))

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _nics(self, node: int) -> list[str]:
        return self._devices(node, "nic")

    def nic_pairs(self, gpus: list[str], node: int) -> list[tuple[str, str]]:
        """(GPU, NIC) pairs the communicator's GPUs on ``node`` use."""
        template = self.sharing.template(node)
        prefix = node_prefix(node)
        if template is not None and template != node and all(g.startswith(prefix) for g in gpus):
            cut = len(prefix)
            local = self._template_pairs(template, tuple(g[cut:] for g in gpus))
            names = self.sharing.names(node)
            return [(names[gpu], names[nic]) for gpu, nic in local]
        return self._chosen_pairs(gpus, node)

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _template_pairs(self, template: int, gpus: tuple[str, ...]) -> list[tuple[str, str]]:
        prefix = node_prefix(template)
        cut = len(prefix)
        pairs = self._chosen_pairs([prefix + g for g in gpus], template)
        return [(gpu[cut:], nic[cut:]) for gpu, nic in pairs]

    def _chosen_pairs(self, gpus: list[str], node: int) -> list[tuple[str, str]]:
        nics = self._nics(node)
        if not nics:
            return []
        all_gpus = self._devices(node, "gpu")
        chosen: list[tuple[str, str]] = []
        if len(nics) < len(all_gpus):
            for nic in nics:
                distance = self._distance_from(nic, reverse=True)
                owner = min(all_gpus, key=lambda g: (distance.get(g, 99), all_gpus.index(g)))
                if owner in gpus:
                    chosen.append((owner, nic))
            return chosen or [(gpus[0], nics[0])]
        per_gpu = len(nics) // len(all_gpus)
        for gpu in gpus:
            distance = self._distance_from(gpu)
            taken = {nic for _, nic in chosen}
            # Among equally near NICs prefer the one at the GPU's own position (GPU i <-> NIC i
            # when counts match), so GPUs of one PCIe switch do not pile onto one NIC.
            home = all_gpus.index(gpu) * per_gpu
            ranked = sorted(
                (n for n in nics if n not in taken),
                key=lambda n: (distance.get(n, 99), abs(nics.index(n) - home), nics.index(n)),
            )
            chosen.extend((gpu, nic) for nic in ranked[:per_gpu])
        return chosen

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _parents(self, source: str, *, reverse: bool = False) -> dict[str, str | None]:
        return _pcie_bfs(self.fabric, source, reverse=reverse)

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _distance_from(self, source: str, *, reverse: bool = False) -> dict[str, int]:
        return _distances(self._parents(source, reverse=reverse))

    def leaf_of(self, nic: str) -> str:
        """The leaf switch a NIC is cabled to."""
        if nic not in self._leaves:
            nodes = self.fabric.graph._node
            for neighbour in self.fabric.graph._succ[nic]:
                if nodes[neighbour]["kind"] == "leaf":
                    self._leaves[nic] = str(neighbour)
                    break
            else:
                raise TopologyError(f"{nic} is not cabled to a leaf switch")
        return self._leaves[nic]

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def leaf_route(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """One unit of traffic between two distinct leaf switches, split over every shortest
        path."""
        if sharing_enabled():
            return self._routes.split(src, dst)
        return tuple(enumerated_split(self._switch_graph(), src, dst).items())

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def leaf_route_numbers(
        self, src: str, dst: str
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """:meth:`leaf_route` as edge numbers and shares (the middle of the route, shared by
        every pair of leaves alike, numbered once)."""
        parts = self._routes.parts(src, dst) if sharing_enabled() else None
        numbers = EdgeNumbers.of(self.fabric)
        if parts is None:
            route = self.leaf_route(src, dst)
            shares = np.fromiter((share for _, share in route), dtype=float, count=len(route))
            return numbers.numbers([edge for edge, _ in route]), shares
        middle, shares = self._numbered_middle(parts)
        index = numbers.index
        first = [index[(src, s)] for s in parts.first]
        last = [index[(t, dst)] for t in parts.last]
        return np.concatenate((np.array(first, dtype=np.int64), middle, last)), shares

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _numbered_middle(self, parts: RouteParts) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        numbers = EdgeNumbers.of(self.fabric).numbers([edge for edge, _ in parts.middle])
        shares = (*parts.first_shares, *(share for _, share in parts.middle), *parts.last_shares)
        return numbers, np.array(shares, dtype=float)

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _switch_graph(self) -> nx.DiGraph:
        """The network between the switches as a graph (what a whole-network search needs)."""
        switches = [n for n, k in self.fabric.graph.nodes(data="kind") if k in _SWITCH_KINDS]
        graph = nx.DiGraph()
        graph.add_nodes_from(switches)
        graph.add_edges_from((s, t) for s in switches for t in self._up[s])
        return graph

    def nic_to_nic(self, src: str, dst: str) -> Flow:
        """One unit of traffic from NIC ``src`` to NIC ``dst``."""
        leaf_a, leaf_b = self.leaf_of(src), self.leaf_of(dst)
        flow: Flow = {(src, leaf_a): 1.0, (leaf_b, dst): 1.0}
        if leaf_a != leaf_b:
            add_flow(flow, self.leaf_route(leaf_a, leaf_b))
        return flow

    def uniform_flow(self, nic_pairs: tuple[tuple[tuple[str, str], ...], ...]) -> Flow:
        """Every node sends equally to every other node, rail by rail (an all-to-all).

        One unit = each NIC sends one byte/s, spread evenly over the other nodes' NICs of its
        rail, and receives as much. Traffic is aggregated per leaf pair, so the cost grows with
        leaves, not nodes squared.
        """
        nodes = len(nic_pairs)
        flow: Flow = {}
        if nodes < 2:
            return flow
        rails = min(len(pairs) for pairs in nic_pairs)
        for rail in range(rails):
            by_leaf: dict[str, int] = {}
            for pairs in nic_pairs:
                gpu, nic = pairs[rail]
                leaf = self.leaf_of(nic)
                by_leaf[leaf] = by_leaf.get(leaf, 0) + 1
                add_flow(flow, {(nic, leaf): 1.0, (leaf, nic): 1.0})
                add_flow(flow, self.gpu_to_nic(gpu, nic))
                add_flow(flow, self.gpu_to_nic(nic, gpu))
            for leaf_a, count_a in by_leaf.items():
                for leaf_b, count_b in by_leaf.items():
                    if leaf_a != leaf_b:
                        add_flow(
                            flow,
                            self.leaf_route(leaf_a, leaf_b),
                            count_a * count_b / (nodes - 1),
                        )
        return flow

    def gpu_to_nic(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """PCIe hops from a GPU to a NIC, or from a NIC to a GPU, as (edge, crossings)."""
        node = self.sharing.node_of(src)
        prefix = "" if node is None else node_prefix(node)
        template = None if node is None else self.sharing.template(node)
        if template is not None and template != node and dst.startswith(prefix):
            local = self._template_hops(template, src[len(prefix) :], dst[len(prefix) :])
            if local is not None and node is not None:
                return to_node(local, self.sharing.names(node))
        return self._pcie_hops(src, dst)

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _template_hops(self, template: int, src: str, dst: str) -> LocalFlow | None:
        prefix = node_prefix(template)
        return to_local(self._pcie_hops(prefix + src, prefix + dst), prefix)

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _pcie_hops(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        parents = self._parents(src)
        if dst not in parents:
            raise TopologyError(f"no PCIe path from {src} to {dst}")
        path = [dst]
        while (parent := parents[path[-1]]) is not None:
            path.append(parent)
        return tuple((edge, 1.0) for edge in itertools.pairwise(reversed(path)))
