"""Scale-out routes: which NIC each GPU uses, and how traffic between NICs crosses the fat tree.

Each GPU drives its nearest NIC(s), NCCL's PIX/PXB preference: a GPU's share is
``max(1, NICs per node // GPUs per node)`` (32 EFA devices give 4 per GPU); with fewer NICs than
GPUs (DGX-1, p4d) each NIC serves its nearest GPU. Between two NICs traffic follows every
equal-cost path through the switches, split evenly (ECMP). Routes are computed between *leaf
switches* and cached, so a ring over thousands of nodes, whose neighbours mostly share a leaf,
costs a handful of path searches.
"""

from __future__ import annotations

import itertools
from collections import deque
from functools import cache

import networkx as nx

from interconnect_sim.collectives.paths import Edge, Flow, add_flow
from interconnect_sim.errors import TopologyError
from interconnect_sim.topology.fabric import TIER, Fabric

__all__ = ["NetworkRoutes", "attach_point"]


def attach_point(fabric: Fabric, device: str) -> str:
    """The PCIe switch or CPU a device hangs off."""
    for neighbour in fabric.graph.successors(device):
        if fabric.kind(neighbour) in ("pcie_switch", "cpu"):
            return str(neighbour)
    raise TopologyError(f"{device} is not attached to a PCIe switch or CPU")


_PCIE_KINDS = frozenset({"gpu", "nic", "pcie_switch", "cpu"})
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


class NetworkRoutes:
    """NIC choice and cached NIC-to-NIC routes on one fabric (:meth:`of` shares one per fabric)."""

    @classmethod
    def of(cls, fabric: Fabric) -> NetworkRoutes:
        """The shared instance for ``fabric``."""
        return fabric.derived("network_routes", lambda: cls(fabric))

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        graph = fabric.graph
        self._nics: dict[int, list[str]] = {}
        self._gpus: dict[int, list[str]] = {}
        for node, data in graph.nodes(data=True):
            if data["kind"] == "nic":
                self._nics.setdefault(int(data["node"]), []).append(node)
            elif data["kind"] == "gpu":
                self._gpus.setdefault(int(data["node"]), []).append(node)
        switches = [n for n, k in graph.nodes(data="kind") if k in ("leaf", "spine", "core")]
        self._switches = nx.DiGraph()  # a concrete copy: path searches on a view are O(fabric)
        self._switches.add_nodes_from(switches)
        self._switches.add_edges_from(graph.subgraph(switches).edges)

    def has_nics(self, node: int) -> bool:
        """Whether system ``node`` has NICs."""
        return bool(self._nics.get(node))

    def nic_pairs(self, gpus: list[str], node: int) -> list[tuple[str, str]]:
        """(GPU, NIC) pairs the communicator's GPUs on ``node`` use."""
        nics = self._nics.get(node, [])
        if not nics:
            return []
        all_gpus = self._gpus[node]
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
        for neighbour in self.fabric.graph.successors(nic):
            if self.fabric.kind(neighbour) == "leaf":
                return str(neighbour)
        raise TopologyError(f"{nic} is not cabled to a leaf switch")

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def _leaf_to_leaf(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        routes = [list(p) for p in nx.all_shortest_paths(self._switches, src, dst)]
        flow: Flow = {}
        for route in routes:
            add_flow(flow, dict.fromkeys(itertools.pairwise(route), 1.0), 1.0 / len(routes))
        return tuple(flow.items())

    def leaf_route(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """One unit of traffic from leaf ``src`` to leaf ``dst``, split evenly over every
        shortest path (ECMP); empty when they are the same leaf."""
        return () if src == dst else self._leaf_to_leaf(src, dst)

    def nic_to_nic(self, src: str, dst: str) -> Flow:
        """One unit of traffic from NIC ``src`` to NIC ``dst``."""
        leaf_a, leaf_b = self.leaf_of(src), self.leaf_of(dst)
        flow: Flow = {(src, leaf_a): 1.0, (leaf_b, dst): 1.0}
        if leaf_a != leaf_b:
            add_flow(flow, self._leaf_to_leaf(leaf_a, leaf_b))
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
                            self._leaf_to_leaf(leaf_a, leaf_b),
                            count_a * count_b / (nodes - 1),
                        )
        return flow

    @cache  # noqa: B019 - one NetworkRoutes per fabric, kept with it
    def gpu_to_nic(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """PCIe hops from a GPU to a NIC, or from a NIC to a GPU, as (edge, crossings)."""
        parents = self._parents(src)
        if dst not in parents:
            raise TopologyError(f"no PCIe path from {src} to {dst}")
        path = [dst]
        while (parent := parents[path[-1]]) is not None:
            path.append(parent)
        return tuple((edge, 1.0) for edge in itertools.pairwise(reversed(path)))
