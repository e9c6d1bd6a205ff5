"""Rings that use every link of a uniform full mesh (AMD Infinity Fabric, Gaudi's RoCE mesh).

On 8 GPUs with one equal link to each peer, a greedy ring search stops at 6 rings: three
undirected Hamiltonian cycles, each run both ways, leave a perfect matching unused. The complete
directed graph on 8 vertices does split into 7 edge-disjoint directed Hamiltonian cycles
(Tillson, 1980; true for every n except 4 and 6), which is what several rings over the mesh can
reach, so on such meshes we search for that decomposition directly: a depth-first exact cover
over the candidate rings, as bit masks of directed links, found in well under a millisecond.
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
    """Ring orders using every directed link of a uniform full mesh once, and the link rate.

    Returns None when ``gpus`` are not a uniform full mesh of 3 to 8 GPUs, or when no such
    decomposition exists (4 and 6 GPUs): the caller then searches rings greedily.
    """
    if not 3 <= len(gpus) <= _MAX_GPUS or not paths.fabric.p2p:
        return None
    rate = _uniform_direct_links(paths, gpus)
    if rate is None:
        return None
    bit = {edge: 1 << k for k, edge in enumerate(itertools.permutations(gpus, 2))}
    orders = [(gpus[0], *perm) for perm in itertools.permutations(gpus[1:])]
    masks = [sum(bit[e] for e in _hops(order)) for order in orders]
    by_link = {b: [i for i, m in enumerate(masks) if m & b] for b in bit.values()}
    full = sum(bit.values())

    def cover(used: int) -> list[int] | None:
        if used == full:
            return []
        lowest = (~used & (used + 1)).bit_length() - 1
        for i in by_link[1 << lowest]:
            if not masks[i] & used:
                rest = cover(used | masks[i])
                if rest is not None:
                    return [i, *rest]
        return None

    chosen = cover(0)
    return None if chosen is None else (rate, [orders[i] for i in chosen])


def _hops(order: tuple[str, ...]) -> list[Edge]:
    return list(zip(order, order[1:] + order[:1], strict=True))
