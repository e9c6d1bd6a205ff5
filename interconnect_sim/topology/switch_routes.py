"""Equal-cost routes between switches of a scale-out network, without a whole-graph search.

Traffic between two leaf switches follows every shortest path between them, split evenly over
the paths (ECMP). On a fat tree the shortest paths are at most four hops long (leaf, spine, core,
spine, leaf), so :func:`shortest_path_split` looks at most two hops out from each end: a
breadth-first search from the source and one backwards from the destination, each counting the
shortest paths to every node it reaches, meet in the middle. The share of the traffic on an edge
``u -> v`` of a shortest path is ``paths(a -> u) x paths(v -> b) / paths(a -> b)``, which is
exactly what enumerating every shortest path and splitting evenly gives, at the cost of the two
neighbourhoods instead of the whole network. Longer routes (a degraded network where the only
way round is down and up again) fall back to enumerating the paths with networkx.

Nothing here knows the tree's layout, so failed links and switches are routed as they are.

:class:`SwitchRoutes` adds the tree's symmetry without knowing the tree either: the shortest
paths from ``a`` to ``b`` (two or more hops apart) are ``a``, then a shortest path from one of
``a``'s out-neighbours to one of ``b``'s in-neighbours, then ``b``; such a middle path never
passes through ``a`` or ``b``, nor through another switch with the same out- (in-) neighbours
as ``a`` (``b``), since that would make a shorter route. So every pair of switches with the same
neighbour sets as an earlier pair has that pair's split with the two ends renamed: all leaves of
a pod, or of a two-level tree, share one computation per destination pod.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from interconnect_sim.errors import TopologyError

__all__ = ["RouteParts", "SwitchRoutes", "enumerated_split", "shortest_path_split"]

Adjacency = Mapping[str, Sequence[str]]
Edge = tuple[str, str]

_REACH = 2
"""Hops searched from each end: routes up to ``2 x _REACH`` hops are found by meeting."""


def _layers(adjacency: Adjacency, start: str) -> tuple[dict[str, int], dict[str, int]]:
    """Hop distance and number of shortest paths from ``start`` to every node within reach."""
    distance = {start: 0}
    paths = {start: 1}
    frontier = [start]
    for depth in range(1, _REACH + 1):
        reached: dict[str, int] = {}
        for node in frontier:
            count = paths[node]
            for neighbour in adjacency[node]:
                if neighbour not in distance:
                    reached[neighbour] = reached.get(neighbour, 0) + count
        for node in reached:
            distance[node] = depth
        paths.update(reached)
        frontier = list(reached)
    return distance, paths


def shortest_path_split(
    successors: Adjacency,
    predecessors: Adjacency,
    src: str,
    dst: str,
    whole: Callable[[], nx.DiGraph] | None = None,
) -> dict[Edge, float]:
    """Fraction of one unit of ``src -> dst`` traffic on each edge, split evenly over all
    shortest paths.

    Parameters
    ----------
    successors, predecessors : mapping of str to sequence of str
        Out- and in-neighbours of every switch (the network between the switches only).
    src, dst : str
        Distinct switches.
    whole : callable, optional
        Returns the whole switch network as a graph, for routes longer than four hops (default:
        built from ``successors``).

    Returns
    -------
    dict of (str, str) to float
        Edges of the shortest paths and the share of the traffic crossing each (the number of
        shortest paths through the edge over their total), ordered by hop, then by name.

    Raises
    ------
    TopologyError
        If ``dst`` cannot be reached from ``src``.

    Examples
    --------
    >>> up = {"a": ["s0", "s1"], "s0": ["a", "b"], "s1": ["a", "b"], "b": ["s0", "s1"]}
    >>> shortest_path_split(up, up, "a", "b")
    {('a', 's0'): 0.5, ('a', 's1'): 0.5, ('s0', 'b'): 0.5, ('s1', 'b'): 0.5}
    """
    from_src, paths_src = _layers(successors, src)
    to_dst, paths_dst = _layers(predecessors, dst)
    meeting = [n for n in from_src if n in to_dst]
    if not meeting:
        return enumerated_split(whole() if whole is not None else _graph(successors), src, dst)
    length = min(from_src[n] + to_dst[n] for n in meeting)
    # Position along the route, and shortest paths from src to the node and from it to dst.
    position = {n: from_src[n] for n in meeting if from_src[n] + to_dst[n] == length}
    before = {n: paths_src[n] for n in position}
    after = {n: paths_dst[n] for n in position}
    # A four-hop route's second node is beyond dst's reach and its fourth beyond src's: count
    # their paths from the neighbours already placed (nearest to the placed ones first).
    for step in range(length - _REACH - 1, -1, -1):
        for node in [n for n, hops in from_src.items() if hops == step]:
            count = sum(after[v] for v in successors[node] if position.get(v) == step + 1)
            if count:
                position[node], before[node], after[node] = step, paths_src[node], count
    for step in range(_REACH + 1, length + 1):
        for node in [n for n, hops in to_dst.items() if length - hops == step]:
            count = sum(before[u] for u in predecessors[node] if position.get(u) == step - 1)
            if count:
                position[node], before[node], after[node] = step, count, paths_dst[node]
    total = before[src] * after[src]
    layers: dict[int, list[str]] = {}
    for node, step in position.items():
        layers.setdefault(step, []).append(node)
    counts: dict[Edge, int] = {}
    for step in range(length):  # the edges between two layers, from the side with fewer
        here, there = layers[step], layers[step + 1]
        if sum(len(successors[u]) for u in here) <= sum(len(predecessors[v]) for v in there):
            for u in here:
                for v in successors[u]:
                    if position.get(v) == step + 1:
                        counts[(u, v)] = before[u] * after[v]
        else:
            for v in there:
                for u in predecessors[v]:
                    if position.get(u) == step:
                        counts[(u, v)] = before[u] * after[v]
    return _ordered(counts, position, total)


def _ordered(counts: dict[Edge, int], position: Mapping[str, int], total: int) -> dict[Edge, float]:
    """Path counts as shares of ``total``, in a canonical order (hop, then names), so that both
    ways of routing list ties alike."""
    edges = sorted(counts, key=lambda e: (position[e[0]], e))
    return {edge: counts[edge] / total for edge in edges}


def _graph(successors: Adjacency) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_edges_from((u, v) for u, vs in successors.items() for v in vs)
    return graph


def enumerated_split(graph: nx.DiGraph, src: str, dst: str) -> dict[Edge, float]:
    """The same split by listing every shortest path in ``graph`` (networkx); the reference for
    :func:`shortest_path_split` and its fallback for routes longer than four hops."""
    try:
        routes = [list(p) for p in nx.all_shortest_paths(graph, src, dst)]
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        raise TopologyError(f"no network route from {src!r} to {dst!r}") from None
    counts: dict[Edge, int] = {}
    position: dict[str, int] = {}
    for route in routes:
        for step, edge in enumerate(itertools.pairwise(route)):
            counts[edge] = counts.get(edge, 0) + 1
            position[edge[0]] = step
    return _ordered(counts, position, len(routes))


@dataclass(frozen=True, slots=True)
class RouteParts:
    """A split between two switches at least two hops apart, in three parts: the edges out of
    the source (to ``first[i]``, share ``first_shares[i]``), the ``middle`` edges, and the
    edges into the destination (from ``last[i]``). Pairs with the same neighbour sets share one
    (see :class:`SwitchRoutes`)."""

    first: tuple[str, ...]
    first_shares: tuple[float, ...]
    middle: tuple[tuple[Edge, float], ...]
    last: tuple[str, ...]
    last_shares: tuple[float, ...]


class SwitchRoutes:
    """Even splits over shortest paths between switches, computed once per pair of neighbour
    sets (see the module notes) and renamed for every pair that shares them.

    Parameters
    ----------
    successors, predecessors : mapping of str to sequence of str
        Out- and in-neighbours of every switch among the switches.
    whole : callable, optional
        The whole switch network as a graph, for routes longer than four hops.
    """

    def __init__(
        self,
        successors: Adjacency,
        predecessors: Adjacency,
        whole: Callable[[], nx.DiGraph] | None = None,
    ) -> None:
        self._successors = successors
        self._predecessors = predecessors
        self._whole = whole
        self._by_neighbours: dict[tuple[frozenset[str], frozenset[str]], RouteParts] = {}
        self._out: dict[str, frozenset[str]] = {}
        self._in: dict[str, frozenset[str]] = {}

    def split(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """Fraction of one unit of ``src -> dst`` traffic on each edge (as
        :func:`shortest_path_split`)."""
        parts = self.parts(src, dst)
        if parts is None:
            return tuple(self._compute(src, dst).items())
        return (
            *(((src, s), share) for s, share in zip(parts.first, parts.first_shares, strict=True)),
            *parts.middle,
            *(((t, dst), share) for t, share in zip(parts.last, parts.last_shares, strict=True)),
        )

    def parts(self, src: str, dst: str) -> RouteParts | None:
        """The split's parts (shared by every pair with the same neighbour sets), or None for
        neighbours and a switch to itself."""
        if src not in self._out:
            self._out[src] = frozenset(self._successors[src])
        if dst not in self._in:
            self._in[dst] = frozenset(self._predecessors[dst])
        out, into = self._out[src], self._in[dst]
        if dst in out or src == dst:
            return None
        key = (out, into)
        if key not in self._by_neighbours:
            split = self._compute(src, dst)
            first = [(v, share) for (u, v), share in split.items() if u == src]
            last = [(u, share) for (u, v), share in split.items() if v == dst]
            middle = tuple(
                (e, share) for e, share in split.items() if src not in e and dst not in e
            )
            self._by_neighbours[key] = RouteParts(
                tuple(v for v, _ in first),
                tuple(share for _, share in first),
                middle,
                tuple(u for u, _ in last),
                tuple(share for _, share in last),
            )
        return self._by_neighbours[key]

    def _compute(self, src: str, dst: str) -> dict[Edge, float]:
        return shortest_path_split(self._successors, self._predecessors, src, dst, self._whole)
