"""Rings that use every link of a uniform full mesh (AMD Infinity Fabric, Gaudi's RoCE mesh).

On 8 GPUs with one equal link to each peer, a greedy ring search stops at 6 rings: three
undirected Hamiltonian cycles, each run both ways, leave a perfect matching unused. The complete
directed graph on 8 vertices does split into 7 edge-disjoint directed Hamiltonian cycles
(Tillson, 1980; true for every n except 4 and 6), which is what several rings over the mesh can
reach, so on such meshes we search for that decomposition directly: a depth-first exact cover
over the candidate rings. On 4 and 6 GPUs a double cover exists instead (every directed link in
two rings, each at half rate), as NCCL's search finds with two channels per link.
"""

from __future__ import annotations

import itertools

from interconnect_sim.collectives.paths import Edge, HopPaths

__all__ = ["full_mesh_rings"]

_MAX_GPUS = 8


def _uniform_direct_links(paths: HopPaths, gpus: list[str]) -> float | None:
    """The common capacity of the direct links between every ordered GPU pair, if uniform."""
    rates = set()
    for src, dst in itertools.permutations(gpus, 2):
        hop = paths.hop(src, dst)
        if len(hop) != 1 or hop[0][0] != (src, dst):
            return None
        rates.add(paths.capacity[(src, dst)])
    return rates.pop() if len(rates) == 1 else None


def full_mesh_rings(paths: HopPaths, gpus: list[str]) -> tuple[float, list[tuple[str, ...]]] | None:
    """Ring orders using every directed link of a uniform full mesh, and the rate of each ring.

    Every directed link is used once by the rings found, at the link rate; on 4 and 6 GPUs,
    where no such decomposition exists, twice, each ring at half the link rate (all six
    directed rings on 4 GPUs): NCCL's search reaches the same by running two channels per link
    at half speed. Returns None when ``gpus`` are not a uniform full mesh of 3 to 8 GPUs.
    """
    if not 3 <= len(gpus) <= _MAX_GPUS or not paths.fabric.p2p:
        return None
    rate = _uniform_direct_links(paths, gpus)
    if rate is None:
        return None
    arcs = list(itertools.permutations(gpus, 2))
    index = {edge: k for k, edge in enumerate(arcs)}
    orders = [(gpus[0], *perm) for perm in itertools.permutations(gpus[1:])]
    hops = [[index[e] for e in _hops(order)] for order in orders]
    by_link: dict[int, list[int]] = {k: [] for k in range(len(arcs))}
    for i, ring in enumerate(hops):
        for k in ring:
            by_link[k].append(i)
    for times in (1, 2):
        chosen = _cover(hops, by_link, len(arcs), times)
        if chosen is not None:
            return rate / times, [orders[i] for i in chosen]
    return None


def _cover(
    hops: list[list[int]], by_link: dict[int, list[int]], arcs: int, times: int
) -> list[int] | None:
    """Rings (indices into ``hops``) that use every directed link exactly ``times`` times."""
    left = [times] * arcs

    def search(start: int) -> list[int] | None:
        link = next((k for k in range(arcs) if left[k]), None)
        if link is None:
            return []
        for i in by_link[link]:
            if i < start and times > 1:
                continue  # rings in increasing order when a ring may repeat links
            if all(left[k] for k in hops[i]):
                for k in hops[i]:
                    left[k] -= 1
                rest = search(i + 1 if times > 1 else 0)
                for k in hops[i]:
                    left[k] += 1
                if rest is not None:
                    return [i, *rest]
        return None

    return search(0)


def _hops(order: tuple[str, ...]) -> list[Edge]:
    return list(zip(order, order[1:] + order[:1], strict=True))
