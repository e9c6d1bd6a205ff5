"""The schedule builder: one training iteration as a trace of compute and collective events.

For every pipeline rank, in the order its schedule runs them (:mod:`.schedule`), each pass (one
chunk's forward or backward for one micro-batch) becomes:

* **compute** on the stage's rank group (durations from :mod:`.stage_compute`), split where
  communication hides behind part of it: the GEMMs under the tensor-parallel collectives that
  run beside them (the backward's asynchronous ones always, the others with TP overlap;
  :mod:`.tensor_parallel`), the attention core under the context-parallel ring, the whole pass
  under the expert-parallel all-to-alls with ``moe_a2a_overlap``;
* the **TP, CP and EP collectives** of the chunk (:mod:`.tensor_parallel`,
  :mod:`.communication`; the calls of one op and size as one line repeated) after the compute
  they do not overlap;
* a **pipeline send** to the rank running the next chunk (the previous one, backward), which
  that rank's pass waits for; the sender goes on (sends overlap compute).

A chunk's first forward is cut into gradient buckets
(:func:`.data_parallel.bucket_parameters`): bucket ``i`` of its layers waits for the all-gather
of bucket ``i`` of the weights (ZeRO 1-3, issued at the start, ahead of forward). Its last
backward is cut the same way and each bucket's reduce-scatter (all-reduce with ZeRO 0) starts
when the backward has produced it; with ZeRO-3 its first backward waits for a second gather. The
calls of one data-parallel group run one after
another, as on one NCCL communicator. Each rank's optimizer step follows its last
reduce-scatter. The step time is the trace's makespan.

Ranks, groups and classes of identical replicas come from :class:`~.trace_layout.StepLayout`:
each line describes one class's pipeline, and its copies cover the class's other blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from interconnect_sim.training.communication import (
    Collective,
    cp_collectives,
    ep_collectives,
    pp_send,
)
from interconnect_sim.training.data_parallel import chunk_bucket_count
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.schedule import Pass, Schedule, rank_passes
from interconnect_sim.training.stage_compute import ChunkCompute
from interconnect_sim.training.tensor_parallel import hidden_in_pass, pass_gemm_s, tp_collectives
from interconnect_sim.training.trace_layout import StepLayout
from interconnect_sim.workload.events import TraceCall, TraceCompute, TraceEvent

__all__ = ["StepTrace", "build_step_trace", "whole_bytes"]

_GROUP_SIZE = {"tp": "tp", "cp": "cp", "ep": "ep", "etp": "expert_tp", "pp": "pp"}


def whole_bytes(size: float) -> float:
    """A call's size as whole bytes (a trace line carries integers), at least one."""
    return float(max(1, round(size)))


@dataclass
class StepTrace:
    """A step's events and where each runs.

    ``lanes`` maps an event id to ``(class, stage)``; the data-parallel collectives, shared by
    every class, have class ``-1``.
    """

    events: list[TraceEvent]
    layout: StepLayout
    schedule: Schedule
    lanes: dict[str, tuple[int, int]] = field(default_factory=dict)


def _whole_calls(collectives: Sequence[Collective]) -> list[tuple[Collective, int]]:
    """Counts as whole calls, the fractions handed out so that the total is kept."""
    total = round(sum(c.count for c in collectives))
    counts = [math.floor(c.count + 1e-9) for c in collectives]
    order = sorted(range(len(counts)), key=lambda i: counts[i] - collectives[i].count)
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    return [(c, n) for c, n in zip(collectives, counts, strict=True) if n > 0]


@dataclass(frozen=True, slots=True)
class _Pass:
    """What one pass is made of: compute segments with the calls they hide, calls after."""

    segments: tuple[tuple[float, tuple[Collective, ...]], ...]
    tail: tuple[Collective, ...]

    @property
    def seconds(self) -> float:
        return sum(s for s, _ in self.segments)

    @property
    def hidden(self) -> tuple[Collective, ...]:
        return tuple(c for _, calls in self.segments for c in calls)


class _Builder:
    def __init__(
        self,
        model: ModelConfig,
        layout: StepLayout,
        chunks: list[list[Chunk]],
        compute: list[list[ChunkCompute]],
        optimizer_s: Sequence[float],
        schedule: Schedule,
    ) -> None:
        self.model = model
        self.p = layout.parallel
        self.layout = layout
        self.chunks = chunks
        self.compute = compute
        self.optimizer_s = optimizer_s
        self.trace = StepTrace([], layout, schedule)
        p = self.p
        self.orders = [rank_passes(p.pp, p.vpp, p.microbatches, r, schedule) for r in range(p.pp)]
        self.lane = (0, 0)
        self.gates: dict[tuple[int, int, bool], list[list[str]]] = {}  # (rank, v, backward)
        self.pieces: dict[tuple[int, int, int], list[str]] = {}  # (class, rank, v)
        self.stream_end: dict[tuple[int, int], str] = {}
        self.dp_last: dict[tuple[int, str], list[str]] = {}  # (rank, kind): last DP call
        self._shapes: dict[tuple[int, int, bool], _Pass] = {}
        self._last_send: dict[tuple[int, int], str] = {}  # (class, rank): its last PP send
        self._buckets: dict[tuple[int, int], int] = {}

    # -- emitting ----------------------------------------------------------------------------

    def add(self, event: TraceEvent) -> str:
        self.trace.events.append(event)
        self.trace.lanes[event.id] = self.lane
        return event.id

    def group_size(self, kind: str) -> int:
        p = self.p
        return int(p.expert_dp if kind == "edp" else getattr(p, _GROUP_SIZE.get(kind, kind)))

    def compute_event(self, id_: str, seconds: float, after: Sequence[str], tag: str) -> str:
        klass, stage = self.lane
        base = self.layout.base(klass, stage)
        return self.add(
            TraceCompute(
                id=id_,
                duration_s=seconds * self.layout.slowdown(klass, stage),
                ranks=tuple(base + r for r in self.layout.group("stage")),
                copies=self.layout.copies("stage", klass),
                after=tuple(dict.fromkeys(after)),
                start_s=None if after else 0.0,
                tag=tag,
            )
        )

    def chain(self, id_: str, collectives: Sequence[Collective], after: Sequence[str]) -> list[str]:
        """Calls one after another on the class's groups; the ids to wait for after them."""
        last = list(after)
        klass, stage = self.lane
        base = self.layout.base(klass, stage)
        live = [c for c in collectives if self.group_size(c.kind) > 1 and c.size_bytes > 0]
        for number, (c, count) in enumerate(_whole_calls(live)):
            call = TraceCall(
                id=f"{id_}.{c.kind}{number}",
                op=c.op,
                size_bytes=whole_bytes(c.size_bytes),
                ranks=tuple(base + r for r in self.layout.group(c.kind)),
                copies=self.layout.copies(c.kind, klass),
                p2p_comm="pairs" if c.kind == "cp" else "group",
                repeat=count,
                after=tuple(dict.fromkeys(last)),
                start_s=None if last else 0.0,
                tag=c.kind,
            )
            last = [self.add(call)]
        return last

    # -- passes ------------------------------------------------------------------------------

    def shape(self, rank: int, x: Pass) -> _Pass:
        """Compute segments and their hidden calls, and the calls left after them."""
        key = (rank, x.virtual, x.backward)
        if key not in self._shapes:
            self._shapes[key] = self._shape(rank, x)
        return self._shapes[key]

    def _shape(self, rank: int, x: Pass) -> _Pass:
        p, part = self.p, self.compute[rank][x.virtual]
        chunk = self.chunks[rank][x.virtual]
        side = "backward" if x.backward else "forward"
        calls = getattr(tp_collectives(self.model, p, chunk), side)
        tp_hidden = tuple(c for c in calls if hidden_in_pass(c, p))
        tp = tuple(c for c in calls if not hidden_in_pass(c, p))
        cp = tuple(getattr(cp_collectives(self.model, p, chunk), side))
        ep = tuple(getattr(ep_collectives(self.model, p, chunk), side))
        total = part.backward_s if x.backward else part.forward_s
        if p.moe_a2a_overlap:
            return _Pass(((total, tp_hidden + cp + ep),), tp)
        scale = total / part.forward_s if part.forward_s else 0.0
        gemm, attention = pass_gemm_s(part, backward=x.backward), part.attention_s * scale
        segments = (
            (gemm, tp_hidden),
            (attention, cp),
            (max(0.0, total - gemm - attention), ()),
        )
        merged: list[tuple[float, tuple[Collective, ...]]] = []
        for seconds, calls in segments:  # neighbours without hidden calls run as one event
            if merged and not calls and not merged[-1][1]:
                merged[-1] = (merged[-1][0] + seconds, ())
            elif seconds > 0 or calls:
                merged.append((seconds, calls))
        return _Pass(tuple(merged), tp + ep)

    def one_pass(self, rank: int, x: Pass, after: list[str]) -> str:
        """Emit a pass; return the id its successors wait for."""
        klass, _ = self.lane
        name = f"c{klass}.s{rank}.{x.label}"
        shape = self.shape(rank, x)
        tag = "backward" if x.backward else "forward"
        gates = self.gates.get((rank, x.virtual, x.backward), []) if x.microbatch == 0 else []
        if not gates and self._is_last_backward(x) and self.bucket_count(rank, x.virtual) > 1:
            gates = [[] for _ in range(self.bucket_count(rank, x.virtual))]
        if gates:  # cut into buckets: calls it hides run beside the pieces
            hidden = self.chain(f"{name}.h", shape.hidden, after)
            start, pieces = list(after), []
            for i, waits in enumerate(gates):
                piece = self.compute_event(
                    f"{name}.b{i}", shape.seconds / len(gates), [*start, *waits], tag
                )
                pieces.append(piece)
                start = [piece]
            self.pieces[(klass, rank, x.virtual)] = pieces
            start = [*start, *hidden]
        else:
            start = list(after)
            for number, (seconds, calls) in enumerate(shape.segments):
                hidden = self.chain(f"{name}.h{number}", calls, start)
                done = self.compute_event(f"{name}.{number}", seconds, start, tag)
                start = [done, *(h for h in hidden if h not in start)]
        if self._is_last_backward(x) and (klass, rank, x.virtual) not in self.pieces:
            self.pieces[(klass, rank, x.virtual)] = [start[0]]
        end = self.chain(f"{name}.x", shape.tail, start)
        if len(end) > 1:
            end = [self.compute_event(f"{name}.end", 0.0, end, tag)]
        return end[0]

    def _is_last_backward(self, x: Pass) -> bool:
        return x.backward and x.microbatch == self.p.microbatches - 1

    def bucket_count(self, rank: int, virtual: int) -> int:
        """Gradient buckets of one chunk (:func:`.data_parallel.chunk_bucket_count`)."""
        if (rank, virtual) not in self._buckets:
            chunk = self.chunks[rank][virtual]
            self._buckets[(rank, virtual)] = chunk_bucket_count(self.model, self.p, chunk)
        return self._buckets[(rank, virtual)]

    def send(self, rank: int, x: Pass, after: str) -> None:
        """The pipeline send of a pass's output to the rank running the next chunk; a rank's
        sends run in the order it issues them, as kernels on one NCCL communicator do."""
        p = self.p
        g = x.virtual * p.pp + rank
        target = g - 1 if x.backward else g + 1
        if p.pp == 1 or not 0 <= target < p.pp * p.vpp:
            return
        klass, _ = self.lane
        other = target % p.pp
        ranks = sorted((self.layout.base(klass, rank), self.layout.base(klass, other)))
        c = pp_send(self.model, p)
        previous = self._last_send.get((klass, rank))
        self._last_send[(klass, rank)] = self.add(
            TraceCall(
                id=f"c{klass}.s{rank}.{x.label}.pp",
                op=c.op,
                size_bytes=whole_bytes(c.size_bytes),
                ranks=tuple(ranks),
                copies=self.layout.copies("pp", klass),
                comm_size=p.pp if p.pp > 2 else 0,
                after=(after,) if previous is None else (after, previous),
                tag="pp",
            )
        )

    def _input(self, klass: int, rank: int, x: Pass) -> list[str]:
        """The send this pass waits for (its input or its output gradient)."""
        p = self.p
        g = x.virtual * p.pp + rank
        source = g + 1 if x.backward else g - 1
        if p.pp == 1 or not 0 <= source < p.pp * p.vpp:
            return []
        label = Pass(x.backward, x.microbatch, source // p.pp).label
        return [f"c{klass}.s{source % p.pp}.{label}.pp"]

    def pipeline(self, klass: int) -> None:
        for rank, order in enumerate(self.orders):
            self.lane = (klass, rank)
            last: list[str] = []
            for x in order:
                end = self.one_pass(rank, x, [*last, *self._input(klass, rank, x)])
                self.send(rank, x, end)
                last = [end]
            self.stream_end[(klass, rank)] = last[0]


def build_step_trace(
    model: ModelConfig,
    layout: StepLayout,
    chunks: list[list[Chunk]],
    compute: list[list[ChunkCompute]],
    optimizer_s: Sequence[float],
    schedule: Schedule,
) -> StepTrace:
    """The iteration's events (see the module doc).

    Parameters
    ----------
    model : ModelConfig
        The model.
    layout : StepLayout
        Parallel layout, stragglers and classes.
    chunks, compute : list of list
        Per pipeline rank and virtual stage: the chunk (:func:`~.pipeline.stage_chunks`) and
        its compute per micro-batch (:func:`~.stage_compute.chunk_compute`).
    optimizer_s : sequence of float
        Seconds of each pipeline rank's optimizer step.
    schedule : str
        ``1f1b``, ``interleaved`` or ``gpipe``.
    """
    from interconnect_sim.training.step_sync import gather_ahead, reduce_after

    builder = _Builder(model, layout, chunks, compute, optimizer_s, schedule)
    gather_ahead(builder)
    for klass in range(len(layout.classes)):
        builder.pipeline(klass)
    reduce_after(builder)
    return builder.trace
