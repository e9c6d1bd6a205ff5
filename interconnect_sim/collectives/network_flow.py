"""The inter-node part of a communicator: every rail's ring over its nodes, as numbered edges.

Node k's NIC of each rail sends to node k+1's (the ring wraps), crossing the NIC's leaf link,
the route between the two leaves (if they differ), and the PCIe hops from the GPU to its NIC and
from the NIC to the next GPU. One unit of the flow is one byte per rail.

:func:`ring_flow` builds it as arrays: the links inside each node are the numbers of a reference
node of its kind shifted by the node's offset (:class:`EdgeNumbers` numbers a stamped node's
links exactly like its kind's), the leaves' links are looked up, the routes come numbered per
pair of leaves. The sums and the first contribution of every edge are those of walking the
ring hop by hop into a dict (:func:`ring_flow_by_hops`, used when the nodes are not laid out
alike and without sharing): route shares are added in hop order, and each edge keeps the
position its first contribution has in that walk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.collectives.network import NetworkRoutes
from interconnect_sim.collectives.paths import Edge, HopPaths, IndexedFlow
from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import BANDWIDTH, TIER, Fabric
from interconnect_sim.topology.structure import NodeSharing, node_prefix, sharing_enabled

__all__ = ["NetworkPart", "network_part", "ring_flow", "ring_flow_by_hops"]

_SLOTS = 1 << 22
"""Positions reserved per hop in the walk's order (a hop's route is far shorter)."""

Pairs = list[list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class NetworkPart:
    """The inter-node part of a communicator.

    Attributes
    ----------
    rate : float
        Aggregate of the rails per node (bytes/s).
    rail_count : int
        Rails the communicator uses.
    limit : (str, str) or None
        The link that limits the rings.
    flow : IndexedFlow or None
        All rails' rings over every node, one unit per rail (None on one node).
    nic_pairs : tuple of tuple of (str, str)
        Per node, the (GPU, NIC) pairs in use.
    """

    rate: float
    rail_count: int
    limit: Edge | None
    flow: IndexedFlow | None
    nic_pairs: tuple[tuple[tuple[str, str], ...], ...]


def network_part(
    fabric: Fabric, catalog: Catalog, routes: NetworkRoutes, gpus_by_node: list[list[str]]
) -> NetworkPart:
    """The rails and rings of a communicator whose GPUs on each node are ``gpus_by_node``."""
    graph = fabric.graph
    pairs = [routes.nic_pairs(gpus, graph.nodes[gpus[0]]["node"]) for gpus in gpus_by_node]
    nic_pairs = tuple(tuple(p) for p in pairs)
    rail_count = min(len(p) for p in pairs)
    if rail_count == 0:
        raise TopologyError(f"{fabric.name}: the communicator's nodes have no NICs")
    if len(gpus_by_node) == 1:
        capacity = HopPaths.of(fabric).capacity
        # the slowest PCIe hop between each GPU and its NIC (a NIC under the other CPU socket
        # is reached across the inter-socket link), capped by the NIC's ports
        rates = [
            min(
                min(capacity[edge] for edge, _ in routes.gpu_to_nic(gpu, nic)),
                port_rate(fabric, catalog, nic),
            )
            for gpu, nic in pairs[0]
        ]
        return NetworkPart(float(sum(rates)), rail_count, None, None, nic_pairs)
    flow = ring_flow(fabric, routes, pairs, rail_count)
    per_rail, limit = flow.bottleneck()
    return NetworkPart(per_rail * rail_count, rail_count, limit, flow, nic_pairs)


def port_rate(fabric: Fabric, catalog: Catalog, nic: str) -> float:
    """A NIC's network rate: its cabled links, or (single node, nothing cabled) its ports."""
    graph = fabric.graph
    network = [d[BANDWIDTH] for _, _, d in graph.out_edges(nic, data=True) if d[TIER] == "network"]
    if network:
        return float(sum(network))
    spec = catalog.nic(str(graph.nodes[nic]["spec"]))
    return catalog.link(spec.port_link).data_rate_per_direction_bytes_per_s * spec.port_count


def ring_flow_by_hops(
    numbers: EdgeNumbers, routes: NetworkRoutes, pairs: Pairs, rail_count: int
) -> IndexedFlow:
    """The rings walked hop by hop, in the order a dict would receive them (the reference)."""
    index = numbers.index
    chunks: list[NDArray[np.int64]] = []
    shares: list[NDArray[np.float64]] = []
    edges: list[int] = []
    weights: list[float] = []

    def flush() -> None:
        chunks.append(np.array(edges, dtype=np.int64))
        shares.append(np.array(weights, dtype=float))
        edges.clear()
        weights.clear()

    nodes = len(pairs)
    for rail in range(rail_count):
        for k in range(nodes):
            gpu_src, src = pairs[k][rail]
            gpu_dst, dst = pairs[(k + 1) % nodes][rail]
            leaf_a, leaf_b = routes.leaf_of(src), routes.leaf_of(dst)
            edges += (index[(src, leaf_a)], index[(leaf_b, dst)])
            weights += (1.0, 1.0)
            if leaf_a != leaf_b:
                flush()
                route, split = routes.leaf_route_numbers(leaf_a, leaf_b)
                chunks.append(route)
                shares.append(split)
            for edge, weight in routes.gpu_to_nic(gpu_src, src):
                edges.append(index[edge])
                weights.append(weight)
            for edge, weight in routes.gpu_to_nic(dst, gpu_dst):
                edges.append(index[edge])
                weights.append(weight)
    flush()
    return IndexedFlow.build(numbers, np.concatenate(chunks), np.concatenate(shares))


@dataclass(frozen=True, slots=True)
class _NodeLinks:
    """One node's links on each rail, as edge numbers."""

    up: NDArray[np.int64]  # (rails,) NIC -> leaf
    down: NDArray[np.int64]  # (rails,) leaf -> NIC
    to_nic: list[NDArray[np.int64]]  # per rail, GPU -> NIC PCIe hops
    from_nic: list[NDArray[np.int64]]  # per rail, NIC -> GPU PCIe hops
    leaves: list[str]  # per rail


def ring_flow(fabric: Fabric, routes: NetworkRoutes, pairs: Pairs, rail_count: int) -> IndexedFlow:
    """Every rail's ring over the nodes (see the module notes), as arrays."""
    numbers = EdgeNumbers.of(fabric)
    try:
        links = (
            _node_links(fabric, numbers, routes, pairs, rail_count) if sharing_enabled() else None
        )
    except TopologyError:
        links = None  # the walk raises it where it meets it
    if links is None:
        return ring_flow_by_hops(numbers, routes, pairs, rail_count)
    m = len(pairs)
    index: list[NDArray[np.int64]] = []
    shares: list[NDArray[np.float64]] = []
    order: list[NDArray[np.int64]] = []
    for rail in range(rail_count):
        hops = rail * m + np.arange(m, dtype=np.int64)
        lengths = np.zeros(m, dtype=np.int64)
        for k in range(m):
            leaf_a, leaf_b = links[k].leaves[rail], links[(k + 1) % m].leaves[rail]
            if leaf_a != leaf_b:
                route, split = routes.leaf_route_numbers(leaf_a, leaf_b)
                index.append(route)
                shares.append(split)
                order.append(hops[k] * _SLOTS + 2 + np.arange(route.size, dtype=np.int64))
                lengths[k] = route.size
        base = hops * _SLOTS
        after = base + 2 + lengths  # where a hop's PCIe hops come in the walk
        nxt = np.roll(np.arange(m), -1)
        up = np.array([links[k].up[rail] for k in range(m)], dtype=np.int64)
        down = np.array([links[k].down[rail] for k in range(m)], dtype=np.int64)
        to_nic = np.stack([links[k].to_nic[rail] for k in range(m)])
        from_nic = np.stack([links[k].from_nic[rail] for k in range(m)])[nxt]
        a, b = to_nic.shape[1], from_nic.shape[1]
        index += [up, down[nxt], to_nic.ravel(), from_nic.ravel()]
        shares += [np.ones(2 * m + to_nic.size + from_nic.size)]
        order += [
            base,
            base + 1,
            (after[:, None] + np.arange(a)).ravel(),
            (after[:, None] + a + np.arange(b)).ravel(),
        ]
    return _build(numbers, np.concatenate(index), np.concatenate(shares), np.concatenate(order))


def _build(
    numbers: EdgeNumbers,
    contributions: NDArray[np.int64],
    weights: NDArray[np.float64],
    order: NDArray[np.int64],
) -> IndexedFlow:
    """Sum contributions whose places in the walk are ``order``: each edge's crossings are all
    of one kind (ones inside nodes and at leaf ports, route shares between switches, the latter
    listed in hop order), so the sums are the walk's; ``first`` is the edge's earliest place."""
    edges, inverse = np.unique(contributions, return_inverse=True)
    total = np.bincount(inverse, weights=weights, minlength=edges.size)
    first = np.full(edges.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, inverse, order)
    return IndexedFlow(numbers, edges, total.astype(float), first)


def _node_links(
    fabric: Fabric, numbers: EdgeNumbers, routes: NetworkRoutes, pairs: Pairs, rail_count: int
) -> list[_NodeLinks] | None:
    """Each node's links by rail, nodes of one kind laid out alike taken from the first of them;
    None when the PCIe hops differ in length between nodes (then walk the ring)."""
    sharing = NodeSharing.of(fabric)
    nodes = [sharing.node_of(p[0][1]) for p in pairs]
    if any(n is None for n in nodes):
        return None
    runs = numbers.node_runs_of([n for n in nodes if n is not None])
    reference: dict[tuple[object, ...], tuple[int, _NodeLinks]] = {}
    result: list[_NodeLinks] = []
    index = numbers.index
    for k, node in enumerate(nodes):
        assert node is not None
        start, count = runs[node]
        cut = len(node_prefix(node))
        local = tuple((gpu[cut:], nic[cut:]) for gpu, nic in pairs[k][:rail_count])
        kind = (sharing.template(node), count, local)
        leaves = [routes.leaf_of(pairs[k][r][1]) for r in range(rail_count)]
        down = np.array(
            [index[(leaves[r], pairs[k][r][1])] for r in range(rail_count)], dtype=np.int64
        )
        if kind[0] is not None and kind in reference:
            first_start, first = reference[kind]
            shift = start - first_start
            result.append(
                _NodeLinks(
                    first.up + shift,
                    down,
                    [hops + shift for hops in first.to_nic],
                    [hops + shift for hops in first.from_nic],
                    leaves,
                )
            )
            continue
        own = _NodeLinks(
            np.array(
                [index[(pairs[k][r][1], leaves[r])] for r in range(rail_count)], dtype=np.int64
            ),
            down,
            [_numbers(index, routes.gpu_to_nic(*pairs[k][r])) for r in range(rail_count)],
            [_numbers(index, routes.gpu_to_nic(*pairs[k][r][::-1])) for r in range(rail_count)],
            leaves,
        )
        reference.setdefault(kind, (start, own))
        result.append(own)
    for rail in range(rail_count):
        if len({n.to_nic[rail].size for n in result}) > 1:
            return None
        if len({n.from_nic[rail].size for n in result}) > 1:
            return None
    return result


def _numbers(index: dict[Edge, int], hops: tuple[tuple[Edge, float], ...]) -> NDArray[np.int64]:
    return np.array([index[edge] for edge, _ in hops], dtype=np.int64)
