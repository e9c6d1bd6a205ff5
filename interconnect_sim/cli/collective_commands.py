"""The ``collective`` command: nccl-tests-style predictions for one collective."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import (
    add_fabric_options,
    calibration_from,
    catalog_from,
    print_warnings,
    prior_note,
    warn_outside_fitted_range,
)
from interconnect_sim.cli.fabric_commands import fabric_request_from_args
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.files import check_output_file, write_atomically
from interconnect_sim.scenarios.collective import TYPE_BYTES, predict_collective, size_sweep
from interconnect_sim.scenarios.options import add_collective_options
from interconnect_sim.topology.presets import build_fabric

__all__ = ["add_collective_command", "run_collective_command"]

_TYPE_BYTES = TYPE_BYTES


def add_collective_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``collective``."""
    parser = commands.add_parser(
        "collective",
        help="predict a collective like nccl-tests prints it",
        description="Predict time, algbw and busbw of a collective over a size sweep, in "
        "nccl-tests' layout, with the algorithm/protocol NCCL's tuner would pick and what limits "
        "it. Sizes: nccl-tests spelling (8, 8K, 8M, 8G = powers of two) or with units "
        "('8 GiB', '1 GB'). GB/s columns use 1 GB = 1e9 B, as nccl-tests does.",
    )
    add_fabric_options(parser, system_flag=True)
    add_collective_options(parser)
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the rows as CSV")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")


def _table(
    estimate: CollectiveEstimate, header: str, rows: list[dict[str, Any]], *, both: bool
) -> str:
    extra = f" {'des time':>10} {'des/ana':>8}" if both else ""
    extra_units = f" {'(us)':>10} {'':>8}" if both else ""
    lines = [
        header,
        "#",
        f"# {'size':>12} {'count':>12} {'type':>6} {'time':>10} {'algbw':>8} {'busbw':>8}"
        f"{extra}  {'algo':<9}{'proto':<7}bottleneck",
        f"# {'(B)':>12} {'(elements)':>12} {'':>6} {'(us)':>10} {'(GB/s)':>8} {'(GB/s)':>8}"
        f"{extra_units}",
    ]
    del estimate
    for row in rows:
        both_cells = f" {row['des_time_us']:>10.2f} {row['des_vs_analytic']:>+8.2%}" if both else ""
        lines.append(
            f"  {row['bytes']:>12d} {row['bytes'] // _TYPE_BYTES:>12d} {'float':>6} "
            f"{row['time_us']:>10.2f} {row['algbw_GBps']:>8.2f} {row['busbw_GBps']:>8.2f}"
            f"{both_cells}  {row['algo']:<9}{row['proto'].upper():<7}{row['bottleneck']}"
        )
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    write_atomically(path, write)


def run_collective_command(args: argparse.Namespace) -> int:
    """Run ``collective``."""
    catalog = catalog_from(vars(args))
    op = parse_op(args.op)
    sizes = size_sweep(args.min_bytes, args.max_bytes, args.step_factor)  # before any work
    if args.csv is not None:
        check_output_file(args.csv, "--csv")
    fabric = build_fabric(catalog, fabric_request_from_args(args))
    calibration = calibration_from(args)
    bandwidths = AnalyticEngine(catalog, calibration).bandwidths(
        fabric, gpus_per_node=args.gpus_per_node
    )
    warn_outside_fitted_range(
        calibration,
        system=bandwidths.system,
        nic=bandwidths.nic_spec,
        op=op.value,
        min_bytes=float(sizes.min()),
        max_bytes=float(sizes.max()),
        nodes=bandwidths.node_count,
        gpus_per_node=bandwidths.gpus_per_node,
    )
    bar = progress_bar("des", "size") if args.engine != "analytic" else None
    try:
        prediction = predict_collective(
            fabric, vars(args), catalog, progress=None if bar is None else bar.update_to
        )
    finally:
        if bar is not None:
            bar.close()
    estimate = prediction.estimate
    rows = prediction.rows()
    note = prior_note(fabric, catalog, calibration)
    if args.csv is not None:
        _write_csv(args.csv, rows)
    if args.json:
        print(json.dumps(rows, indent=2))
        print_warnings(fabric, stream=sys.stderr, extra=(note,))
        return 0
    engines = (
        "analytic and discrete-event engines"
        if args.engine == "both"
        else (f"{estimate.engine} engine")
    )
    header = (
        f"# {op.value} on {fabric.name}: {estimate.rank_count} ranks "
        f"({estimate.node_count} node(s) x {estimate.gpus_per_node} GPUs), {engines}"
    )
    if op is CollectiveOp.ALL_GATHER or op is CollectiveOp.REDUCE_SCATTER:
        header += "\n# size = whole gathered buffer (n x per-rank), as nccl-tests prints it"
    print(_table(estimate, header, rows, both=args.engine == "both"))
    print_warnings(fabric, stream=sys.stdout, extra=(note,))
    return 0
