"""Max-min fair rates of flows on capacitated links, by progressive filling (numpy).

A *flow* here may stand for many identical transfers moving in lock-step (every hop of a pipelined
ring channel, every GPU of an NVLS group): it has one rate, and crosses each link a given number of
times per byte of progress (its *incidence*, possibly fractional when it is split over parallel
paths, and scaled by 1 / efficiency). Link ``e`` is feasible when
``sum_f rate_f * incidence[f, e] <= capacity[e]``.

Progressive filling raises every unfrozen flow's rate together until some link saturates or some
flow reaches its own rate cap, freezes the flows concerned, and repeats: at most one round per
flow. Incidences are stored sparsely
(edge indices and weights per flow), so the work is proportional to the non-zeros, not to
flows x links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Incidence", "max_min_rates"]

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Incidence:
    """Links a flow crosses: ``edges[i]`` is crossed ``weights[i]`` times per byte; the flow
    never runs faster than ``rate_cap`` (bytes/s of progress) whatever the links allow."""

    edges: NDArray[np.int64]
    weights: NDArray[np.float64]
    rate_cap: float = math.inf

    def __post_init__(self) -> None:
        if self.edges.shape != self.weights.shape:
            raise ValueError("edges and weights must have the same shape")
        if np.any(self.weights < 0):
            raise ValueError("incidence weights must be non-negative")
        if not self.rate_cap > 0:
            raise ValueError("a rate cap must be positive")


def max_min_rates(
    capacity: NDArray[np.float64], flows: list[Incidence]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Max-min fair rates.

    Parameters
    ----------
    capacity : ndarray
        Capacity of each link (bytes/s, one direction), shape (links,).
    flows : list of Incidence
        One incidence per flow; a flow with no edges runs at its rate cap (``inf`` if none).

    Returns
    -------
    rates : ndarray
        Rate of each flow (bytes/s of progress).
    bottleneck : ndarray
        For each flow, the link that froze it (-1 if unconstrained, -2 if its own rate cap).

    Examples
    --------
    >>> import numpy as np
    >>> one = Incidence(np.array([0]), np.array([1.0]))
    >>> rates, _ = max_min_rates(np.array([10.0]), [one, one])
    >>> rates.tolist()
    [5.0, 5.0]
    """
    count = len(flows)
    rates = np.zeros(count)
    bottleneck = np.full(count, -1, dtype=np.int64)
    if count == 0:
        return rates, bottleneck
    caps = np.array([f.rate_cap for f in flows])
    lengths = np.array([f.edges.size for f in flows])
    owner = np.repeat(np.arange(count), lengths)
    if lengths.sum():
        # only the links the flows cross take part: number them 0..k-1 (no sort: a mark per
        # link of the fabric, then a lookup)
        flat = np.concatenate([f.edges for f in flows])
        mark = np.zeros(capacity.size, dtype=bool)
        mark[flat] = True
        used = np.flatnonzero(mark)
        lookup = np.empty(capacity.size, dtype=np.int64)
        lookup[used] = np.arange(used.size)
        edges = lookup[flat]
        weights = np.concatenate([f.weights for f in flows])
    else:
        used, edges, weights = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    local = _fill(np.asarray(capacity, dtype=float)[used], caps, owner, edges, weights, rates)
    bottleneck[local >= 0] = used[local[local >= 0]]
    bottleneck[local == -2] = -2
    return rates, bottleneck


def _fill(
    capacity: NDArray[np.float64],
    caps: NDArray[np.float64],
    owner: NDArray[np.int64],
    edges: NDArray[np.int64],
    weights: NDArray[np.float64],
    rates: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Progressive filling on links numbered ``0..len(capacity)-1``; fills ``rates`` in place
    and returns each flow's bottleneck (local link, -1 none, -2 own cap)."""
    count = rates.size
    bottleneck = np.full(count, -1, dtype=np.int64)
    active = np.bincount(owner, minlength=count) > 0
    rates[~active] = caps[~active]
    residual = capacity.copy()
    while active.any():
        live = active[owner] & (weights > 0)
        demand = np.bincount(edges[live], weights=weights[live], minlength=capacity.size)
        loaded = demand > _EPS
        headroom = np.full(capacity.size, np.inf)
        headroom[loaded] = residual[loaded] / demand[loaded]
        cap_room = np.where(active, caps - rates, np.inf)
        step = float(min(headroom.min(initial=np.inf), cap_room.min()))
        if not math.isfinite(step):
            rates[active] = np.inf
            break
        rates[active] += step
        residual -= step * demand
        capped = active & (cap_room <= step * (1 + 1e-9) + _EPS)
        saturated = loaded & (headroom <= step * (1 + 1e-9) + _EPS)
        newly = capped.copy()
        newly[owner[saturated[edges] & live]] = True
        # each newly link-frozen flow's bottleneck: its first saturated link (entries are grouped
        # by owner in flow order, so the first entry of each owner's run is that link)
        hits = np.flatnonzero(saturated[edges] & (newly & ~capped)[owner])
        owners = owner[hits]  # non-decreasing: the first hit of each owner starts a run
        first = np.flatnonzero(np.diff(owners, prepend=-1))
        bottleneck[owners[first]] = edges[hits[first]]
        bottleneck[capped] = -2
        active &= ~newly
    return bottleneck
