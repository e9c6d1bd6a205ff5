"""The cost of one (algorithm, protocol): ``time(S) = latency + S / bandwidth``, refined by size.

NCCL's own form (``ncclTopoGetAlgoTime``) with its size-dependent refinements: Tree's mid-size
bandwidth correction, the multi-node ring's latency plateau, and the pipeline fill of NVLS and
NVLSTree (:mod:`interconnect_sim.collectives.algorithms` builds the costs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["AlgorithmCost"]


@dataclass(frozen=True, slots=True)
class AlgorithmCost:
    """``time = latency + size / bandwidth`` and what limits the bandwidth.

    ``link_algbw_bytes_per_s`` is what the links allow with the protocol's overhead;
    ``algbw_bytes_per_s`` adds NCCL's per-channel limits (never more than the links). The
    optional size refinements: ``bandwidth_correction[i]`` scales the bandwidth at sizes
    ``64 B x 2**i`` (NCCL's Tree correction), and from ``plateau_from_bytes`` on the latency is
    ``plateau_factor`` times larger (NCCL's multi-node ring plateau). A chunked pipeline of
    ``fill_stages + 1`` stages (NVLS, NVLSTree) adds ``fill_stages`` rounds to fill: a round moves
    ``round`` bytes (every CTA one chunk per head), ``fill_rounds`` = ``(from_bytes, round)``
    pairs in increasing size, as NCCL's chunk size grows with the message.
    """

    algorithm: str
    protocol: str
    latency_s: float
    algbw_bytes_per_s: float
    bottleneck: str
    link_algbw_bytes_per_s: float = math.inf
    bandwidth_correction: tuple[float, ...] = ()
    plateau_factor: float = 1.0
    plateau_from_bytes: float = math.inf
    fill_stages: int = 0
    fill_rounds: tuple[tuple[float, float], ...] = ()

    def algbw_at(self, sizes_bytes: ArrayLike) -> NDArray[np.float64]:
        """Algorithm bandwidth at each size (bytes/s)."""
        sizes = np.atleast_1d(np.asarray(sizes_bytes, dtype=float))
        rate = np.full(sizes.shape, self.algbw_bytes_per_s)
        if self.bandwidth_correction:
            index = np.floor(np.log2(np.maximum(sizes, 1.0) / 64.0)).astype(int)
            table = np.asarray(self.bandwidth_correction)
            inside = (index >= 0) & (index < table.size)
            rate[inside] *= table[index[inside]]
        return rate

    def times_s(self, sizes_bytes: ArrayLike) -> NDArray[np.float64]:
        """Time of one call at each size (s)."""
        sizes = np.atleast_1d(np.asarray(sizes_bytes, dtype=float))
        latency = np.where(
            sizes >= self.plateau_from_bytes, self.latency_s * self.plateau_factor, self.latency_s
        )
        rate = self.algbw_at(sizes)
        # A zero rate is NCCL's own model saying "never" (NVLS with one head per node:
        # 2 eff (h - 1) / (h + 1) = 0): the call takes forever and the tuner's minimum skips it.
        with np.errstate(divide="ignore"):
            result: NDArray[np.float64] = latency + sizes / rate
            if self.fill_stages and self.fill_rounds:
                starts = np.array([start for start, _ in self.fill_rounds])
                rounds = np.array([size for _, size in self.fill_rounds])
                index = np.clip(np.searchsorted(starts, sizes, side="right") - 1, 0, None)
                result = result + self.fill_stages * np.minimum(rounds[index], sizes) / rate
        return result
