"""The ``import-trace`` command: a profiler or Chakra trace as the project's JSON Lines trace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interconnect_sim.cli.common import PROG
from interconnect_sim.files import check_output_file
from interconnect_sim.importers.traces import load_trace
from interconnect_sim.workload.trace import write_trace

__all__ = ["add_import_commands", "run_import_command"]


def add_import_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import-trace``."""
    trace = commands.add_parser(
        "import-trace",
        help="convert PyTorch profiler or Chakra traces (one file per rank) to a JSON Lines trace",
        description="Read the collectives of a job's traces (PyTorch profiler Chrome-trace JSON "
        "or Chakra execution traces, one file per rank) and write them as a JSON Lines trace "
        "(docs/trace-format.md) with their order, groups, dependencies and compute gaps. "
        "`replay` reads the same files directly.",
    )
    trace.add_argument("traces", type=Path, nargs="+", metavar="TRACE")
    trace.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")


def run_import_command(args: argparse.Namespace) -> int:
    """Run ``import-trace``."""
    out = check_output_file(args.out, "--out")
    imported = load_trace(args.traces)
    for note in imported.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    write_trace(out, imported.calls)
    groups = len({call.ranks or call.group for call in imported.calls})
    print(
        f"{len(imported.calls)} calls in {groups} group(s) from {len(args.traces)} "
        f"{imported.kind} file(s) written to {out}"
    )
    return 0
