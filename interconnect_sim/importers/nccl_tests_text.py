"""Read the text output of nccl-tests binaries, as printed.

Handles every layout nccl-tests has printed since 2019 (see ``nccl_log_lines``): with or
without ``redop``/``root`` columns and in-place columns, ``#wrong``/``error`` or ``N/A``,
``-I`` per-iteration columns, ``-S`` timestamps, the ``#  Rank`` list of single- and
multi-process (MPI) runs, ``-g``/``-t`` variants, several runs in one file (a script that runs
every binary), interleaved ``NCCL INFO`` lines and launcher prefixes. A run that stopped
half-way keeps the rows it printed, with a note; a damaged row anywhere else is an error naming
the file, the line and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from interconnect_sim.errors import MeasurementError
from interconnect_sim.importers.nccl_log_lines import (
    ColumnLayout,
    clean_line,
    crash_message,
    parse_column_header,
    parse_env_setting,
    parse_nccl_version,
    parse_rank_line,
    parse_tuning_line,
)
from interconnect_sim.importers.runs import (
    MAX_SIZE_BYTES,
    BenchmarkRun,
    ResultRow,
    finite_number,
)

__all__ = ["looks_like_nccl_tests_text", "read_nccl_tests_text"]

_TOKEN = re.compile(r"\S+")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
_CLOCK = re.compile(r"^\d\d:\d\d:\d\d$")
_BINARY = re.compile(r"\b([a-z_]+?_perf)(?:_mpi)?\b")
_ASSIGNMENT = re.compile(r"\b(NCCL_[A-Z0-9_]+)=(\S+)")
_NTHREAD = re.compile(r"^#\s*nThread\s+(\d+)\s+nGpus\s+(\d+)\s+minBytes\s+(\d+)\s+maxBytes\s+(\d+)")
_FOOTERS = ("# Avg bus bandwidth", "# Out of bounds values", "# Collective test concluded")
# Which markers start a new run when the current one has already seen them.
_RESTARTS = {
    "version": {"version", "starting", "nthread", "header", "rows"},
    "starting": {"starting", "nthread", "header", "rows"},
    "nthread": {"nthread", "header", "rows"},
}


def looks_like_nccl_tests_text(text: str) -> bool:
    """True when the text has an nccl-tests column header or ``# nThread`` line."""
    for raw in text.splitlines()[:5000]:
        line = clean_line(raw)
        if _NTHREAD.match(line) or parse_column_header(line) is not None:
            return True
    return False


@dataclass
class _Context:
    """NCCL facts seen before the first nccl-tests line of a run (command echo, INFO lines)."""

    op: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    nccl_version: str = ""


class _LogParser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.runs: list[BenchmarkRun] = []
        self.run: BenchmarkRun | None = None
        self.seen: set[str] = set()
        self.layout: ColumnLayout | None = None
        self.in_table = False
        self.bad_row: tuple[int, str] | None = None
        self.pending = _Context()

    def where(self, number: int) -> str:
        return f"{self.source}, line {number}"

    # -- runs -----------------------------------------------------------------------------

    def _close(self) -> None:
        run = self.run
        if run is None:
            return
        if self.in_table and run.rows:
            run.notes.append(
                f"the run starting at line {run.line} stopped before its '# Avg bus bandwidth' "
                f"footer; its {len(run.rows)} complete result rows are kept"
            )
        if self.bad_row is not None:
            number, message = self.bad_row
            run.notes.append(
                f"line {number}: incomplete last result row dropped ({message.split(': ', 1)[-1]})"
            )
        self.runs.append(run)
        self.run, self.layout, self.in_table, self.bad_row = None, None, False, None
        self.seen = set()

    def _current(self, number: int) -> BenchmarkRun:
        if self.run is None:
            context = self.pending
            self.run = BenchmarkRun(
                source=self.source,
                line=number,
                op=context.op,
                env=dict(context.env),
                nccl_version=context.nccl_version,
            )
            self.pending = _Context()
        return self.run

    def _boundary(self, kind: str, number: int) -> BenchmarkRun:
        if self.run is not None and self.seen & _RESTARTS[kind]:
            self._close()
        run = self._current(number)
        self.seen.add(kind)
        return run

    # -- lines ----------------------------------------------------------------------------

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return
        if "NCCL INFO" in line or "NCCL WARN" in line or "NCCL version" in line:
            self._nccl_line(line)
        elif stripped.startswith("#"):
            self._comment(number, line)
        elif stripped[0].isdigit():
            self._row(number, line)
        else:
            self._other(number, stripped)

    def _nccl_line(self, line: str) -> None:
        target = self.run
        version = parse_nccl_version(line)
        setting = parse_env_setting(line)
        if target is None:
            if version:
                self.pending.nccl_version = version
            if setting:
                self.pending.env[setting[0]] = setting[1]
            return
        if version:
            target.nccl_version = version
        if setting:
            target.env[setting[0]] = setting[1]
        tuning = parse_tuning_line(line)
        if tuning is not None:
            op, size, algo, proto = tuning
            target.tuning[(op, size)] = (algo, proto)
        if "Using" in line and re.search(r"NET/\w+\s*:\s*Using", line):
            target.network = line[line.index("NET/") :].strip()

    def _comment(self, number: int, line: str) -> None:
        text = line.strip()
        if text.startswith("# nccl-tests version"):
            run = self._boundary("version", number)
            run.description = text.removeprefix("# ").strip()
        elif text.startswith("# Collective test starting:"):
            run = self._boundary("starting", number)
            run.op = text.split(":", 1)[1].strip() or run.op
        elif (match := _NTHREAD.match(text)) is not None:
            run = self._boundary("nthread", number)
            threads, gpus, low, high = match.groups()
            flags = f"-t {threads} -g {gpus} -b {low} -e {high}"
            run.description = f"{run.description}; {flags}" if run.description else flags
        elif (rank := parse_rank_line(text)) is not None:
            self._current(number).ranks.append(rank)
        elif text.endswith("...") and self.run is not None and self.run.ranks:
            self.run.ranks_complete = False
        elif (layout := parse_column_header(line)) is not None:
            self._header(number, layout)
        elif text.startswith(_FOOTERS):
            self._footer()

    def _header(self, number: int, layout: ColumnLayout) -> None:
        problem = layout.problem()
        if problem is not None:
            raise MeasurementError(f"{self.where(number)}: {problem}; got '{layout.labels}'")
        if layout.cpu_time:
            raise MeasurementError(
                f"{self.where(number)}: this run reports CPU time (nccl-tests -C 1), not the "
                "time of the collective; rerun without -C to score the model"
            )
        if self.run is not None and "header" in self.seen and not self.in_table:
            self._close()  # a second table without its own nThread line: a new run
        self._current(number)
        self.seen.add("header")
        self.layout, self.in_table = layout, True

    def _footer(self) -> None:
        if self.bad_row is not None:
            raise MeasurementError(self.bad_row[1])
        self.in_table = False

    def _other(self, number: int, text: str) -> None:
        if crash_message(text) and self.run is not None:
            if not any("reports a failure" in note for note in self.run.notes):
                self.run.notes.append(f"line {number}: the log reports a failure: {text[:100]!r}")
            return
        binary = _BINARY.search(text)
        assignments = _ASSIGNMENT.findall(text)
        if binary is None and not assignments:
            return
        # A command line echoed after a run's table belongs to the next run.
        run = None if "header" in self.seen else self.run
        (self.pending.env if run is None else run.env).update(dict(assignments))
        if binary is not None:
            if run is None:
                self.pending.op = binary.group(1)
            elif run.op is None:
                run.op = binary.group(1)

    # -- result rows ----------------------------------------------------------------------

    def _row(self, number: int, line: str) -> None:
        if self.run is None or self.layout is None:
            raise MeasurementError(
                f"{self.where(number)}: a result row before nccl-tests' column header "
                "('#  size  count  type ... time  algbw  busbw'); keep the header lines that "
                "nccl-tests prints"
            )
        if not self.in_table:
            raise MeasurementError(
                f"{self.where(number)}: a result row after the run's '# Avg bus bandwidth' "
                "footer; expected a new run's header first"
            )
        if self.bad_row is not None:
            raise MeasurementError(self.bad_row[1])
        try:
            row = _parse_row(self.where(number), number, line, self.layout)
        except MeasurementError as exc:
            self.bad_row = (number, str(exc))
            return
        self.run.rows.append(row)
        self.seen.add("rows")

    def finish(self) -> list[BenchmarkRun]:
        self._close()
        return self.runs


def _split_groups(
    where: str, line: str, layout: ColumnLayout
) -> tuple[list[str], list[dict[str, str] | None]]:
    tokens = list(_TOKEN.finditer(line))
    if (
        layout.timestamp
        and len(tokens) >= 2
        and _DATE.match(tokens[-2].group(0))
        and _CLOCK.match(tokens[-1].group(0))
    ):
        tokens = tokens[:-2]
    values = [t.group(0) for t in tokens]
    n_pre = len(layout.preamble)
    sizes = [len(group) for group in layout.groups]
    groups: list[dict[str, str] | None] = []
    if len(values) == n_pre + sum(sizes):
        start = n_pre
        for names in layout.groups:
            groups.append(dict(zip(names, values[start : start + len(names)], strict=True)))
            start += len(names)
    elif len(sizes) == 2 and len(values) == n_pre + sizes[1] and len(values) > n_pre:
        # Only the in-place numbers printed (nccl-tests leaves the out-of-place ones blank).
        middle = (layout.group_offsets[0] + layout.group_offsets[1]) / 2
        if tokens[n_pre].start() < middle:
            raise MeasurementError(
                f"{where}: expected {n_pre + sum(sizes)} fields ({layout.labels}), "
                f"got {len(values)}"
            )
        groups = [None, dict(zip(layout.groups[1], values[n_pre:], strict=True))]
    else:
        raise MeasurementError(
            f"{where}: expected {n_pre + sum(sizes)} fields ({layout.labels}), got {len(values)}"
        )
    return values[:n_pre], groups


def _parse_row(where: str, number: int, line: str, layout: ColumnLayout) -> ResultRow:
    preamble, groups = _split_groups(where, line, layout)
    fields = dict(zip(layout.preamble, preamble, strict=True))
    size = finite_number(fields["size"], where, "size", positive=True)
    if size > MAX_SIZE_BYTES or not float(size).is_integer():
        raise MeasurementError(f"{where}: size {fields['size']!r} is not a plausible byte count")
    metrics = groups[0] if groups[0] is not None else groups[1]
    assert metrics is not None
    wrong_text = metrics.get("#wrong", "0")
    wrong = 0.0 if wrong_text == "N/A" else finite_number(wrong_text, where, "#wrong")
    return ResultRow(
        line=number,
        size_bytes=size,
        time_us=finite_number(metrics[layout.groups[0][0]], where, "time", positive=True),
        algbw_gbps=finite_number(metrics["algbw"], where, "algbw"),
        busbw_gbps=finite_number(metrics["busbw"], where, "busbw"),
        dtype=fields.get("type", ""),
        in_place=groups[0] is None,
        wrong=wrong,
    )


def read_nccl_tests_text(text: str, source: str) -> list[BenchmarkRun]:
    """Every run in an nccl-tests log.

    Parameters
    ----------
    text : str
        The whole log.
    source : str
        The file name, for messages.

    Returns
    -------
    list of BenchmarkRun
        One per run (a file may hold several binaries' output), with its rows and notes.

    Raises
    ------
    MeasurementError
        A damaged result row (not the last thing the run printed), a result row before any
        column header, a header without time/algbw/busbw, or CPU-time output (``-C 1``).
    """
    parser = _LogParser(source)
    for number, raw in enumerate(text.splitlines(), start=1):
        parser.feed(number, clean_line(raw))
    return parser.finish()
