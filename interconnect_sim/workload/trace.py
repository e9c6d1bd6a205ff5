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
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import ALGORITHMS, PROTOCOLS
from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.errors import InterconnectSimError, TraceError
from interconnect_sim.files import read_text_file, write_atomically
from interconnect_sim.limits import (
    LIMITS,
    check_message_size,
    check_time,
    check_trace_length,
)
from interconnect_sim.units import parse_size

__all__ = ["TraceCall", "dependency_order", "read_trace", "resolve_ranks", "write_trace"]

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
_ALGOS = (*ALGORITHMS, "p2p")
_RANGE = re.compile(r"\s*([0-9]{1,12})\s*-\s*([0-9]{1,12})\s*")  # ASCII digits only
_GROUP = re.compile(r"(node|rail):([0-9]{1,12})")


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
    line: int = 0
    source: str = field(default="", compare=False)

    def place(self) -> str:
        """``FILE, line N`` for messages (``trace line N`` for calls built in code)."""
        return f"{self.source}, line {self.line}" if self.source else f"trace line {self.line}"

    def where(self) -> str:
        """``FILE, line N (id 'x')`` for messages."""
        return f"{self.place()} (id {self.id!r})"

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
    most = LIMITS.max_gpus
    if isinstance(value, str):
        match = _RANGE.fullmatch(value)
        if match is None or int(match.group(1)) > int(match.group(2)):
            raise _fail(source, line, f"ranks {value!r} must be a list of ints or a range 'a-b'")
        low, high = int(match.group(1)), int(match.group(2))
        if high >= most:
            raise _fail(source, line, f"ranks {value!r} go past the largest fabric ({most:,} GPUs)")
        return tuple(range(low, high + 1))
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in value)
    ):
        raise _fail(source, line, "ranks must be a non-empty list of non-negative integers")
    if max(value) >= most:
        raise _fail(source, line, f"rank {max(value)} is past the largest fabric ({most:,} GPUs)")
    if len(set(value)) != len(value):
        raise _fail(source, line, "ranks contain duplicates")
    return tuple(value)


def _number(data: dict[str, Any], key: str, source: str, line: int) -> float | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, line, f"{key} must be a non-negative number of seconds")
    seconds = float(value) if isinstance(value, float) else float(_clamp(value))
    check_time(seconds, f"{source}, line {line}: {key}", TraceError)
    return seconds


def _clamp(value: int) -> int:
    """A JSON integer cut to +-2**1000, so converting it to float cannot overflow (anything that
    large is refused by the limits anyway)."""
    return max(-(2**1000), min(value, 2**1000))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _size(value: Any, source: str, line: int) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        size_bytes = float(_clamp(value))
    elif isinstance(value, str):
        try:
            size_bytes = parse_size(value)
        except InterconnectSimError as exc:
            raise _fail(source, line, str(exc)) from None
    else:
        raise _fail(source, line, "bytes must be a positive integer or a size such as '1 GiB'")
    check_message_size(size_bytes, f"{source}, line {line}: bytes {_short(value)}", TraceError)
    return size_bytes


def _choice(
    data: dict[str, Any], key: str, allowed: tuple[str, ...], source: str, line: int
) -> str | None:
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, str) or value.lower() not in allowed:
        raise _fail(source, line, f"{key} {value!r} must be one of {', '.join(allowed)}")
    return value.lower()


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
    if not isinstance(data["op"], str):
        raise _fail(source, line, f"op {data['op']!r} must be a collective's name")
    try:
        op = parse_op(data["op"])
    except InterconnectSimError as exc:
        raise _fail(source, line, str(exc)) from None
    size_bytes = _size(data["bytes"], source, line)
    if ("ranks" in data) == ("group" in data):
        raise _fail(source, line, "give exactly one of 'ranks' and 'group'")
    group = data.get("group")
    if group is not None and not (
        group == "world" or (isinstance(group, str) and _GROUP.fullmatch(group))
    ):
        raise _fail(source, line, f"group {group!r} must be world, node:K or rail:R")
    after = data.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise _fail(source, line, "after must be a list of call ids")
    if "start_s" in data and after:
        raise _fail(source, line, "give either start_s or after, not both")
    p2p_comm = data.get("p2p_comm", "group")
    if not isinstance(p2p_comm, str) or p2p_comm not in P2P_COMMS:
        raise _fail(source, line, f"p2p_comm {p2p_comm!r} must be one of {', '.join(P2P_COMMS)}")
    if "p2p_comm" in data and op is not CollectiveOp.SENDRECV:
        raise _fail(source, line, f"p2p_comm applies to sendrecv only, not {op.value}")
    return TraceCall(
        id=data["id"],
        op=op,
        size_bytes=size_bytes,
        ranks=_ranks(data["ranks"], source, line) if "ranks" in data else None,
        group=group,
        algorithm=_choice(data, "algo", _ALGOS, source, line),
        protocol=_choice(data, "proto", PROTOCOLS, source, line),
        start_s=_number(data, "start_s", source, line),
        after=tuple(after),
        compute_s=_number(data, "compute_s", source, line) or 0.0,
        p2p_comm=p2p_comm,
        line=line,
        source=source,
    )


def dependency_order(calls: Iterable[TraceCall]) -> list[TraceCall]:
    """The calls ordered so every call comes after the calls it waits for.

    Iterative (a chain of 100,000 calls listed in reverse needs no recursion).

    Raises
    ------
    TraceError
        A duplicate id, an unknown id in ``after``, or a dependency cycle (naming its calls).
    """
    calls = list(calls)
    by_id: dict[str, TraceCall] = {}
    for call in calls:
        if call.id in by_id:
            raise TraceError(
                f"{call.place()}: id {call.id!r} also used on line {by_id[call.id].line}"
            )
        by_id[call.id] = call
    for call in calls:
        for dep in call.after:
            if dep not in by_id:
                raise TraceError(f"{call.place()}: after names unknown id {dep!r}")
    order: list[TraceCall] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in calls:
        if state.get(root.id) == 2:
            continue
        path = [root.id]
        stack = [(root, iter(root.after))]
        state[root.id] = 1
        while stack:
            node, deps = stack[-1]
            dep = next(deps, "")
            if not dep:
                stack.pop()
                path.pop()
                state[node.id] = 2
                order.append(node)
            elif state.get(dep) == 1:
                cycle = " -> ".join([*path[path.index(dep) :], dep])
                raise TraceError(f"{node.place()}: dependency cycle: {cycle}")
            elif state.get(dep) != 2:
                state[dep] = 1
                path.append(dep)
                stack.append((by_id[dep], iter(by_id[dep].after)))
    return order


def _json(text: str, source: str, line: int) -> Any:
    def refuse(name: str) -> Any:
        raise _fail(source, line, f"{name} is not a number (JSON has no NaN or Infinity)")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise _fail(source, line, f"not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # 4,300+ digit integers, nesting too deep
        reason = str(exc).split(";")[0] if isinstance(exc, ValueError) else "nested too deeply"
        raise _fail(source, line, f"not valid JSON: {reason}") from None


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
        Naming the file and line: not UTF-8, empty, bad JSON (NaN and Infinity included),
        unknown or missing keys, unknown op, algorithm or protocol, a size or time that is not
        finite or beyond the limits (:mod:`interconnect_sim.limits`), both or neither of
        ranks/group, duplicate or unknown ids, dependency cycles, more calls than accepted.
    """
    source = str(path)
    if lines is None:
        lines = read_text_file(Path(path), "trace", TraceError).splitlines()
    calls: list[TraceCall] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        check_trace_length(len(calls) + 1, source, TraceError)
        calls.append(_call(_json(text, source, number), source, number))
    if not calls:
        raise TraceError(f"{source}: the trace has no calls")
    dependency_order(calls)
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
        A rank or group outside the fabric, naming the call's file and line.
    """
    source = call.where()
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
