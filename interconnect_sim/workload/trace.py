"""Traces: one event per line of JSON (``docs/trace-format.md``).

Example lines::

    {"id": "fwd", "op": "compute", "duration_s": 0.004, "ranks": "0-7", "copies": ["0-56:8"]}
    {"id": "dp-rs", "op": "reduce_scatter", "bytes": "1 GiB", "group": "rail:0",
     "after": ["fwd"], "compute_s": 0.004}

Keys: ``id`` (unique), ``op`` (a collective, or ``compute``), ``bytes`` (collectives: integer
bytes or a size with units) or ``duration_s`` (compute), exactly one of ``ranks`` (list of ints
or ``"a-b"``) and ``group`` (``world``, ``node:K``, ``rail:R``), optional ``copies`` (rank
offsets of identical copies, with ``ranks``), ``repeat`` (back-to-back repetitions of a call),
``tag``, ``algo`` / ``proto``, and either ``start_s`` (absolute start) or ``after`` (ids it
waits for) with an optional ``compute_s`` gap after the last of them. Errors name the line and
what is wrong; unknown ids and dependency cycles are errors too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from interconnect_sim.collectives.ops import parse_op
from interconnect_sim.errors import InterconnectSimError, TraceError
from interconnect_sim.files import write_atomically
from interconnect_sim.units import parse_size
from interconnect_sim.workload.events import (
    TraceCall,
    TraceCompute,
    TraceEvent,
    copy_offsets,
    offset_ranges,
)

__all__ = [
    "TraceCall",
    "TraceCompute",
    "TraceEvent",
    "read_trace",
    "resolve_copies",
    "resolve_ranks",
    "write_trace",
]

_COMMON = {"id", "op", "ranks", "group", "start_s", "after", "copies", "tag"}
_CALL_KEYS = _COMMON | {"bytes", "algo", "proto", "compute_s", "p2p_comm", "comm_size", "repeat"}
_COMPUTE_KEYS = _COMMON | {"duration_s"}
P2P_COMMS = ("group", "pairs")


def _fail(source: str, line: int, message: str) -> TraceError:
    return TraceError(f"{source}, line {line}: {message}")


def _ranks(value: Any, source: str, line: int) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            return tuple(_offset(value, source, line))
        except TraceError:
            message = f"ranks {value!r} must be a list of ints or a range 'a-b' or 'a-b:step'"
            raise _fail(source, line, message) from None
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


def _offset(text: str, source: str, line: int) -> range:
    body, _, step_text = text.partition(":")
    head, sep, tail = body.partition("-")
    parts = (head.strip(), tail.strip() if sep else head.strip(), step_text.strip() or "1")
    if not all(part.isdigit() for part in parts) or int(parts[2]) < 1:
        raise _fail(source, line, f"copies item {text!r} must be an int, 'a-b' or 'a-b:step'")
    low, high, step = (int(part) for part in parts)
    if high < low:
        raise _fail(source, line, f"copies item {text!r}: the range runs backwards")
    return range(low, high + 1, step)


def _copies(value: Any, source: str, line: int) -> tuple[range, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(source, line, "copies must be a non-empty list of offsets")
    offsets: list[int] = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            offsets.append(item)
        elif isinstance(item, str):
            offsets.extend(_offset(item, source, line))
        else:
            raise _fail(source, line, f"copies item {item!r} must be an int, 'a-b' or 'a-b:step'")
    if len(set(offsets)) != len(offsets):
        raise _fail(source, line, "copies list an offset twice")
    if 0 not in offsets:
        raise _fail(source, line, "copies must include 0 (the listed ranks themselves)")
    return offset_ranges(offsets)


def _common(data: dict[str, Any], source: str, line: int, allowed: set[str]) -> dict[str, Any]:
    """Keys shared by calls and compute events, checked."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(
            source, line, f"unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )
    if not isinstance(data["id"], str) or not data["id"]:
        raise _fail(source, line, "id must be a non-empty string")
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
        raise _fail(source, line, "after must be a list of event ids")
    if "start_s" in data and after:
        raise _fail(source, line, "give either start_s or after, not both")
    if "copies" in data and "ranks" not in data:
        raise _fail(source, line, "copies need explicit ranks, not a group")
    tag = data.get("tag")
    if tag is not None and (not isinstance(tag, str) or not tag):
        raise _fail(source, line, "tag must be a non-empty string")
    return {
        "id": data["id"],
        "ranks": _ranks(data["ranks"], source, line) if "ranks" in data else None,
        "group": group,
        "start_s": _number(data, "start_s", source, line),
        "after": tuple(after),
        "copies": _copies(data["copies"], source, line) if "copies" in data else (),
        "tag": tag,
        "line": line,
    }


def _compute(data: dict[str, Any], source: str, line: int) -> TraceCompute:
    if "duration_s" not in data:
        raise _fail(source, line, "a compute event needs 'duration_s' (seconds)")
    common = _common(data, source, line, _COMPUTE_KEYS)
    duration = _number(data, "duration_s", source, line)
    assert duration is not None
    return TraceCompute(duration_s=duration, **common)


def _event(data: Any, source: str, line: int) -> TraceEvent:
    if not isinstance(data, dict):
        raise _fail(source, line, "each line must be a JSON object")
    for key in ("id", "op"):
        if key not in data:
            raise _fail(source, line, f"missing {key!r}")
    if data["op"] == "compute":
        return _compute(data, source, line)
    if "bytes" not in data:
        raise _fail(source, line, "missing 'bytes'")
    common = _common(data, source, line, _CALL_KEYS)
    try:
        op = parse_op(str(data["op"]))
        size = data["bytes"]
        size_bytes = (
            float(size)
            if isinstance(size, int) and not isinstance(size, bool)
            else (parse_size(size) if isinstance(size, str) else -1.0)
        )
    except InterconnectSimError as exc:
        raise _fail(source, line, f"{exc} (or op 'compute' with duration_s)") from None
    if not size_bytes > 0:
        raise _fail(source, line, "bytes must be a positive integer or a size such as '1 GiB'")
    p2p_comm = data.get("p2p_comm", "group")
    if p2p_comm not in P2P_COMMS:
        raise _fail(source, line, f"p2p_comm {p2p_comm!r} must be one of {', '.join(P2P_COMMS)}")
    if "p2p_comm" in data and op.value != "sendrecv":
        raise _fail(source, line, f"p2p_comm applies to sendrecv only, not {op.value}")
    comm_size = data.get("comm_size", 0)
    if "comm_size" in data:
        ranks = common["ranks"]
        if op.value != "sendrecv" or p2p_comm == "pairs":
            raise _fail(source, line, "comm_size applies to sendrecv on a group communicator only")
        if (
            isinstance(comm_size, bool)
            or not isinstance(comm_size, int)
            or comm_size < (len(ranks) if ranks else 2)
        ):
            raise _fail(source, line, "comm_size must be a whole number >= the call's ranks")
    repeat = data.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise _fail(source, line, "repeat must be a whole number >= 1")
    return TraceCall(
        op=op,
        size_bytes=size_bytes,
        algorithm=str(data["algo"]).lower() if "algo" in data else None,
        protocol=str(data["proto"]).lower() if "proto" in data else None,
        compute_s=_number(data, "compute_s", source, line) or 0.0,
        p2p_comm=p2p_comm,
        comm_size=comm_size,
        repeat=repeat,
        **common,
    )


def _check_dependencies(calls: list[TraceEvent], source: str) -> None:
    by_id: dict[str, TraceEvent] = {}
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

    def visit(call: TraceEvent, path: list[str]) -> None:
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


def read_trace(path: Path | str, *, lines: Iterable[str] | None = None) -> list[TraceEvent]:
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
        Naming the line: bad JSON, unknown or missing keys, unknown op, bad size or duration,
        both or neither of ranks/group, bad copies, duplicate or unknown ids, dependency cycles.
    """
    source = str(path)
    if lines is None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise TraceError(f"{source}: cannot read trace: {exc}") from None
    calls: list[TraceEvent] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(source, number, f"not valid JSON: {exc.msg}") from None
        calls.append(_event(data, source, number))
    if not calls:
        raise TraceError(f"{source}: the trace has no calls")
    _check_dependencies(calls, source)
    return calls


def write_trace(path: Path, calls: Iterable[TraceEvent], *, header: Sequence[str] = ()) -> None:
    """Write events as JSON Lines, atomically, after ``header`` comment lines."""

    def write(tmp: Path) -> None:
        with tmp.open("w") as handle:
            for comment in header:
                handle.write(f"# {comment}\n")
            for call in calls:
                handle.write(json.dumps(call.to_json()) + "\n")

    write_atomically(Path(path), write)


def resolve_copies(call: TraceEvent, rank_count: int, gpus_per_node: int) -> list[tuple[int, ...]]:
    """The rank group of every copy of ``call`` (one group without copies).

    Raises
    ------
    TraceError
        A copy that reaches past the fabric's ranks, naming the call's line.
    """
    ranks = resolve_ranks(call, rank_count, gpus_per_node)
    if not call.copies:
        return [ranks]
    top = max(ranks) + max(block[-1] for block in call.copies)
    if top >= rank_count:
        raise TraceError(
            f"trace line {call.line} (id {call.id!r}): copies reach rank {top}; the fabric has "
            f"ranks 0-{rank_count - 1}"
        )
    return [tuple(r + offset for r in ranks) for offset in copy_offsets(call.copies)]


def resolve_ranks(call: TraceEvent, rank_count: int, gpus_per_node: int) -> tuple[int, ...]:
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
