"""Recognise the lines of an nccl-tests log that are not result rows.

nccl-tests' own ``#`` lines (version, ``nThread``, the ``#  Rank`` list, the column header, the
``# Avg bus bandwidth`` footer), NCCL's ``NCCL INFO`` lines (version, settings from the
environment, the algorithm and protocol it chose per size), launcher prefixes (Open MPI
``--tag-output``, ``srun -l``, timestamps) and the messages a crashing run leaves behind.
Formats follow nccl-tests ``src/common.cu`` / ``src/util.cu`` (2019 to 2026 versions) and NCCL's
``INFO`` messages.
"""

from __future__ import annotations

import re

from interconnect_sim.importers.runs import RankInfo, nccl_algorithm, nccl_protocol

__all__ = [
    "ColumnLayout",
    "clean_line",
    "crash_message",
    "parse_column_header",
    "parse_env_setting",
    "parse_nccl_version",
    "parse_rank_line",
    "parse_tuning_line",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PREFIXES = (
    re.compile(r"^\[\d+,\d+\]<std(?:out|err)>:\s?"),  # mpirun --tag-output
    re.compile(r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?\s"),
    re.compile(r"^\s*\d+: "),  # srun -l
)
_RANK = re.compile(
    r"^#\s+Rank\s+(\d+)\s+(?:Group\s+(\d+)\s+)?Pid\s+\d+\s+on\s+(\S+)\s+device\s+(\d+)"
    r"\s+\[[^\]]*\]\s*(.*)$"
)
_VERSION = re.compile(r"NCCL version (\d+\.\d+\.\d+)")
_ENV = re.compile(r"\b(NCCL_[A-Z0-9_]+) set by environment to (.*?)\.?\s*$")
_TUNING = re.compile(r"NCCL INFO (?:(\w+):\s+)?(\d+) Bytes -> Algo (\w+) proto (\w+)")
_CRASH = re.compile(
    r"\bTest (?:NCCL |CUDA )?failure\b|Segmentation fault|core dumped|\bAborted\b|MPI_ABORT"
    r"|exited on signal|terminate called|\bKilled\b|srun: error|slurmstepd: error|CANCELLED"
    r"|Primary job\s+terminated"
)
_PREAMBLE = ("size", "count", "type", "redop", "root")
_TIME_NAMES = ("time", "cputime")


def clean_line(raw: str) -> str:
    """The line without colour codes and launcher or timestamp prefixes."""
    line = _ANSI.sub("", raw.rstrip("\r\n"))
    for prefix in _PREFIXES:
        line = prefix.sub("", line, count=1)
    return line


def parse_rank_line(line: str) -> RankInfo | None:
    """A ``#  Rank  0 Group  0 Pid 1234 on host device  0 [0x07] GPU name`` line."""
    match = _RANK.match(line)
    if match is None:
        return None
    rank, group, host, device, name = match.groups()
    return RankInfo(int(rank), int(group or 0), host, int(device), name.strip())


def parse_nccl_version(line: str) -> str | None:
    """``2.21.5`` from ``NCCL version 2.21.5+cuda12.4`` (with or without an INFO prefix)."""
    match = _VERSION.search(line)
    return match.group(1) if match else None


def parse_env_setting(line: str) -> tuple[str, str] | None:
    """``("NCCL_ALGO", "Ring")`` from ``NCCL INFO NCCL_ALGO set by environment to Ring``."""
    match = _ENV.search(line)
    return (match.group(1), match.group(2).strip()) if match else None


def parse_tuning_line(line: str) -> tuple[str, int, str, str] | None:
    """(op, bytes, algo, proto) from NCCL's per-call choice (``NCCL_DEBUG_SUBSYS=TUNING``).

    Both spellings: ``AllReduce: 4096 Bytes -> Algo TREE proto LL channel...`` (NCCL 2.20+) and
    ``AllGather: 37756928 Bytes -> Algo 1 proto 2 time 2860.2`` (indices, older NCCL). The op is
    ``""`` where the line does not name it.
    """
    match = _TUNING.search(line)
    if match is None:
        return None
    op, size, algo_text, proto_text = match.groups()
    algo, proto = nccl_algorithm(algo_text), nccl_protocol(proto_text)
    if algo is None or proto is None:
        return None
    return (op or "").lower(), int(size), algo, proto


def crash_message(line: str) -> bool:
    """True for the messages a failing run prints (``Test NCCL failure``, signals, MPI aborts)."""
    return _CRASH.search(line) is not None


class ColumnLayout:
    """The result columns announced by nccl-tests' header line.

    ``#       size   count   type   redop   root   time   algbw   busbw  #wrong   time ...``:
    the preamble (size, count, type, and redop / root where the version prints them) and one
    group of metric columns per variant (out-of-place, in-place), each starting with ``time`` or
    ``cputime`` (``-C 1``) and holding ``algbw``, ``busbw``, an error column (``#wrong``, or
    ``error`` before 2020) and, in newer versions, per-iteration statistics (``-I 1``) or
    ``copybw``. ``timestamp`` (``-S 1``) may close the line.
    """

    def __init__(self, names: list[str], offsets: list[int]) -> None:
        self.preamble: list[str] = []
        self.groups: list[list[str]] = []
        self.group_offsets: list[int] = []
        self.timestamp = False
        for name, offset in zip(names, offsets, strict=True):
            if name == "timestamp":
                self.timestamp = True
            elif name in _TIME_NAMES:
                self.groups.append([name])
                self.group_offsets.append(offset)
            elif self.groups:
                self.groups[-1].append(name)
            else:
                self.preamble.append(name)
        self.cpu_time = any(group[0] == "cputime" for group in self.groups)

    @property
    def labels(self) -> str:
        """The column names, as printed (for messages)."""
        return " ".join(self.preamble + [name for group in self.groups for name in group])

    def problem(self) -> str | None:
        """Why this header cannot be read, or None."""
        if "size" not in self.preamble or not self.groups:
            return "the column header must name size and time columns"
        for group in self.groups:
            if not {"algbw", "busbw"} <= set(group):
                return "each variant needs time, algbw and busbw columns"
        return None


def parse_column_header(line: str) -> ColumnLayout | None:
    """The layout announced by a ``#  size  count ... time  algbw  busbw ...`` line, or None."""
    if not line.startswith("#"):
        return None
    body = " " + line[1:]
    tokens = list(re.finditer(r"\S+", body))
    names = [m.group(0) for m in tokens]
    first_time = next((i for i, name in enumerate(names) if name in _TIME_NAMES), None)
    if first_time is None or not names or names[0] != "size":
        return None
    if not all(name in _PREAMBLE for name in names[:first_time]):
        return None
    return ColumnLayout(names, [m.start() for m in tokens])
