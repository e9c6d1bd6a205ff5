"""The data-parallel part of a step trace: parameter gathers ahead of forward, gradient
reduce-scatters as backward produces the buckets, and the optimizer step.

Every stage has one data-parallel communicator per kind (``dp`` for dense weights, ``edp`` for
routed experts), shared by all classes of replicas: its calls run one after another in the order
the schedule needs them (gathers in the order of each chunk's first forward, reduce-scatters in
the order of each chunk's last backward), and a reduce-scatter waits for its bucket's backward
piece in every class. See :mod:`.step_trace`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interconnect_sim.training.communication import Collective, dp_collectives
from interconnect_sim.training.step_trace import whole_bytes
from interconnect_sim.workload.events import TraceCall

if TYPE_CHECKING:
    from interconnect_sim.training.step_trace import _Builder

__all__ = ["gather_ahead", "reduce_after"]


def _first_passes(builder: _Builder, rank: int, backward: bool, last: bool) -> list[int]:
    """Virtual stages in the order of their first (or last) pass of one direction."""
    order = [x.virtual for x in builder.orders[rank] if x.backward == backward]
    if last:
        order = order[::-1]
    return list(dict.fromkeys(order))[:: -1 if last else 1]


def _call(builder: _Builder, rank: int, c: Collective, share: int, id_: str) -> TraceCall:
    ranks, copies = builder.layout.data_parallel(c.kind, rank)
    after = tuple(builder.dp_last.get((rank, c.kind), ()))
    return TraceCall(
        id=id_,
        op=c.op,
        size_bytes=whole_bytes(c.size_bytes / share),
        ranks=ranks,
        copies=copies,
        after=after,
        start_s=None if after else 0.0,
        tag=c.kind,
    )


def _gathers(builder: _Builder, rank: int, backward: bool) -> None:
    for virtual in _first_passes(builder, rank, backward, last=False):
        sync = dp_collectives(builder.model, builder.p, [builder.chunks[rank][virtual]])
        calls = sync.before_backward if backward else sync.before_forward
        count = builder.bucket_count(rank, virtual)
        gates: list[list[str]] = [[] for _ in range(count)]
        for c in calls:
            if builder.group_size(c.kind) < 2:
                continue
            for i in range(count):
                name = f"s{rank}.v{virtual}.{c.kind}-{'bag' if backward else 'ag'}{i}"
                call = _call(builder, rank, c, count, name)
                builder.dp_last[(rank, c.kind)] = [builder.add(call)]
                gates[i].append(name)
        if any(gates):
            builder.gates[(rank, virtual, backward)] = gates


def gather_ahead(builder: _Builder) -> None:
    """Parameter all-gathers (ZeRO 1-3) that forward (and ZeRO-3's backward) wait for."""
    for rank in range(builder.p.pp):
        builder.lane = (-1, rank)
        _gathers(builder, rank, backward=False)
        _gathers(builder, rank, backward=True)


def reduce_after(builder: _Builder) -> None:
    """Gradient reduce-scatters (all-reduces) per bucket, then each class's optimizer step."""
    classes = range(len(builder.layout.classes))
    for rank in range(builder.p.pp):
        builder.lane = (-1, rank)
        for virtual in _first_passes(builder, rank, backward=True, last=True):
            sync = dp_collectives(builder.model, builder.p, [builder.chunks[rank][virtual]])
            count = builder.bucket_count(rank, virtual)
            for i in range(count):
                produced = [builder.pieces[(k, rank, virtual)][i] for k in classes]
                for c in sync.after_backward:
                    if builder.group_size(c.kind) < 2:
                        continue
                    key = (rank, c.kind)
                    builder.dp_last[key] = [*builder.dp_last.get(key, []), *produced]
                    name = f"s{rank}.v{virtual}.{c.kind}-rs{i}"
                    builder.dp_last[key] = [builder.add(_call(builder, rank, c, count, name))]
        synced = [ids for (r, _), ids in builder.dp_last.items() if r == rank]
        for klass in classes:
            builder.lane = (klass, rank)
            after = [builder.stream_end[(klass, rank)], *(i for ids in synced for i in ids)]
            builder.compute_event(
                f"c{klass}.s{rank}.optimizer", builder.optimizer_s[rank], after, "optimizer"
            )
