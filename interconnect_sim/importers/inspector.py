"""Read the per-operation JSON of NCCL's Inspector profiler plugin (``ext-profiler/inspector``).

Each process writes ``<host>-pid<pid>.log``: one JSON object per completed collective that the
dump thread sampled, ``{"header": {"id", "rank", "n_ranks", "nnodes"}, "metadata": {...},
"coll_perf": {"coll", "coll_sn", "coll_msg_size_bytes", "coll_exec_time_us",
"coll_timing_source", "coll_algobw_gbs", "coll_busbw_gbs"}}`` (format v4.0).

A collective is one ``(communicator id, coll_sn)`` pair; its time is the longest any rank saw
(nccl-tests takes the slowest rank too). The rows are one per communicator, op and message size:
the median of those times, with nccl-tests' size convention (Inspector's ``coll_msg_size_bytes``
is the per-rank buffer for AllGather and ReduceScatter, so it is multiplied by the rank count)
and nccl-tests' busbw factor. Point-to-point records are left out: they do not map to
``sendrecv_perf``'s ring of sends.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from typing import Any

from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor
from interconnect_sim.errors import MeasurementError
from interconnect_sim.importers.runs import (
    MAX_SIZE_BYTES,
    BenchmarkRun,
    ResultRow,
    finite_number,
)

__all__ = ["looks_like_inspector", "read_inspector"]

_OPS = {
    "AllReduce": CollectiveOp.ALL_REDUCE,
    "AllGather": CollectiveOp.ALL_GATHER,
    "ReduceScatter": CollectiveOp.REDUCE_SCATTER,
    "Broadcast": CollectiveOp.BROADCAST,
    "Reduce": CollectiveOp.REDUCE,
}
_PER_RANK_SIZE = (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER)


def looks_like_inspector(text: str) -> bool:
    """True when the text starts with an Inspector record."""
    head = text.lstrip()[:2000]
    return head.startswith("{") and '"coll_perf"' in text[:20000] and '"header"' in head


def _records(text: str, source: str) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Every JSON object in the file (one per line, or pretty-printed), with its line."""
    decoder = json.JSONDecoder()
    records: list[tuple[int, dict[str, Any]]] = []
    notes: list[str] = []
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if position >= len(text):
            break
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            if text.find("\n", position) < 0 or not text[text.find("\n", position) :].strip():
                notes.append(f"line {line}: the last record is cut short and was dropped")
                break
            raise MeasurementError(
                f"{source}, line {line}: expected an Inspector JSON record: {exc.msg}"
            ) from None
        if not isinstance(item, dict):
            raise MeasurementError(f"{source}, line {line}: expected a JSON object")
        records.append((line, item))
    return records, notes


def _fields(record: dict[str, Any], where: str) -> tuple[str, int, int, str, int, float, float]:
    header, perf = record.get("header"), record.get("coll_perf")
    if not isinstance(header, dict) or not isinstance(perf, dict):
        raise MeasurementError(f"{where}: an Inspector record needs 'header' and 'coll_perf'")
    try:
        comm = str(header["id"])
        ranks = int(finite_number(str(header["n_ranks"]), where, "n_ranks", positive=True))
        nodes = int(finite_number(str(header["nnodes"]), where, "nnodes", positive=True))
        op = str(perf["coll"])
        sequence = int(finite_number(str(perf["coll_sn"]), where, "coll_sn"))
        size = finite_number(str(perf["coll_msg_size_bytes"]), where, "coll_msg_size_bytes")
        time = finite_number(str(perf["coll_exec_time_us"]), where, "coll_exec_time_us")
    except KeyError as exc:
        raise MeasurementError(f"{where}: missing {exc.args[0]!r}") from None
    if size > MAX_SIZE_BYTES:
        raise MeasurementError(f"{where}: coll_msg_size_bytes {size:g} is not plausible")
    return comm, ranks, nodes, op, sequence, size, time


def read_inspector(files: list[tuple[str, str]]) -> list[BenchmarkRun]:
    """Runs (one per communicator and op) from the Inspector files of every process of a job.

    Parameters
    ----------
    files : list of (source, text)
        Every ``<host>-pid<pid>.log`` of the job (a collective's time is the slowest rank's).

    Raises
    ------
    MeasurementError
        A record that is not JSON (other than a cut-short last one) or lacks its fields.
    """
    instances: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    sizes: dict[tuple[str, str, int], float] = {}
    shapes: dict[str, tuple[int, int, str, int]] = {}
    skipped: dict[str, int] = defaultdict(int)
    notes: list[str] = []
    for source, text in files:
        records, file_notes = _records(text, source)
        notes.extend(f"{source}: {note}" for note in file_notes)
        for line, record in records:
            where = f"{source}, line {line}"
            comm, ranks, nodes, op, sequence, size, time = _fields(record, where)
            if op not in _OPS:
                skipped[op] += 1
                continue
            if size == 0:
                continue
            shapes.setdefault(comm, (ranks, nodes, source, line))
            key = (comm, op, sequence)
            instances[key].append(time)
            sizes[key] = size
    notes.extend(
        f"{count} {op} record(s) left out: not a collective nccl-tests measures"
        for op, count in sorted(skipped.items())
    )
    return _runs(instances, sizes, shapes, notes)


def _runs(
    instances: dict[tuple[str, str, int], list[float]],
    sizes: dict[tuple[str, str, int], float],
    shapes: dict[str, tuple[int, int, str, int]],
    notes: list[str],
) -> list[BenchmarkRun]:
    times: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for (comm, op, sequence), observed in instances.items():
        if max(observed) > 0:
            times[(comm, op, sizes[(comm, op, sequence)])].append(max(observed))
    runs: dict[tuple[str, str], BenchmarkRun] = {}
    for (comm, op_name, size), samples in sorted(times.items()):
        ranks, nodes, source, line = shapes[comm]
        run = runs.get((comm, op_name))
        if run is None:
            run = BenchmarkRun(source=source, line=line, op=_OPS[op_name].value, nodes=nodes)
            run.description = (
                f"NCCL Inspector, communicator {comm}, {ranks} ranks on {nodes} node(s)"
            )
            if ranks % nodes:
                run.notes.append(
                    f"communicator {comm}: {ranks} ranks on {nodes} nodes is not the same "
                    "number of GPUs on every node; left out"
                )
            run.gpus_per_node = ranks // nodes if ranks % nodes == 0 else None
            runs[(comm, op_name)] = run
        if run.gpus_per_node is None:
            continue
        op = _OPS[op_name]
        size_bytes = size * ranks if op in _PER_RANK_SIZE else size
        time_us = statistics.median(samples)
        algbw = size_bytes / (time_us * 1e-6) / 1e9
        run.rows.append(
            ResultRow(
                line=line,
                size_bytes=size_bytes,
                time_us=time_us,
                algbw_gbps=algbw,
                busbw_gbps=algbw * busbw_factor(op, ranks),
            )
        )
    result = [run for run in runs.values() if run.rows]
    if result and notes:
        result[0].notes.extend(notes)
    return result
