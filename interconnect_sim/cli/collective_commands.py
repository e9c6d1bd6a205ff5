"""The ``collective`` command: nccl-tests-style predictions for one collective."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.cli.common import (
    add_calibration_option,
    add_fabric_options,
    calibration_from,
    catalog_from,
    message_size,
    positive_int,
    print_warnings,
    prior_note,
    warn_outside_fitted_range,
)
from interconnect_sim.cli.fabric_commands import fabric_request_from_args
from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import write_atomically
from interconnect_sim.topology.presets import build_fabric

__all__ = ["add_collective_command", "run_collective_command"]

_TYPE_BYTES = 4  # nccl-tests' default data type, float


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
    parser.add_argument(
        "--gpus-per-node",
        type=positive_int,
        metavar="G",
        help="GPUs per node in the communicator (default all)",
    )
    parser.add_argument(
        "--op",
        required=True,
        help="all_reduce, all_gather, reduce_scatter, alltoall, broadcast, reduce or sendrecv",
    )
    parser.add_argument("--min-bytes", type=message_size, default=8.0, metavar="SIZE")
    parser.add_argument("--max-bytes", type=message_size, default=float(2**33), metavar="SIZE")
    parser.add_argument(
        "--step-factor",
        type=float,
        default=2.0,
        metavar="F",
        help="multiply the size by F each step (default 2)",
    )
    parser.add_argument(
        "--algo", help="force an algorithm like NCCL_ALGO: ring, tree, nvls, nvlstree, collnet, pat"
    )
    parser.add_argument("--proto", help="force a protocol like NCCL_PROTO: ll, ll128, simple")
    add_calibration_option(parser)
    parser.add_argument(
        "--engine",
        choices=("analytic", "des", "both"),
        default="analytic",
        help="analytic (default), des (discrete-event), or both side by side",
    )
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the rows as CSV")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")


def _sizes(args: argparse.Namespace) -> NDArray[np.float64]:
    if args.min_bytes <= 0 or args.max_bytes < args.min_bytes:
        raise ScenarioError("--min-bytes must be positive and not above --max-bytes")
    if not args.step_factor > 1.0:
        raise ScenarioError(f"--step-factor must be above 1, got {args.step_factor}")
    sizes = [args.min_bytes]
    while sizes[-1] * args.step_factor <= args.max_bytes * (1 + 1e-12):
        sizes.append(sizes[-1] * args.step_factor)
    result: NDArray[np.float64] = np.floor(np.array(sizes, dtype=float))
    return result


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
    sizes = _sizes(args)
    if args.csv is not None and not args.csv.parent.exists():
        raise ScenarioError(f"--csv: folder {str(args.csv.parent)!r} does not exist")
    fabric = build_fabric(catalog, fabric_request_from_args(args))
    calibration = calibration_from(args)
    engine: AnalyticEngine | DiscreteEventEngine = (
        DiscreteEventEngine(catalog, calibration)
        if args.engine == "des"
        else AnalyticEngine(catalog, calibration)
    )
    options = {
        "gpus_per_node": args.gpus_per_node,
        "algorithm": args.algo.lower() if args.algo else None,
        "protocol": args.proto.lower() if args.proto else None,
    }
    analytic = AnalyticEngine(catalog, calibration)
    bandwidths = analytic.bandwidths(fabric, gpus_per_node=args.gpus_per_node)
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
    estimate = engine.estimate(fabric, op, sizes, **options, bandwidths=bandwidths)
    rows = estimate.rows()
    if args.engine == "both":
        des = DiscreteEventEngine(catalog, calibration).estimate(
            fabric, op, sizes, **options, bandwidths=bandwidths
        )
        for row, des_row in zip(rows, des.rows(), strict=True):
            row["des_time_us"] = des_row["time_us"]
            row["des_busbw_GBps"] = des_row["busbw_GBps"]
            row["des_vs_analytic"] = des_row["time_us"] / row["time_us"] - 1.0
    if args.csv is not None:
        _write_csv(args.csv, rows)
    if args.json:
        print(json.dumps(rows, indent=2))
        print_warnings(fabric, stream=sys.stderr, extra=(prior_note(fabric, catalog, calibration),))
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
    print_warnings(fabric, stream=sys.stdout, extra=(prior_note(fabric, catalog, calibration),))
    return 0
