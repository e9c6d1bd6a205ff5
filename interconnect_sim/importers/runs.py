"""What a benchmark log says, before it becomes rows of the measurement schema.

Every measurement reader (nccl-tests text and JSON, NCCL Inspector) produces :class:`BenchmarkRun`
objects: the op, the communicator shape when the file tells it, the NCCL facts it printed, and one
:class:`ResultRow` per result line. :mod:`interconnect_sim.importers.measurement_rows` turns them
into the CSV schema of ``docs/measurements.md``, filling what the file does not say from the
command line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from interconnect_sim.errors import MeasurementError

__all__ = [
    "NCCL_ALGORITHMS",
    "NCCL_PROTOCOLS",
    "BenchmarkRun",
    "RankInfo",
    "ResultRow",
    "finite_number",
    "nccl_algorithm",
    "nccl_protocol",
]

MAX_SIZE_BYTES = 2.0**50
"""Largest message a row may carry (1 PiB): bigger is a damaged number, not a measurement."""

# NCCL's algorithm and protocol names (and the indices its debug log printed before 2.20,
# in the order of NCCL_ALGO_* / NCCL_PROTO_* in src/include/devcomm.h).
_ALGORITHM_NAMES = {
    "tree": "tree",
    "ring": "ring",
    "collnet": "collnet",
    "collnetdirect": "collnet",
    "collnet_direct": "collnet",
    "collnetchain": "collnet",
    "collnet_chain": "collnet",
    "nvls": "nvls",
    "nvlstree": "nvlstree",
    "nvls_tree": "nvlstree",
    "pat": "pat",
}
_ALGORITHM_INDICES = ("tree", "ring", "collnet", "collnet", "nvls", "nvlstree", "pat")
_PROTOCOL_NAMES = {"ll": "ll", "ll128": "ll128", "simple": "simple"}
_PROTOCOL_INDICES = ("ll", "ll128", "simple")
NCCL_ALGORITHMS = tuple(sorted(set(_ALGORITHM_NAMES.values())))
NCCL_PROTOCOLS = tuple(_PROTOCOL_INDICES)


def nccl_algorithm(text: str) -> str | None:
    """The schema's algorithm name for NCCL's spelling (``Ring``, ``NVLS_TREE``, ``1``), or None."""
    key = text.strip().lower()
    if key.isdigit():
        index = int(key)
        return _ALGORITHM_INDICES[index] if index < len(_ALGORITHM_INDICES) else None
    return _ALGORITHM_NAMES.get(key)


def nccl_protocol(text: str) -> str | None:
    """The schema's protocol name for NCCL's spelling (``LL128``, ``Simple``, ``2``), or None."""
    key = text.strip().lower()
    if key.isdigit():
        index = int(key)
        return _PROTOCOL_INDICES[index] if index < len(_PROTOCOL_INDICES) else None
    return _PROTOCOL_NAMES.get(key)


def finite_number(text: str, where: str, what: str, *, positive: bool = False) -> float:
    """Parse a number printed by a benchmark; reject NaN, infinities and negatives.

    Raises
    ------
    MeasurementError
        Naming ``where`` (file and line) and what was expected.
    """
    try:
        value = float(text)
    except ValueError:
        raise MeasurementError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "a positive" if positive else "a non-negative"
        raise MeasurementError(f"{where}: {what} {text!r} must be {need} finite number")
    return value


@dataclass(frozen=True, slots=True)
class RankInfo:
    """One ``#  Rank`` line of nccl-tests (or one device of its JSON)."""

    rank: int
    group: int
    host: str
    device: int
    gpu_name: str


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One result of a benchmark: a message size and what it measured.

    ``time_us``, ``algbw_GBps`` and ``busbw_GBps`` are nccl-tests' columns (out-of-place unless
    ``in_place`` says the file only had in-place numbers). ``nccl_algo`` / ``nccl_proto`` are
    what NCCL's debug log says it chose for this size, when it says so.
    """

    line: int
    size_bytes: float
    time_us: float
    algbw_gbps: float
    busbw_gbps: float
    dtype: str = ""
    in_place: bool = False
    wrong: float = 0.0
    op: str | None = None
    nodes: int | None = None
    gpus_per_node: int | None = None
    nccl_algo: str = ""
    nccl_proto: str = ""


@dataclass(slots=True)
class BenchmarkRun:
    """One run of a benchmark binary (or one communicator of an Inspector file).

    Attributes
    ----------
    source : str
        The file.
    line : int
        Where the run starts in the file (1-based).
    op : str, optional
        nccl-tests binary or op name (``all_reduce_perf``), when the file names it.
    ranks : list of RankInfo
        The ``#  Rank`` lines, in order.
    ranks_complete : bool
        False when nccl-tests cut the rank list short (``...``).
    nodes, gpus_per_node : int, optional
        The communicator shape when the format states it directly (Inspector).
    nccl_version : str
        ``2.21.5`` when the log prints it.
    env : dict
        ``NCCL_*`` settings the log shows (``set by environment to`` lines, ``-J`` env lists,
        ``VAR=value`` on an echoed command line).
    rows : list of ResultRow
    notes : list of str
        Warnings for the user (run cut short, rows taken from in-place columns ...).
    description : str
        Command-line flags and other provenance for ``source_note``.
    """

    source: str
    line: int
    op: str | None = None
    ranks: list[RankInfo] = field(default_factory=list)
    ranks_complete: bool = True
    nodes: int | None = None
    gpus_per_node: int | None = None
    nccl_version: str = ""
    env: dict[str, str] = field(default_factory=dict)
    rows: list[ResultRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    description: str = ""
    network: str = ""
    tuning: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """``file, line N`` of the start of the run, for messages."""
        return f"{self.source}, line {self.line}"

    def gpu_names(self) -> list[str]:
        """Distinct GPU names of the ranks, in order of appearance."""
        return list(dict.fromkeys(r.gpu_name for r in self.ranks if r.gpu_name))
