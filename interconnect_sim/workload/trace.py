"""Collective traces: one call per line of JSON (``docs/trace-format.md``).

Example line::

    {"id": "dp-rs", "op": "reduce_scatter", "bytes": "1 GiB", "group": "rail:0",
     "after": ["fwd"], "compute_s": 0.004}

Keys: ``id`` (unique), ``op``, ``bytes`` (integer bytes or a size with units), exactly one of
``ranks`` (list of ints or ``"a-b"``) and ``group`` (``world``, ``node:K``, ``rail:R``), optional
``algo`` / ``proto``, and either ``start_s`` (absolute start) or ``after`` (ids it waits for) with
an optional ``compute_s`` gap after the last of them. Errors name the line and what is wrong;
unknown ids and dependency cycles are errors too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.errors import InterconnectSimError, TraceError
from interconnect_sim.files import write_atomically
from interconnect_sim.units import parse_size

__all__ = ["TraceCall", "read_trace", "resolve_ranks", "write_trace"]

_KEYS = {
    "id",
    "op",
    "bytes",
    "ranks",
    "group",
    "algo",
    "proto",
    "start_s",
    "after",
    "compute_s",
    "p2p_comm",
}
P2P_COMMS = ("group", "pairs")


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
        Ids of calls that must finish first.
    compute_s : float
        Gap after the last dependency (or after ``start_s``), e.g. compute between collectives.
    p2p_comm : str
        For ``sendrecv``: ``group`` (one NCCL communicator of all the ranks, as nccl-tests and
        ``batch_isend_irecv``) or ``pairs`` (a 2-rank communicator per peer pair, as PyTorch's
        unbatched ``isend``/``irecv``); NCCL gives a send fewer channels on big communicators.
    line : int
        Line of the trace file (for messages).
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
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        """The call as a trace line."""
        size = int(self.size_bytes) if float(self.size_bytes).is_integer() else self.size_bytes
        data: dict[str, Any] = {"id": self.id, "op": self.op.value, "bytes": size}
        if self.ranks is not None:
            data["ranks"] = list(self.ranks)
        if self.group is not None:
            data["group"] = self.group
        optional = {"algo": self.algorithm, "proto": self.protocol, "start_s": self.start_s}
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.after:
            data["after"] = list(self.after)
        if self.compute_s:
            data["compute_s"] = self.compute_s
        if self.p2p_comm != "group":
            data["p2p_comm"] = self.p2p_comm
        return data


def _fail(source: str, line: int, message: str) -> TraceError:
    return TraceError(f"{source}, line {line}: {message}")


def _ranks(value: Any, source: str, line: int) -> tuple[int, ...]:
    if isinstance(value, str):
        head, sep, tail = value.partition("-")
        if sep and head.strip().isdigit() and tail.strip().isdigit():
            low, high = int(head), int(tail)
            if low <= high:
                return tuple(range(low, high + 1))
        raise _fail(source, line, f"ranks {value!r} must be a list of ints or a range 'a-b'")
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in value)
    ):
        raise _fail(source, line, "ranks must be a non-empty list of non-negative integers")
    if len(set(value)) != len(value):
        raise _fail(source, line, "ranks contain duplicates")
    return tuple(value)


def _number(data: dict[str, Any], key: str, source: str, line: int) -> float | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(source, line, f"{key} must be a non-negative number of seconds")
    return float(value)


def _call(data: Any, source: str, line: int) -> TraceCall:
    if not isinstance(data, dict):
        raise _fail(source, line, "each line must be a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _fail(source, line, f"unknown key(s) {unknown}; allowed: {', '.join(sorted(_KEYS))}")
    for key in ("id", "op", "bytes"):
        if key not in data:
            raise _fail(source, line, f"missing {key!r}")
    if not isinstance(data["id"], str) or not data["id"]:
        raise _fail(source, line, "id must be a non-empty string")
    try:
        op = parse_op(str(data["op"]))
        size = data["bytes"]
        size_bytes = (
            float(size)
            if isinstance(size, int) and not isinstance(size, bool)
            else (parse_size(size) if isinstance(size, str) else -1.0)
        )
    except InterconnectSimError as exc:
        raise _fail(source, line, str(exc)) from None
    if not size_bytes > 0:
        raise _fail(source, line, "bytes must be a positive integer or a size such as '1 GiB'")
    if ("ranks" in data) == ("group" in data):
        raise _fail(source, line, "give exactly one of 'ranks' and 'group'")
    group = data.get("group")
    if group is not None and not (
        group == "world"
        or (
            isinstance(group, str)
            and group.partition(":")[0] in ("node", "rail")
            and group.partition(":")[2].isdigit()
        )
    ):
        raise _fail(source, line, f"group {group!r} must be world, node:K or rail:R")
    after = data.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise _fail(source, line, "after must be a list of call ids")
    if "start_s" in data and after:
        raise _fail(source, line, "give either start_s or after, not both")
    p2p_comm = data.get("p2p_comm", "group")
    if p2p_comm not in P2P_COMMS:
        raise _fail(source, line, f"p2p_comm {p2p_comm!r} must be one of {', '.join(P2P_COMMS)}")
    if "p2p_comm" in data and op is not CollectiveOp.SENDRECV:
        raise _fail(source, line, f"p2p_comm applies to sendrecv only, not {op.value}")
    return TraceCall(
        id=data["id"],
        op=op,
        size_bytes=size_bytes,
        ranks=_ranks(data["ranks"], source, line) if "ranks" in data else None,
        group=group,
        algorithm=str(data["algo"]).lower() if "algo" in data else None,
        protocol=str(data["proto"]).lower() if "proto" in data else None,
        start_s=_number(data, "start_s", source, line),
        after=tuple(after),
        compute_s=_number(data, "compute_s", source, line) or 0.0,
        p2p_comm=p2p_comm,
        line=line,
    )


def _check_dependencies(calls: list[TraceCall], source: str) -> None:
    by_id: dict[str, TraceCall] = {}
    for call in calls:
        if call.id in by_id:
            raise _fail(
                source, call.line, f"id {call.id!r} also used on line {by_id[call.id].line}"
            )
        by_id[call.id] = call
    for call in calls:
        for dep in call.after:
            if dep not in by_id:
                raise _fail(source, call.line, f"after names unknown id {dep!r}")
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(call: TraceCall, path: list[str]) -> None:
        state[call.id] = 1
        for dep in call.after:
            if state.get(dep) == 1:
                cycle = (
                    " -> ".join([*path[path.index(dep) :], call.id, dep])
                    if dep in path
                    else f"{call.id} -> {dep}"
                )
                raise _fail(source, call.line, f"dependency cycle: {cycle}")
            if state.get(dep) != 2:
                visit(by_id[dep], [*path, call.id])
        state[call.id] = 2

    for call in calls:
        if state.get(call.id) != 2:
            visit(call, [])


def read_trace(path: Path | str, *, lines: Iterable[str] | None = None) -> list[TraceCall]:
    """Read and validate a JSON Lines trace.

    Parameters
    ----------
    path : Path or str
        The file (also used in messages when ``lines`` is given).
    lines : iterable of str, optional
        Read these lines instead of the file.

    Raises
    ------
    TraceError
        Naming the line: bad JSON, unknown or missing keys, unknown op, bad size, both or neither
        of ranks/group, duplicate or unknown ids, dependency cycles.
    """
    source = str(path)
    if lines is None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise TraceError(f"{source}: cannot read trace: {exc}") from None
    calls = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(source, number, f"not valid JSON: {exc.msg}") from None
        calls.append(_call(data, source, number))
    if not calls:
        raise TraceError(f"{source}: the trace has no calls")
    _check_dependencies(calls, source)
    return calls


def write_trace(path: Path, calls: Iterable[TraceCall]) -> None:
    """Write calls as JSON Lines, atomically."""
    text = "".join(json.dumps(call.to_json()) + "\n" for call in calls)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(Path(path), write)


def resolve_ranks(call: TraceCall, rank_count: int, gpus_per_node: int) -> tuple[int, ...]:
    """The ranks a call uses on a fabric of ``rank_count`` ranks.

    Raises
    ------
    TraceError
        A rank or group outside the fabric, naming the call's line.
    """
    source = f"trace line {call.line} (id {call.id!r})"
    if call.ranks is not None:
        bad = [r for r in call.ranks if r >= rank_count]
        if bad:
            raise TraceError(
                f"{source}: rank {bad[0]} out of range; the fabric has ranks 0-{rank_count - 1}"
            )
        return call.ranks
    kind, _, value = (call.group or "world").partition(":")
    nodes = rank_count // gpus_per_node
    if kind == "world":
        return tuple(range(rank_count))
    index = int(value)
    if kind == "node":
        if index >= nodes:
            raise TraceError(f"{source}: node {index} out of range (0-{nodes - 1})")
        return tuple(range(index * gpus_per_node, (index + 1) * gpus_per_node))
    if index >= gpus_per_node:
        raise TraceError(f"{source}: rail {index} out of range (0-{gpus_per_node - 1})")
    return tuple(node * gpus_per_node + index for node in range(nodes))
