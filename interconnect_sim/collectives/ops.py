"""Collective operations with nccl-tests' size conventions and bus-bandwidth factors.

nccl-tests reports, for a collective of ``size`` bytes on ``n`` ranks taking ``t`` seconds,
``algbw = size / t`` and ``busbw = algbw x factor`` with (``doc/PERFORMANCE.md``):

========================  ==========================================  ================
op                        ``size`` is                                 busbw factor
========================  ==========================================  ================
all_reduce                the per-rank buffer                         2(n-1)/n
all_gather                the whole gathered output (n x per-rank)    (n-1)/n
reduce_scatter            the whole input (n x per-rank output)       (n-1)/n
alltoall                  the per-rank send buffer (n x per-peer)     (n-1)/n
broadcast, reduce         the buffer                                  1
sendrecv                  the buffer each rank sends                  1
========================  ==========================================  ================

The factor makes busbw comparable with a link's per-direction bandwidth for ring-like algorithms;
for Tree, NVLS and CollNet it is a flat-fabric equivalent and may exceed any wire rate.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from interconnect_sim.errors import ScenarioError

__all__ = ["CollectiveOp", "algbw_bytes_per_s", "busbw_bytes_per_s", "busbw_factor", "parse_op"]


class CollectiveOp(StrEnum):
    """The collectives nccl-tests measures (closed set)."""

    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALLTOALL = "alltoall"
    BROADCAST = "broadcast"
    REDUCE = "reduce"
    SENDRECV = "sendrecv"


def parse_op(text: str) -> CollectiveOp:
    """An op from its nccl-tests name (``all_reduce``, ``allreduce``, ``all_reduce_perf`` ...)."""
    key = text.strip().lower().removesuffix("_perf").replace("-", "_")
    aliases = {
        "allreduce": "all_reduce",
        "allgather": "all_gather",
        "reducescatter": "reduce_scatter",
        "all_to_all": "alltoall",
    }
    key = aliases.get(key, key)
    try:
        return CollectiveOp(key)
    except ValueError:
        valid = ", ".join(op.value for op in CollectiveOp)
        raise ScenarioError(f"unknown collective {text!r}; one of {valid}") from None


def busbw_factor(op: CollectiveOp, rank_count: int) -> float:
    """nccl-tests' bus-bandwidth factor for ``op`` on ``rank_count`` ranks.

    Examples
    --------
    >>> busbw_factor(CollectiveOp.ALL_REDUCE, 8)
    1.75
    >>> busbw_factor(CollectiveOp.ALL_GATHER, 8)
    0.875
    """
    n = rank_count
    if op is CollectiveOp.ALL_REDUCE:
        return 2.0 * (n - 1) / n
    if op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER, CollectiveOp.ALLTOALL):
        return (n - 1) / n
    return 1.0


def algbw_bytes_per_s(size_bytes: ArrayLike, time_s: ArrayLike) -> NDArray[np.float64]:
    """Algorithm bandwidth, ``size / time``, bytes per second."""
    result: NDArray[np.float64] = np.asarray(size_bytes, dtype=float) / np.asarray(
        time_s, dtype=float
    )
    return result


def busbw_bytes_per_s(
    op: CollectiveOp, rank_count: int, size_bytes: ArrayLike, time_s: ArrayLike
) -> NDArray[np.float64]:
    """nccl-tests bus bandwidth, bytes per second."""
    return algbw_bytes_per_s(size_bytes, time_s) * busbw_factor(op, rank_count)
