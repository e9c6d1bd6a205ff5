"""Turn benchmark runs into rows of the measurement schema (``docs/measurements.md``).

What the file says wins; the command line fills what it does not say (``--system``, ``--nodes``,
``--gpus-per-node``, ``--op``) and must not contradict it. The communicator's shape comes from
the ``#  Rank`` lines (hosts and GPUs per host of the first NCCL_TESTS_SPLIT group) or from the
Inspector header; ``NCCL_ALGO`` / ``NCCL_PROTO`` naming one algorithm or protocol become the
forced ``algo`` / ``proto``; ``NCCL_P2P_DISABLE=1`` becomes ``p2p = off``; the per-size choices
NCCL's debug log prints go to ``nccl_algo`` / ``nccl_proto``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.importers.runs import BenchmarkRun, nccl_algorithm, nccl_protocol
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import SystemSpec
from interconnect_sim.validation.measurements import COLUMNS

__all__ = ["RunDefaults", "runs_to_rows"]

_BINARY = re.compile(r"\b([a-z_]+?_perf)(?:_mpi)?\b")
# NCCL's names of the ops in its debug log, for matching per-size algorithm choices.
_NCCL_NAMES = {
    CollectiveOp.ALL_REDUCE: "allreduce",
    CollectiveOp.ALL_GATHER: "allgather",
    CollectiveOp.REDUCE_SCATTER: "reducescatter",
    CollectiveOp.BROADCAST: "broadcast",
    CollectiveOp.REDUCE: "reduce",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDefaults:
    """What the command line says about runs whose files do not say it."""

    system: str | None = None
    nodes: int | None = None
    gpus_per_node: int | None = None
    op: str | None = None


def _shape_from_ranks(run: BenchmarkRun) -> tuple[int | None, int | None]:
    if run.nodes is not None or run.gpus_per_node is not None:
        return run.nodes, run.gpus_per_node
    if not run.ranks or not run.ranks_complete:
        return None, None
    first_group = min(r.group for r in run.ranks)
    groups = {r.group for r in run.ranks}
    if len(groups) > 1:
        size = sum(r.group == first_group for r in run.ranks)
        run.notes.append(
            f"{len(groups)} groups of ranks ran at once (NCCL_TESTS_SPLIT); the rows describe "
            f"one group of {size} ranks, while all groups shared the fabric"
        )
    per_host = Counter(r.host for r in run.ranks if r.group == first_group)
    counts = set(per_host.values())
    if len(counts) != 1:
        detail = ", ".join(f"{host}: {count}" for host, count in per_host.items())
        raise MeasurementError(
            f"{run.where}: ranks per host differ ({detail}); the model needs the same number "
            "of GPUs on every node"
        )
    return len(per_host), counts.pop()


def _resolve(name: str, logged: int | None, given: int | None, run: BenchmarkRun) -> int:
    if logged is not None and given is not None and logged != given:
        raise MeasurementError(
            f"{run.where}: --{name} {given} contradicts the log, whose ranks give {logged}"
        )
    value = logged if logged is not None else given
    if value is None:
        raise MeasurementError(
            f"{run.where}: the file does not list its ranks and hosts; give --nodes and "
            "--gpus-per-node"
        )
    return value


def _system_hint(run: BenchmarkRun, catalog: Catalog) -> str:
    from interconnect_sim.importers.device_ids import gpu_for_name

    names = run.gpu_names()
    if not names:
        return ""
    gpu = gpu_for_name(names[0])
    hint = f"; the log shows {len(run.ranks)} x {names[0]}"
    if gpu is not None:
        presets = [s.id for s in catalog.of_kind(SystemSpec) if s.gpu == gpu]
        if presets:
            hint += f" (presets with that GPU: {', '.join(presets)})"
    return hint


def _op(run: BenchmarkRun, defaults: RunDefaults) -> CollectiveOp | None:
    if run.op is None and defaults.op is None:
        named = _BINARY.search(Path(run.source).name)  # all_gather_perf-node7.log
        run.op = named.group(1) if named else None
    if run.op is None:
        if defaults.op is None:
            raise MeasurementError(
                f"{run.where}: the log does not name its benchmark (all_reduce_perf ...); give --op"
            )
        return parse_op(defaults.op)
    try:
        op = parse_op(run.op)
    except InterconnectSimError:
        run.notes.append(f"{run.op}: not an op the model predicts; its rows are left out")
        return None
    if defaults.op is not None and parse_op(defaults.op) is not op:
        raise MeasurementError(f"{run.where}: --op {defaults.op} contradicts the log ({run.op})")
    return op


def _forced(run: BenchmarkRun) -> tuple[str, str, str]:
    algo_text = run.env.get("NCCL_ALGO", "")
    proto_text = run.env.get("NCCL_PROTO", "")
    algo = nccl_algorithm(algo_text) or "" if algo_text else ""
    proto = nccl_protocol(proto_text) or "" if proto_text else ""
    for name, text, value in (("NCCL_ALGO", algo_text, algo), ("NCCL_PROTO", proto_text, proto)):
        if text and not value:
            run.notes.append(f"{name}={text} is not one algorithm or protocol; not forced")
    p2p = "off" if run.env.get("NCCL_P2P_DISABLE", "").strip() in ("1", "true") else ""
    return algo, proto, p2p


def _provenance(run: BenchmarkRun) -> tuple[str, str]:
    hosts = list(dict.fromkeys(r.host for r in run.ranks))
    measured = ""
    if hosts:
        shown = ", ".join(hosts[:4]) + (" ..." if len(hosts) > 4 else "")
        measured = f"{len(hosts)} host(s) ({shown})"
        if run.gpu_names():
            measured += f", {' / '.join(run.gpu_names())}"
    parts = [run.description]
    if run.nccl_version:
        parts.append(f"NCCL {run.nccl_version}")
    if run.network:
        parts.append(run.network)
    parts.extend(f"{key}={value}" for key, value in sorted(run.env.items()))
    return measured, "; ".join(p for p in parts if p)


def runs_to_rows(
    runs: list[BenchmarkRun], defaults: RunDefaults, catalog: Catalog
) -> list[dict[str, Any]]:
    """Rows of the measurement schema (values as strings) for ``runs``.

    Raises
    ------
    MeasurementError
        The file does not say the system, shape or op and the command line does not either; the
        command line contradicts the file; uneven ranks per host; a single-rank run.
    """
    rows: list[dict[str, Any]] = []
    counts = Counter(run.source for run in runs)
    index: Counter[str] = Counter()
    for run in runs:
        op = _op(run, defaults)
        if op is None or not run.rows:
            continue
        logged_nodes, logged_gpus = _shape_from_ranks(run)
        nodes = _resolve("nodes", logged_nodes, defaults.nodes, run)
        gpus = _resolve("gpus-per-node", logged_gpus, defaults.gpus_per_node, run)
        if nodes * gpus < 2:
            raise MeasurementError(
                f"{run.where}: the run has 1 rank, so nothing crosses a link (nccl-tests built "
                "without MPI=1 and started by mpirun prints one such run per process)"
            )
        if defaults.system is None:
            raise MeasurementError(
                f"{run.where}: which system did it run on? give --system (a preset id, "
                f"`interconnect-sim systems`){_system_hint(run, catalog)}"
            )
        algo, proto, p2p = _forced(run)
        measured, note = _provenance(run)
        index[run.source] += 1
        stem = Path(run.source).stem
        run_id = stem if counts[run.source] == 1 else f"{stem}-{index[run.source]}"
        dtypes = {row.dtype for row in run.rows}
        wrong = sum(row.wrong > 0 for row in run.rows)
        if wrong:
            run.notes.append(f"{wrong} row(s) report wrong results (#wrong > 0); kept")
        for row in run.rows:
            chosen = _tuning(run, op, row.size_bytes, nodes * gpus)
            rows.append(
                {
                    "run_id": f"{run_id}-{row.dtype}" if len(dtypes) > 1 else run_id,
                    "system": defaults.system,
                    "nodes": str(nodes),
                    "gpus_per_node": str(gpus),
                    "op": op.value,
                    "algo": algo,
                    "proto": proto,
                    "p2p": p2p,
                    "bytes": f"{row.size_bytes:.0f}",
                    "time_us": repr(row.time_us),
                    "algbw_GBps": repr(row.algbw_gbps),
                    "busbw_GBps": repr(row.busbw_gbps),
                    "nccl_version": run.nccl_version,
                    "nccl_algo": chosen[0],
                    "nccl_proto": chosen[1],
                    "measured_system": measured,
                    "source_url": f"{run.source}:{row.line}",
                    "source_note": note,
                }
            )
    return rows


def _tuning(run: BenchmarkRun, op: CollectiveOp, size: float, ranks: int) -> tuple[str, str]:
    name = _NCCL_NAMES.get(op)
    if name is None or not run.tuning:
        return "", ""
    per_rank = int(size) // ranks
    for key in ((name, int(size)), (name, per_rank), ("", int(size))):
        if key in run.tuning:
            return run.tuning[key]
    return "", ""


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a string table in the schema's column order."""
    frame = pd.DataFrame(rows, dtype=str)
    return frame[[c for c in COLUMNS if c in frame.columns]].fillna("")
