"""Rings staged through host memory (NCCL's SHM transport): why two directions fall below half.

With peer-to-peer off, NCCL connects the GPUs of a node through its SHM transport
(``src/transport/shm.cc``): each connection is a buffer in pinned host memory, the sender's SMs
store into it over PCIe and the receiver's SMs *load* from it over PCIe (NCCL 2.30 has no copy
engine path for SHM; the buffer sits on the receiver's side, ``NCCL_SHM_LOCALITY`` = 2). Every
byte therefore crosses PCIe twice, up into host memory and down out of it, and the graph's
host-staged ring rate already counts both crossings (two GPUs under one PCIe switch share its
uplink in each direction: half the uplink each).

What the graph cannot see is *when* a rank reads and writes. NCCL's ring kernels run each chunk
of a channel through a fixed sequence of primitives (``src/device/all_gather.h``,
``reduce_scatter.h``, ``all_reduce.h``): all-gather ``send``, ``n-2`` x ``recvCopySend``,
``recv``; all-reduce ``send``, ``n-2`` x ``recvReduceSend``, ``recvReduceCopySend``, ``n-2`` x
``recvCopySend``, ``recv``. A primitive occupies all the channel's threads until its chunk is
done. With peer-to-peer the first ``send`` writes over the link and the last ``recv`` reads the
GPU's own memory, so only the link matters and the ring runs at the link rate. Through host
memory the last ``recv`` is a PCIe read as well: one chunk is written with nothing read
(``send``), one is read with nothing written (``recv``), and only the steps between move both
ways at once. Every rank and every channel starts together with equal work and advances at the
same rate, so they stay in phase: while they all write, the downward links are idle, and the
other way round.

Per chunk of ``c`` bytes the links are then busy for ``c/x`` (send) ``+ k c/x`` (the ``k``
two-way steps) ``+ c/x`` (recv) while a rank moves ``(k+1) c`` bytes each way, at the two-way
rate ``x``: the ring reaches ``(k+1)/(k+2)`` of ``x``. That is ``(n-1)/n`` for all-gather and
reduce-scatter and ``2(n-1)/(2n-1)`` for all-reduce: 1/2 and 2/3 on two GPUs, where the
measured 2x RTX 2080 Ti box shows 3.3 and 4.0 GB/s against 11.1 GB/s for broadcast and reduce.
Broadcast and reduce are pipelined chains (the root only sends, the last rank only receives,
the others forward), so every rank's links stay busy and nothing changes for them;
point-to-point kernels (all-to-all, sendrecv) send and receive on separate warps at once.

Assumptions: channels stay in phase (nothing in NCCL desynchronises them; a partial drift would
land between this and the two-way rate), and the pure phases run at the two-way rate (the write
and the read each alone would not be faster on a link the other GPU loads the same way).
"""

from __future__ import annotations

from interconnect_sim.collectives.ops import CollectiveOp

__all__ = ["host_phase_factor"]


def host_phase_factor(op: CollectiveOp, rank_count: int) -> float:
    """Fraction of the two-way host-staged ring rate a ring ``op`` reaches on ``rank_count``
    ranks (1 for ops whose ranks never alternate between sending and receiving)."""
    n = rank_count
    if n < 2:
        return 1.0
    if op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER):
        return (n - 1) / n
    if op is CollectiveOp.ALL_REDUCE:
        return 2.0 * (n - 1) / (2.0 * n - 1.0)
    return 1.0
