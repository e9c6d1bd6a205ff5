"""The events of a trace: collective calls and compute, each on a rank group, possibly copied.

A **collective call** (:class:`TraceCall`) moves bytes between its ranks; a **compute event**
(:class:`TraceCompute`) keeps its ranks busy for a duration. Both wait for their ``after``
dependencies (or start at ``start_s``), so a trace is a dependency graph whose longest path is
the job's time.

**Copies** make a line stand for the same event on several rank groups at once: ``ranks + o``
for every offset ``o`` (``0``, the listed ranks themselves, included). A training step's tensor
parallel groups of one pipeline stage, all data-parallel replicas of a pipeline, are one line
each, which is what keeps a 16,384-GPU step small. The copies run in lock-step: the line ends
when its last copy does (an engine may time identical copies once; see
``docs/design/timeline.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp

__all__ = [
    "TraceCall",
    "TraceCompute",
    "TraceEvent",
    "copies_json",
    "copy_count",
    "copy_offsets",
    "offset_ranges",
]


def copy_offsets(copies: tuple[range, ...]) -> Iterator[int]:
    """Every offset of ``copies`` (``0`` alone when there are none)."""
    if not copies:
        yield 0
        return
    for block in copies:
        yield from block


def copy_count(copies: tuple[range, ...]) -> int:
    """How many copies (1 without copies)."""
    return sum(len(block) for block in copies) if copies else 1


def offset_ranges(offsets: Iterable[int]) -> tuple[range, ...]:
    """Sorted offsets as few strided ranges (runs of equal steps).

    >>> offset_ranges([0, 8, 16, 24, 40, 48])
    (range(0, 25, 8), range(40, 49, 8))
    """
    values = sorted(set(offsets))
    blocks: list[range] = []
    i = 0
    while i < len(values):
        start = values[i]
        if i + 1 == len(values):
            blocks.append(range(start, start + 1))
            break
        step = values[i + 1] - start
        j = i + 1
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        blocks.append(range(start, values[j] + 1, step))
        i = j + 1
    return tuple(blocks)


def copies_json(copies: tuple[range, ...]) -> list[int | str]:
    """``copies`` as trace JSON: ints, ``"a-b"`` or ``"a-b:step"`` strings."""
    items: list[int | str] = []
    for block in copies:
        if len(block) == 1:
            items.append(block.start)
        elif block.step == 1:
            items.append(f"{block.start}-{block[-1]}")
        else:
            items.append(f"{block.start}-{block[-1]}:{block.step}")
    return items


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceCall:
    """One collective call of a trace.

    Attributes
    ----------
    id : str
        Unique name.
    op : CollectiveOp
        The collective.
    size_bytes : float
        nccl-tests size convention for ``op``.
    ranks : tuple of int, optional
        Explicit ranks (rank = node x GPUs per node + local GPU).
    group : str, optional
        ``world``, ``node:K`` or ``rail:R`` instead of ranks.
    algorithm, protocol : str, optional
        Forced choices, as ``NCCL_ALGO`` / ``NCCL_PROTO``.
    start_s : float, optional
        Absolute start time (s) when the call has no dependencies.
    after : tuple of str
        Ids of events that must finish first.
    compute_s : float
        Gap after the last dependency (or after ``start_s``), e.g. compute between collectives.
    p2p_comm : str
        For ``sendrecv``: ``group`` (one NCCL communicator of all the ranks, as nccl-tests and
        ``batch_isend_irecv``) or ``pairs`` (a 2-rank communicator per peer pair, as PyTorch's
        unbatched ``isend``/``irecv``); NCCL gives a send fewer channels on big communicators.
    comm_size : int
        For ``sendrecv``: ranks of the NCCL communicator the sends run on, when larger than the
        call's ranks (a pipeline send between two stages on the whole pipeline group); 0: the
        call's ranks.
    copies : tuple of range
        Rank offsets of the copies (module doc); empty: the call runs once, on ``ranks``.
    repeat : int
        The call runs this many times back to back (``repeat`` latencies, ``repeat x bytes``).
    tag : str, optional
        What the call is for (``tp``, ``pp``, ``dp`` ...), shown in timelines.
    line : int
        Line of the trace file (for messages).
    source : str
        The trace file (for messages); empty for calls built in code.
    """

    id: str
    op: CollectiveOp
    size_bytes: float
    ranks: tuple[int, ...] | None = None
    group: str | None = None
    algorithm: str | None = None
    protocol: str | None = None
    start_s: float | None = None
    after: tuple[str, ...] = ()
    compute_s: float = 0.0
    p2p_comm: str = "group"
    comm_size: int = 0
    copies: tuple[range, ...] = ()
    repeat: int = 1
    tag: str | None = None
    line: int = 0
    source: str = field(default="", compare=False)

    def where(self) -> str:
        """``FILE, line N (id 'x')`` for messages (``trace line N`` when built in code)."""
        return _where(self.source, self.line, self.id)

    def to_json(self) -> dict[str, Any]:
        """The call as a trace line."""
        size = int(self.size_bytes) if float(self.size_bytes).is_integer() else self.size_bytes
        data: dict[str, Any] = {"id": self.id, "op": self.op.value, "bytes": size}
        _placement_json(data, self.ranks, self.group, self.copies)
        optional = {"algo": self.algorithm, "proto": self.protocol, "start_s": self.start_s}
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.after:
            data["after"] = list(self.after)
        if self.compute_s:
            data["compute_s"] = self.compute_s
        if self.p2p_comm != "group":
            data["p2p_comm"] = self.p2p_comm
        if self.comm_size:
            data["comm_size"] = self.comm_size
        if self.repeat != 1:
            data["repeat"] = self.repeat
        if self.tag is not None:
            data["tag"] = self.tag
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceCompute:
    """Work that keeps a rank group busy for ``duration_s`` (one line with ``op: compute``).

    Attributes are those of :class:`TraceCall` that apply: ``id``, ``ranks`` or ``group``,
    ``copies``, ``start_s`` or ``after``, ``tag``, ``line``; ``duration_s`` is the time the
    work takes on each copy.
    """

    id: str
    duration_s: float
    ranks: tuple[int, ...] | None = None
    group: str | None = None
    start_s: float | None = None
    after: tuple[str, ...] = ()
    copies: tuple[range, ...] = ()
    tag: str | None = None
    line: int = 0
    source: str = field(default="", compare=False)

    def where(self) -> str:
        """``FILE, line N (id 'x')`` for messages (``trace line N`` when built in code)."""
        return _where(self.source, self.line, self.id)

    def to_json(self) -> dict[str, Any]:
        """The event as a trace line."""
        data: dict[str, Any] = {"id": self.id, "op": "compute", "duration_s": self.duration_s}
        _placement_json(data, self.ranks, self.group, self.copies)
        if self.start_s is not None:
            data["start_s"] = self.start_s
        if self.after:
            data["after"] = list(self.after)
        if self.tag is not None:
            data["tag"] = self.tag
        return data


TraceEvent = TraceCall | TraceCompute
"""One line of a trace."""


def _where(source: str, line: int, event_id: str) -> str:
    """``FILE, line N (id 'x')`` for messages (``trace line N`` when built in code)."""
    if not source:
        return f"trace line {line} (id {event_id!r})"
    place = f"{source}, line {line}" if line else source
    return f"{place} (id {event_id!r})"


def _placement_json(
    data: dict[str, Any],
    ranks: tuple[int, ...] | None,
    group: str | None,
    copies: tuple[range, ...],
) -> None:
    if ranks is not None:
        step = ranks[1] - ranks[0] if len(ranks) > 2 else 0
        strided = step > 0 and ranks == tuple(range(ranks[0], ranks[-1] + 1, step))
        if strided:
            data["ranks"] = f"{ranks[0]}-{ranks[-1]}" + (f":{step}" if step > 1 else "")
        else:
            data["ranks"] = list(ranks)
    if group is not None:
        data["group"] = group
    if copies:
        data["copies"] = copies_json(copies)
