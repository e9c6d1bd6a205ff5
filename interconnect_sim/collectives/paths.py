"""How one unit of traffic between two GPUs spreads over a fabric's links.

A *flow* maps directed edges to the fraction of a unit of traffic that crosses them. A hop
between GPUs uses NVLink paths when P2P is on and any exist (split over parallel switch paths in
proportion to their bottleneck capacity, as NVSwitch systems spread traffic over all their
links); otherwise the single routed PCIe or host-staged path of
:func:`~interconnect_sim.topology.routing.gpu_path`.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_SPEC, TIER, Fabric
from interconnect_sim.topology.routing import gpu_path
from interconnect_sim.topology.structure import (
    LocalFlow,
    NodeSharing,
    node_prefix,
    to_local,
    to_node,
)
from interconnect_sim.units import format_rate

__all__ = [
    "Edge",
    "EdgeCapacity",
    "Flow",
    "HopPaths",
    "IndexedFlow",
    "add_flow",
    "bottleneck_rate",
    "describe_edge",
]

Edge = tuple[str, str]
Flow = dict[Edge, float]
"""Crossings per directed edge of one unit of traffic (fractional when split over paths)."""

_NEGLIGIBLE = 1e-6
_NVLINK_KINDS = frozenset({"gpu", "nvswitch"})


def add_flow(total: Flow, part: Flow | tuple[tuple[Edge, float], ...], scale: float = 1.0) -> None:
    """Add ``scale x part`` into ``total`` in place."""
    items = part.items() if isinstance(part, dict) else part
    for edge, weight in items:
        total[edge] = total.get(edge, 0.0) + scale * weight


def bottleneck_rate(flow: Flow, capacity: Mapping[Edge, float]) -> tuple[float, Edge | None]:
    """Largest rate at which ``flow`` fits in ``capacity``, and the edge that limits it."""
    best, limiting = math.inf, None
    for edge, load in flow.items():
        if load > _NEGLIGIBLE:
            rate = capacity[edge] / load
            if rate < best:
                best, limiting = rate, edge
    return (0.0 if best == math.inf else best), limiting


class IndexedFlow:
    """A large flow as numpy arrays over the fabric's edge numbers
    (:class:`~interconnect_sim.topology.edge_numbers.EdgeNumbers`).

    Built from its contributions in the order a :data:`Flow` dict would have received them
    (:meth:`build`), it holds the same sums to the last bit (``np.bincount`` adds in input
    order) and remembers each edge's first contribution, so :meth:`bottleneck` names the same
    limiting edge as :func:`bottleneck_rate` on the dict would.

    Attributes
    ----------
    edges : ndarray of int
        Edge numbers, ascending.
    weights : ndarray
        Crossings of each edge per unit of traffic.
    first : ndarray of int
        Position of each edge's first contribution (its place in the dict's order).
    """

    def __init__(
        self,
        numbers: EdgeNumbers,
        edges: NDArray[np.integer[Any]],
        weights: NDArray[np.float64],
        first: NDArray[np.integer[Any]],
    ) -> None:
        self.numbers = numbers
        self.edges = edges
        self.weights = weights
        self.first = first
        self._flow: Flow | None = None

    @property
    def capacity(self) -> NDArray[np.float64]:
        """Capacity of each edge (bytes/s)."""
        capacity: NDArray[np.float64] = self.numbers.capacity[self.edges]
        return capacity

    @classmethod
    def build(
        cls, numbers: EdgeNumbers, contributions: NDArray[np.int64], weights: NDArray[np.float64]
    ) -> IndexedFlow:
        """Sum contributions (edge numbers and crossings, in the order they arise)."""
        edges, first, inverse = np.unique(contributions, return_index=True, return_inverse=True)
        total = np.bincount(inverse, weights=weights, minlength=edges.size)
        small = np.int32 if len(numbers) < 2**31 and contributions.size < 2**31 else np.int64
        return cls(numbers, edges.astype(small), total.astype(float), first.astype(small))

    @classmethod
    def of_flow(cls, numbers: EdgeNumbers, flow: Flow) -> IndexedFlow:
        """The same flow as arrays."""
        contributions = numbers.numbers(list(flow))
        return cls.build(numbers, contributions, np.fromiter(flow.values(), dtype=float))

    def __len__(self) -> int:
        return int(self.edges.size)

    def position(self, edge: Edge) -> int | None:
        """Index of ``edge`` in the arrays, or None."""
        number = self.numbers.index.get(edge)
        if number is None:
            return None
        i = int(np.searchsorted(self.edges, number))
        return i if i < self.edges.size and self.edges[i] == number else None

    def bottleneck(self, loads: NDArray[np.float64] | None = None) -> tuple[float, Edge | None]:
        """As :func:`bottleneck_rate` with ``loads`` per edge (default the flow's weights)."""
        loads = self.weights if loads is None else loads
        used = loads > _NEGLIGIBLE
        if not used.any():
            return 0.0, None
        rates = np.full(loads.size, np.inf)
        rates[used] = self.numbers.capacity[self.edges[used]] / loads[used]
        best = rates.min()
        ties = np.flatnonzero(rates == best)
        limit = int(ties[np.argmin(self.first[ties])])
        return float(best), self.numbers.edges[int(self.edges[limit])]

    def as_flow(self) -> Flow:
        """The flow as a dict, in the order its edges first arose."""
        if self._flow is None:
            order = np.argsort(self.first, kind="stable")
            names = self.numbers.edges
            self._flow = {names[int(self.edges[i])]: float(self.weights[i]) for i in order.tolist()}
        return self._flow


def describe_edge(fabric: Fabric, edge: Edge | None, label: str = "link") -> str:
    """``link a -> b: 5 x 25 GB/s (nvlink-4)``."""
    if edge is None:
        return "none"
    data = fabric.graph.edges[edge]
    per_link = data["rate_per_link_bytes_per_s"]
    return (
        f"{label} {edge[0]} -> {edge[1]}: {data['link_count']} x {format_rate(per_link)} "
        f"({data[LINK_SPEC]})"
    )


class EdgeCapacity(dict[tuple[str, str], float]):
    """Capacity of each directed edge (bytes/s), read from the graph the first time it is asked
    for, so a large fabric is never copied edge by edge."""

    def __init__(self, fabric: Fabric) -> None:
        super().__init__()
        self._succ = fabric.graph._succ  # the plain dicts: the public views cost a wrapper each

    def __missing__(self, edge: Edge) -> float:
        value = float(self._succ[edge[0]][edge[1]][BANDWIDTH])
        self[edge] = value
        return value


class HopPaths:
    """Cached hop flows on one fabric.

    Use :meth:`of` to get the fabric's shared instance: every communicator analysed on a fabric
    reuses its capacities and the hops already routed. A hop inside a node is routed once per
    kind of node (:class:`~interconnect_sim.topology.structure.NodeSharing`) and renamed.
    """

    @classmethod
    def of(cls, fabric: Fabric) -> HopPaths:
        """The shared instance for ``fabric``."""
        return fabric.derived("hop_paths", lambda: cls(fabric))

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.capacity = EdgeCapacity(fabric)
        self.sharing = NodeSharing.of(fabric)
        self._kinds = fabric.graph.nodes
        self._nvlink: dict[str, list[str]] = {}

    @cache  # noqa: B019 - one HopPaths per fabric, kept and dropped with it
    def hop(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """Edges one unit of ``src -> dst`` traffic crosses, with the fraction on each."""
        node = self.sharing.node_of(src)
        if node is not None and node == self.sharing.node_of(dst):
            template = self.sharing.template(node)
            prefix = node_prefix(node)
            if template is not None and template != node and src.startswith(prefix):
                local = self._template_hop(template, src[len(prefix) :], dst[len(prefix) :])
                if local is not None:
                    return to_node(local, self.sharing.names(node))
        return self._routed(src, dst)

    @cache  # noqa: B019 - one HopPaths per fabric, kept and dropped with it
    def _template_hop(self, template: int, src: str, dst: str) -> LocalFlow | None:
        prefix = node_prefix(template)
        return to_local(self.hop(prefix + src, prefix + dst), prefix)

    def _routed(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        flow: Flow = defaultdict(float)
        paths = self._nvlink_paths(src, dst) if self.fabric.p2p else []
        if paths:
            weights = [self._bottleneck(path) for path in paths]
            total = sum(weights)
            for path, weight in zip(paths, weights, strict=True):
                for edge in itertools.pairwise(path):
                    flow[edge] += weight / total
        else:
            for edge in itertools.pairwise(gpu_path(self.fabric, src, dst)):
                flow[edge] += 1.0
        return tuple(flow.items())

    def _nvlink_successors(self, node: str) -> list[str]:
        """NVLink neighbours of a GPU or NVSwitch (found on first use)."""
        if node not in self._nvlink:
            kinds = self._kinds
            found: list[str] = []
            if kinds[node]["kind"] in _NVLINK_KINDS:
                found = [
                    v
                    for v, data in self.fabric.graph.succ[node].items()
                    if data[TIER] == "nvlink" and kinds[v]["kind"] in _NVLINK_KINDS
                ]
            self._nvlink[node] = found
        return self._nvlink[node]

    def _nvlink_paths(self, src: str, dst: str) -> list[list[str]]:
        """All shortest NVLink paths ``src -> dst`` that pass through no other GPU."""
        if not self._nvlink_successors(src):
            return []
        is_gpu = self._is_gpu
        parents: dict[str, list[str]] = {src: []}
        frontier = [src]
        while frontier and dst not in parents:
            layer: dict[str, list[str]] = {}
            for node in frontier:
                if node != src and is_gpu(node):
                    continue  # GPUs do not forward NVLink traffic
                for successor in self._nvlink_successors(node):
                    if successor in parents or (successor != dst and is_gpu(successor)):
                        continue
                    layer.setdefault(successor, []).append(node)
            parents.update(layer)
            frontier = list(layer)
        if dst not in parents:
            return []
        paths: list[list[str]] = []
        stack: list[tuple[str, list[str]]] = [(dst, [dst])]
        while stack:
            node, suffix = stack.pop()
            if node == src:
                paths.append(suffix[::-1])
            for parent in parents[node]:
                stack.append((parent, [*suffix, parent]))
        return paths

    def _is_gpu(self, node: str) -> bool:
        return bool(self._kinds[node]["kind"] == "gpu")

    def _bottleneck(self, path: list[str]) -> float:
        return min(self.capacity[e] for e in itertools.pairwise(path))

    def ring_flow(self, order: tuple[str, ...], *, closed: bool = True) -> Flow:
        """Crossings per edge of one unit of traffic on every hop of a ring (or open chain)."""
        flow: Flow = {}
        hops = list(zip(order, order[1:] + order[:1], strict=True))
        for src, dst in hops if closed else hops[:-1]:
            add_flow(flow, self.hop(src, dst))
        return flow

    def injection_flow(self, gpus: list[str]) -> Flow:
        """Each GPU's NVLink out- and in-edges, weighted by their share of its NVLink capacity.

        One unit of this flow is one byte per GPU each way through the NVSwitch layer (NVLS).
        """
        graph = self.fabric.graph
        flow: Flow = {}
        for gpu in gpus:
            for edges in (graph.out_edges(gpu), graph.in_edges(gpu)):
                nvlink = [e for e in edges if graph.edges[e][TIER] == "nvlink"]
                total = sum(self.capacity[e] for e in nvlink)
                for edge in nvlink:
                    flow[edge] = flow.get(edge, 0.0) + self.capacity[edge] / total
        return flow
