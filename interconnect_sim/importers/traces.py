"""Load any supported trace as the project's collective calls (``docs/trace-format.md``).

``replay`` and ``import-trace`` accept the project's JSON Lines trace, PyTorch profiler traces
(one file per rank) and Chakra execution traces (one file per rank, binary or JSON); the format is
detected from the content.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.errors import TraceError
from interconnect_sim.importers.chakra import (
    ChakraCall,
    comm_op,
    group_name,
    looks_like_chakra_json,
)
from interconnect_sim.importers.chakra import read_chakra as _read_chakra
from interconnect_sim.importers.pytorch_trace import looks_like_pytorch_trace, read_pytorch_trace
from interconnect_sim.importers.trace_calls import calls_from_observations
from interconnect_sim.workload.trace import TraceCall, TraceEvent, read_trace

__all__ = ["TRACE_FORMATS", "ImportedTrace", "detect_trace_format", "load_trace"]

TRACE_FORMATS = ("jsonl", "pytorch", "chakra")


class ImportedTrace:
    """Events of a trace (calls, and compute in the project's own format) and what the user
    should be told about the conversion."""

    def __init__(self, calls: Sequence[TraceEvent], notes: list[str], kind: str) -> None:
        self.calls = calls
        self.notes = notes
        self.kind = kind


def _bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TraceError(f"{path}: trace file not found") from None
    except OSError as exc:
        raise TraceError(f"{path}: cannot read trace: {exc.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise TraceError(f"{path}: damaged gzip file: {exc}") from None
    if not data.strip():
        raise TraceError(f"{path}: the trace file is empty")
    return data


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not UTF-8 text (byte offset {exc.start})") from None


def detect_trace_format(data: bytes) -> str:
    """``jsonl``, ``pytorch`` or ``chakra`` (binary Chakra when the bytes are not text)."""
    head = data[:4096]
    if any(byte < 9 or 13 < byte < 32 for byte in head):
        return "chakra"  # binary: a protobuf stream
    text = data.decode("utf-8", "replace")
    if looks_like_pytorch_trace(text[:200000]):
        return "pytorch"
    if looks_like_chakra_json(text):
        return "chakra"
    return "jsonl"


def load_trace(paths: Sequence[Path]) -> ImportedTrace:
    """Read a trace of any supported format.

    Parameters
    ----------
    paths : sequence of Path
        One JSON Lines trace, or one profiler / Chakra file per rank of the job.

    Raises
    ------
    TraceError
        One line naming the file: unreadable, mixed formats, nothing to replay.
    """
    blobs = [(Path(p), _bytes(Path(p))) for p in paths]
    kinds = {detect_trace_format(data) for _, data in blobs}
    if len(kinds) > 1:
        raise TraceError(f"the trace files mix formats ({', '.join(sorted(kinds))}); give one")
    kind = kinds.pop()
    if kind == "jsonl":
        if len(blobs) > 1:
            raise TraceError("give one JSON Lines trace (several files are for per-rank traces)")
        path, data = blobs[0]
        return ImportedTrace(read_trace(path, lines=_text(path, data).splitlines()), [], kind)
    if kind == "pytorch":
        texts = [(path, _text(path, data)) for path, data in blobs]
        observations, origins, notes = read_pytorch_trace(texts)
        calls = calls_from_observations([o for o in observations if o.size_bytes > 0], origins)
    else:
        calls, notes = _chakra_calls(blobs)
    if not calls:
        raise TraceError(
            f"{blobs[0][0]}: no collective the model can replay"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    return ImportedTrace(calls, notes, kind)


def _chakra_calls(blobs: list[tuple[Path, bytes]]) -> tuple[list[TraceCall], list[str]]:
    ranks, notes = _read_chakra(blobs)
    members: dict[str, set[int]] = defaultdict(set)
    for rank, _, calls in ranks:
        for call in calls:
            members[group_name(call.node)].add(rank)
    world = tuple(sorted(rank for rank, _, _ in ranks))
    call_id: dict[tuple[int, int], str] = {}
    merged: dict[str, list[tuple[int, ChakraCall]]] = defaultdict(list)
    skipped = 0
    for rank, _, calls in ranks:
        counters: dict[tuple[str, CollectiveOp], int] = defaultdict(int)
        for call in calls:
            op = comm_op(call.node)
            if op is None:
                skipped += 1
                continue
            group = group_name(call.node)
            first = world[0] if group == "world" else min(members[group])
            name = f"{op.value}-{group}@{first}-{counters[(group, op)]}"
            counters[(group, op)] += 1
            call_id[(rank, call.node.id)] = name
            merged[name].append((rank, call))
    if skipped:
        notes.append(f"{skipped} barrier/gather/scatter node(s) left out")
    result = []
    for name, items in merged.items():
        op = comm_op(items[0][1].node)
        assert op is not None
        group = group_name(items[0][1].node)
        group_ranks = world if group == "world" else tuple(sorted(members[group]))
        if len(group_ranks) < 2:
            raise TraceError(
                f"{items[0][1].node.name or name!r}: the ranks of group {group!r} are unknown from "
                "one file; give every rank's Chakra trace"
            )
        size = float(items[0][1].node.attrs.get("comm_size") or 0)
        if op is CollectiveOp.ALL_GATHER:
            size *= len(group_ranks)
        after = sorted({call_id[(r, a)] for r, c in items for a in c.after if (r, a) in call_id})
        compute_s = round(max(c.compute_us for _, c in items) * 1e-6, 9)
        if size <= 0:
            notes.append(f"{name}: no comm_size; left out")
            continue
        result.append(
            TraceCall(
                id=name,
                op=op,
                size_bytes=size,
                ranks=group_ranks,
                start_s=None if after else compute_s,
                after=tuple(after),
                compute_s=compute_s if after else 0.0,
            )
        )
    known = {call.id for call in result}
    return [replace(call, after=tuple(a for a in call.after if a in known)) for call in result], (
        notes
    )
