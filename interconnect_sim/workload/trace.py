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
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import ALGORITHMS, PROTOCOLS
from interconnect_sim.collectives.ops import parse_op
from interconnect_sim.errors import InterconnectSimError, TraceError
from interconnect_sim.files import read_text_file, write_atomically
from interconnect_sim.limits import LIMITS, check_message_size, check_time, check_trace_length
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
    "check_copies",
    "dependency_order",
    "read_trace",
    "resolve_copies",
    "resolve_ranks",
    "write_trace",
]

_COMMON = {"id", "op", "ranks", "group", "start_s", "after", "copies", "tag"}
_CALL_KEYS = _COMMON | {"bytes", "algo", "proto", "compute_s", "p2p_comm", "comm_size", "repeat"}
_COMPUTE_KEYS = _COMMON | {"duration_s"}
P2P_COMMS = ("group", "pairs")
_ALGOS = (*ALGORITHMS, "p2p")
_DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII digits only ("²".isdigit() is True)
_GROUP = re.compile(r"(node|rail):([0-9]{1,12})")


def _fail(source: str, line: int, message: str) -> TraceError:
    return TraceError(f"{source}, line {line}: {message}")


def _ranks(value: Any, source: str, line: int) -> tuple[int, ...]:
    if isinstance(value, str):
        span = _span(value)
        if span is None:
            message = f"ranks {_short(value)} must be a list of ints or a range 'a-b' or 'a-b:step'"
            raise _fail(source, line, message)
        return tuple(_bounded(span, value, "ranks", source, line))
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in value)
    ):
        raise _fail(source, line, "ranks must be a non-empty list of non-negative integers")
    if len(set(value)) != len(value):
        raise _fail(source, line, "ranks contain duplicates")
    if max(value) >= LIMITS.max_gpus:
        raise _fail(
            source, line, f"rank {max(value)} is past the largest fabric ({LIMITS.max_gpus:,} GPUs)"
        )
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


def _span(text: str) -> range | None:
    """``a``, ``a-b`` or ``a-b:step`` in ASCII digits as a range (None if not one); a range
    that runs backwards is empty."""
    body, _, step_text = text.partition(":")
    head, sep, tail = body.partition("-")
    parts = (head.strip(), tail.strip() if sep else head.strip(), step_text.strip() or "1")
    if not all(_DIGITS.fullmatch(part) for part in parts) or int(parts[2]) < 1:
        return None
    low, high, step = (int(part) for part in parts)
    return range(low, high + 1, step)


def _bounded(span: range, text: str, what: str, source: str, line: int) -> range:
    """``span`` if it is not empty and stays below the largest fabric."""
    if not span:
        raise _fail(source, line, f"{what} {_short(text)}: the range runs backwards")
    if span.stop - 1 >= LIMITS.max_gpus:
        raise _fail(
            source,
            line,
            f"{what} {_short(text)} go past the largest fabric ({LIMITS.max_gpus:,} GPUs)",
        )
    return span


def _offset(text: str, source: str, line: int) -> range:
    span = _span(text)
    if span is None:
        raise _fail(source, line, f"copies item {_short(text)} must be an int, 'a-b' or 'a-b:step'")
    return _bounded(span, text, "copies item", source, line)


def _copies(value: Any, source: str, line: int) -> tuple[range, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(source, line, "copies must be a non-empty list of offsets")
    offsets: list[int] = []
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < LIMITS.max_gpus:
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
        group == "world" or (isinstance(group, str) and _GROUP.fullmatch(group))
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
        "source": source,
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
    if not isinstance(data["op"], str):
        raise _fail(source, line, f"op {_short(data['op'])} must be a collective's name or compute")
    if data["op"] == "compute":
        return _compute(data, source, line)
    if "bytes" not in data:
        raise _fail(source, line, "missing 'bytes'")
    common = _common(data, source, line, _CALL_KEYS)
    try:
        op = parse_op(data["op"])
    except InterconnectSimError as exc:
        raise _fail(source, line, f"{exc} (or op 'compute' with duration_s)") from None
    size_bytes = _size(data["bytes"], source, line)
    p2p_comm = data.get("p2p_comm", "group")
    if not isinstance(p2p_comm, str) or p2p_comm not in P2P_COMMS:
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
            or comm_size > LIMITS.max_gpus
        ):
            raise _fail(
                source,
                line,
                f"comm_size must be a whole number from the call's ranks to {LIMITS.max_gpus:,}",
            )
    repeat = data.get("repeat", 1)
    most = LIMITS.max_trace_calls
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= most:
        raise _fail(source, line, f"repeat must be a whole number from 1 to {most:,}")
    return TraceCall(
        op=op,
        size_bytes=size_bytes,
        algorithm=_choice(data, "algo", _ALGOS, source, line),
        protocol=_choice(data, "proto", PROTOCOLS, source, line),
        compute_s=_number(data, "compute_s", source, line) or 0.0,
        p2p_comm=p2p_comm,
        comm_size=comm_size,
        repeat=repeat,
        **common,
    )


def _place(event: TraceEvent, source: str) -> str:
    return f"{source}, line {event.line}" if source else f"trace line {event.line}"


def dependency_order(events: Iterable[TraceEvent], source: str = "") -> list[TraceEvent]:
    """The events ordered so every event comes after the events it waits for.

    Iterative (a chain of 100,000 calls listed in reverse needs no recursion).

    Raises
    ------
    TraceError
        A duplicate id, an unknown id in ``after``, or a dependency cycle (naming its events).
    """
    events = list(events)
    by_id: dict[str, TraceEvent] = {}
    for event in events:
        if event.id in by_id:
            raise TraceError(
                f"{_place(event, source)}: id {event.id!r} also used on line {by_id[event.id].line}"
            )
        by_id[event.id] = event
    for event in events:
        for dep in event.after:
            if dep not in by_id:
                raise TraceError(f"{_place(event, source)}: after names unknown id {dep!r}")
    order: list[TraceEvent] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in events:
        if state.get(root.id) == 2:
            continue
        path = [root.id]
        stack = [(root, iter(root.after))]
        state[root.id] = 1
        while stack:
            node, deps = stack[-1]
            following = next(deps, None)
            if following is None:
                stack.pop()
                path.pop()
                state[node.id] = 2
                order.append(node)
            elif state.get(following) == 1:
                cycle = " -> ".join([*path[path.index(following) :], following])
                raise TraceError(f"{_place(node, source)}: dependency cycle: {cycle}")
            elif state.get(following) != 2:
                state[following] = 1
                path.append(following)
                stack.append((by_id[following], iter(by_id[following].after)))
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
        Naming the file and line: not UTF-8, empty, bad JSON (NaN and Infinity included),
        unknown or missing keys, unknown op, algorithm or protocol, a size, time or duration
        that is not finite or beyond the limits (:mod:`interconnect_sim.limits`), both or
        neither of ranks/group, bad copies, duplicate or unknown ids, dependency cycles, more
        calls than accepted.
    """
    source = str(path)
    if lines is None:
        lines = read_text_file(Path(path), "trace", TraceError).splitlines()
    calls: list[TraceEvent] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        check_trace_length(len(calls) + 1, source, TraceError)
        calls.append(_event(_json(text, source, number), source, number))
    if not calls:
        raise TraceError(f"{source}: the trace has no calls")
    dependency_order(calls, source)
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
    ranks = check_copies(call, rank_count, gpus_per_node)
    if not call.copies:
        return [ranks]
    return [tuple(r + offset for r in ranks) for offset in copy_offsets(call.copies)]


def check_copies(call: TraceEvent, rank_count: int, gpus_per_node: int) -> tuple[int, ...]:
    """Check that ``call`` and every copy of it fit a fabric of ``rank_count`` ranks, without
    listing the copies (a data-parallel call of a large step has thousands); return the first
    copy's ranks.

    Raises
    ------
    TraceError
        A rank, group or copy outside the fabric, naming the call's line.
    """
    ranks = resolve_ranks(call, rank_count, gpus_per_node)
    if call.copies:
        top = max(ranks) + max(block[-1] for block in call.copies)
        if top >= rank_count:
            raise TraceError(
                f"{call.where()}: copies reach rank {top}; the fabric has ranks 0-{rank_count - 1}"
            )
    return ranks


def resolve_ranks(call: TraceEvent, rank_count: int, gpus_per_node: int) -> tuple[int, ...]:
    """The ranks a call uses on a fabric of ``rank_count`` ranks.

    Raises
    ------
    TraceError
        A rank or group outside the fabric, naming the call's line.
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
