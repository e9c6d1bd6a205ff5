"""Read Chakra execution traces (MLCommons Chakra, schema ``et_def.proto``), one file per rank.

Two spellings: the binary ``.et`` file (optionally gzipped) -- a ``GlobalMetadata`` message and
then one ``Node`` message after another, each preceded by its length as a varint -- and the JSON
that Chakra's ``chakra_jsonizer`` prints (the same messages as protobuf JSON, one after another).
Chakra is not on PyPI and its reader needs the compiled schema, so the few fields used are decoded
here from the protobuf wire format:

``Node``: ``id`` (1), ``name`` (2), ``type`` (3: 4 compute, 5 send, 6 receive, 7 collective),
``ctrl_deps`` (4), ``data_deps`` (5), ``start_time_micros`` (6), ``duration_micros`` (7) and
``attr`` (10: ``comm_type``, ``comm_size`` in bytes, ``pg_name``).

The graph gives the order and the compute between collectives: a collective waits for the
nearest collectives above it in the graph, and its compute gap is the longest chain of compute
nodes' durations between them. Chakra's converter writes no peer for send and receive nodes, so
those cannot be placed and are left out with a note; ``comm_size`` of an all-gather is the
per-rank input and is multiplied by the group size.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.errors import TraceError
from interconnect_sim.importers.protobuf_wire import ProtobufError, fields, varint_messages

__all__ = ["ChakraNode", "looks_like_chakra_json", "read_chakra"]

COMPUTE, SEND, RECV, COLLECTIVE = 4, 5, 6, 7
_TYPES = {
    "COMP_NODE": COMPUTE,
    "COMM_SEND_NODE": SEND,
    "COMM_RECV_NODE": RECV,
    "COMM_COLL_NODE": COLLECTIVE,
}
_COMM_TYPES = {
    0: CollectiveOp.ALL_REDUCE,
    1: CollectiveOp.REDUCE,
    2: CollectiveOp.ALL_GATHER,
    5: CollectiveOp.BROADCAST,
    6: CollectiveOp.ALLTOALL,
    7: CollectiveOp.REDUCE_SCATTER,
    8: CollectiveOp.REDUCE_SCATTER,
}
_DEFAULT_GROUPS = ("", "0", "default_pg")


@dataclass(slots=True)
class ChakraNode:
    """The fields of a Chakra node that the replay needs."""

    id: int
    name: str = ""
    type: int = 0
    deps: list[int] = field(default_factory=list)
    start_us: float = 0.0
    duration_us: float = 0.0
    attrs: dict[str, Any] = field(default_factory=dict)


def looks_like_chakra_json(text: str) -> bool:
    """True for ``chakra_jsonizer`` output (protobuf JSON of Chakra messages)."""
    head = text.lstrip()[:20000]
    return head.startswith("{") and (
        '"ctrlDeps"' in head or '"COMM_COLL_NODE"' in head or ('"dataDeps"' in head)
    )


# -- binary ---------------------------------------------------------------------------------


def _attribute(data: bytes) -> tuple[str, Any]:
    name: str = ""
    value: Any = None
    for number, wire, raw in fields(data):
        if number == 1 and wire == 2:
            name = bytes(raw).decode("utf-8", "replace")
        elif number in (7, 9, 11, 13) and wire == 0:
            value = int(raw) if number in (11, 13) else _signed(int(raw))
        elif number in (15, 17) and wire == 0:
            value = (int(raw) >> 1) ^ -(int(raw) & 1)  # zigzag
        elif number == 27 and wire == 0:
            value = bool(raw)
        elif number == 29 and wire == 2:
            value = bytes(raw).decode("utf-8", "replace")
    return name, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _node(data: bytes) -> ChakraNode:
    node = ChakraNode(id=-1)
    for number, wire, raw in fields(data):
        if number == 1 and wire == 0:
            node.id = int(raw)
        elif number == 2 and wire == 2:
            node.name = bytes(raw).decode("utf-8", "replace")
        elif number == 3 and wire == 0:
            node.type = int(raw)
        elif number in (4, 5) and wire == 0:
            node.deps.append(int(raw))
        elif number in (4, 5) and wire == 2:  # packed
            node.deps.extend(int(v) for _, _, v in fields(bytes(raw), packed=True))
        elif number == 6 and wire == 0:
            node.start_us = float(int(raw))
        elif number == 7 and wire == 0:
            node.duration_us = float(int(raw))
        elif number == 10 and wire == 2:
            key, value = _attribute(bytes(raw))
            node.attrs[key] = value
    return node


def _binary_nodes(data: bytes, source: str) -> list[ChakraNode]:
    try:
        messages = list(varint_messages(data))
        if not messages:
            raise TraceError(f"{source}: empty Chakra trace")
        return [_node(message) for message in messages[1:]]  # messages[0]: GlobalMetadata
    except ProtobufError as exc:
        raise TraceError(f"{source}: not a Chakra execution trace: {exc}") from None


# -- JSON (chakra_jsonizer) ---------------------------------------------------------------


def _json_value(attr: dict[str, Any]) -> Any:
    for key, value in attr.items():
        if key in ("name", "docString"):
            continue
        if key.endswith("Val"):
            if key in ("int64Val", "uint64Val", "int32Val", "uint32Val", "sint64Val"):
                return int(value)
            return value
    return None


def _json_nodes(text: str, source: str) -> list[ChakraNode]:
    decoder = json.JSONDecoder()
    position, nodes = 0, []
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            break
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{source}, line {line}: not valid JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise TraceError(f"{source}, line {line}: expected a Chakra message object")
        if "id" not in item and "type" not in item:
            continue  # GlobalMetadata
        try:
            node = ChakraNode(
                id=int(item.get("id", 0)),
                name=str(item.get("name", "")),
                type=_TYPES.get(str(item.get("type")), _int_or_zero(item.get("type"))),
                deps=[int(d) for d in [*item.get("ctrlDeps", []), *item.get("dataDeps", [])]],
                start_us=float(item.get("startTimeMicros", 0)),
                duration_us=float(item.get("durationMicros", 0)),
                attrs={str(a.get("name")): _json_value(a) for a in item.get("attr", [])},
            )
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise TraceError(f"{source}, line {line}: a Chakra node with bad fields") from None
        nodes.append(node)
    return nodes


def _int_or_zero(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- graph -> observations ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChakraCall:
    """A collective of one rank's graph: its nearest collective ancestors and compute gap."""

    node: ChakraNode
    after: frozenset[int]
    compute_us: float


def _calls(nodes: list[ChakraNode], source: str) -> list[ChakraCall]:
    by_id = {node.id: node for node in nodes}
    children: dict[int, list[int]] = defaultdict(list)
    missing = 0
    for node in nodes:
        for dep in node.deps:
            if dep in by_id:
                children[dep].append(node.id)
            else:
                missing += 1
    pending = {node.id: sum(d in by_id for d in node.deps) for node in nodes}
    ready = deque(node_id for node_id, count in pending.items() if count == 0)
    reach: dict[int, tuple[frozenset[int], float]] = {}
    calls: list[ChakraCall] = []
    while ready:
        node = by_id[ready.popleft()]
        parents = [reach[d] for d in node.deps if d in reach]
        after = frozenset().union(*(p[0] for p in parents)) if parents else frozenset()
        longest = max((p[1] for p in parents), default=0.0)
        if node.type == COLLECTIVE:
            calls.append(ChakraCall(node, after, longest))
            reach[node.id] = (frozenset({node.id}), 0.0)
        elif node.type == COMPUTE:
            reach[node.id] = (after, longest + node.duration_us)
        else:
            reach[node.id] = (after, longest)
        for child in children[node.id]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if len(reach) < len(nodes):
        raise TraceError(f"{source}: the Chakra graph has a dependency cycle")
    return calls


def read_chakra(files: list[tuple[Path, bytes]]) -> tuple[list[tuple[int, Path, list[ChakraCall]]],
                                                          list[str]]:  # fmt: skip
    """Each rank's collectives, in the order of its file names' rank numbers.

    Returns
    -------
    ranks, notes
        ``(rank, path, calls)`` per file, and notes (send/receive nodes left out ...).
    """
    result = []
    notes = []
    for index, (path, data) in enumerate(files):
        named = re.search(r"(\d+)(?:\.et|\.json)?(?:\.gz)?$", path.name)
        rank = int(named.group(1)) if named else index
        if data[:2] == b"\x1f\x8b":
            data = _gunzip(data, path)
        text = None
        if data[:1] in (b"{", b" ", b"\n"):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        nodes = _json_nodes(text, str(path)) if text else _binary_nodes(data, str(path))
        skipped = sum(node.type in (SEND, RECV) for node in nodes)
        if skipped:
            notes.append(
                f"{path}: {skipped} send/receive node(s) left out: Chakra does not record "
                "their peer"
            )
        result.append((rank, path, _calls(nodes, str(path))))
    if len({rank for rank, _, _ in result}) != len(result):
        raise TraceError("two Chakra traces have the same rank number in their names")
    return result, notes


def _gunzip(data: bytes, path: Path) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise TraceError(f"{path}: damaged gzip file: {exc}") from None


def comm_op(node: ChakraNode) -> CollectiveOp | None:
    """The collective of a Chakra ``COMM_COLL_NODE`` (None for barrier, gather, scatter)."""
    value = node.attrs.get("comm_type")
    return _COMM_TYPES.get(value) if isinstance(value, int) else None


def group_name(node: ChakraNode) -> str:
    """The process group of a node (``world`` for the default group)."""
    name = str(node.attrs.get("pg_name") or "")
    return "world" if name in _DEFAULT_GROUPS else name
