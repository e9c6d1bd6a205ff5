"""Data-parallel gradient and weight synchronisation of one pipeline rank, in buckets.

Megatron-Core's distributed data parallel (``DistributedDataParallel`` with its default
``bucket_size``) groups each model chunk's gradients into buckets of
``max(40M, 1M x dp)`` parameters (:func:`bucket_parameters`) and issues one collective per
bucket: each reduce-scatter (all-reduce with ZeRO 0) as soon as the last backward has produced
its bucket, each all-gather of updated weights ahead of the forward piece that needs it. The
step's timeline (:mod:`.step_trace`) issues exactly these calls; the closed form here times the
same calls on an idle fabric and overlaps them the same way:

* ``n`` buckets of all-gather, ``g`` seconds each (``G = n g``), ahead of a forward of ``f``
  seconds cut into ``n`` pieces, each waiting for its bucket: the pass ends
  ``max(g, G - f (n - 1) / n)`` after it would have alone, the first bucket always exposed;
* the same for the reduce-scatters behind the last backward of ``b`` seconds, mirrored: the last
  bucket is always exposed.

A bucket is timed at its own size: a large data-parallel group's buckets are large
(1 B parameters at dp 1,024), a small one's many and latency-bound, which timing all gradients as
one call would hide. ZeRO-3 gathers again before backward and hides all three behind the whole
step's compute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from interconnect_sim.training.communication import (
    Collective,
    CollectiveTimer,
    dp_collectives,
    rank_weights,
)
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk

__all__ = ["DataParallelSync", "bucket_parameters", "chunk_bucket_count", "dp_sync"]


@dataclass(frozen=True, slots=True)
class DataParallelSync:
    """Gradient and parameter synchronisation of one pipeline rank per step (seconds)."""

    total_s: float
    exposed_s: float
    optimizer_s: float


def bucket_parameters(data_parallel: int) -> float:
    """Megatron-Core's default gradient bucket: ``max(40M, 1M x dp)`` parameters
    (``DistributedDataParallel`` with ``bucket_size=None``)."""
    return max(40e6, 1e6 * data_parallel)


def chunk_bucket_count(model: ModelConfig, parallel: ParallelConfig, chunk: Chunk) -> int:
    """Gradient buckets of one model chunk: its weights over the bucket size of each group
    (dense over DP, experts over expert-DP), the larger count, at least one."""
    weights = rank_weights(model, parallel, [chunk])
    counts = [1]
    for params, group in zip(weights, (parallel.dp * parallel.cp, parallel.expert_dp), strict=True):
        if params > 0 and group > 1:
            counts.append(math.ceil(params / bucket_parameters(group)))
    return max(counts)


def _bucketed_s(
    calls: tuple[Collective, ...], kind: str, buckets: int, timer: CollectiveTimer
) -> float:
    """Seconds of one chunk's calls of ``kind``, each cut into ``buckets`` calls."""
    return sum(
        replace(c, size_bytes=c.size_bytes / buckets, count=c.count * buckets).time(timer)
        for c in calls
        if c.kind == kind
    )


def _pipelined_exposed(total_s: float, buckets: int, compute_s: float) -> float:
    """Exposed seconds of ``buckets`` serial calls of ``total_s`` in all, overlapped with a pass
    of ``compute_s`` cut into as many pieces (see module doc)."""
    if total_s <= 0.0:
        return 0.0
    return max(total_s / buckets, total_s - compute_s * (buckets - 1) / buckets)


def dp_sync(
    timer: CollectiveTimer,
    model: ModelConfig,
    parallel: ParallelConfig,
    chunks: list[Chunk],
    forward_s: float,
    backward_s: float,
    memory_bytes_per_s: float,
) -> DataParallelSync:
    """Data-parallel gradient sync and the optimizer step of the rank holding ``chunks``.

    Parameters
    ----------
    timer : CollectiveTimer
        Times one collective of a group kind on the fabric.
    forward_s, backward_s : float
        One micro-batch's forward and backward on this rank (all its chunks), seconds: the
        gathers overlap the first forward, the reduce-scatters the last backward.
    memory_bytes_per_s : float
        HBM bandwidth for the optimizer step's traffic.
    """
    p = parallel
    per_chunk = [(dp_collectives(model, p, [c]), chunk_bucket_count(model, p, c)) for c in chunks]
    buckets = sum(n for _, n in per_chunk)
    total = exposed = 0.0
    for kind in ("dp", "edp"):
        gather, again, reduce = (
            sum(_bucketed_s(getattr(sync, phase), kind, n, timer) for sync, n in per_chunk)
            for phase in ("before_forward", "before_backward", "after_backward")
        )
        total += gather + again + reduce
        if p.zero_stage == 3:
            exposed += max(0.0, gather + again + reduce - p.microbatches * (forward_s + backward_s))
        else:
            exposed += _pipelined_exposed(reduce, buckets, backward_s)
            exposed += _pipelined_exposed(gather, buckets, forward_s)
    optimizer_bytes = sum(sync.optimizer_bytes for sync, _ in per_chunk)
    return DataParallelSync(total, exposed, optimizer_bytes / memory_bytes_per_s)
