"""The ``systems``, ``specs`` and ``topo`` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from interconnect_sim.cli.common import add_fabric_options
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.files import check_output_file
from interconnect_sim.report.text import format_fabric_summary
from interconnect_sim.scenarios.options import add_failure_options, apply_failures, fabric_request
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology.analysis import summarize_fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric, list_presets

__all__ = ["add_fabric_commands", "fabric_request_from_args", "run_fabric_command"]

_LARGE_NODES = 256
"""From this many systems `topo` takes seconds (the bisection max-flow): show progress."""

DRAWING_SUFFIXES = (".png", ".svg", ".pdf")
"""Formats ``--draw`` writes, chosen by the file's suffix."""


def add_fabric_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``systems``, ``specs`` and ``topo``."""
    commands.add_parser("systems", help="list the preset systems")
    specs = commands.add_parser("specs", help="list the cited hardware spec catalog")
    specs.add_argument("--markdown", action="store_true", help="print docs/catalog.md")
    topo = commands.add_parser(
        "topo",
        help="build a fabric and summarise it",
        description="Build a preset system, or many joined by a rail-optimized fat tree, and "
        "print device and link counts, per-GPU bandwidth per tier, bisection and switch counts. "
        "Bandwidths are bytes/s per direction (GB = 1e9 B) unless marked bidirectional.",
    )
    add_fabric_options(topo, system_flag=False)
    add_failure_options(topo)
    topo.add_argument("--json", action="store_true", help="print one JSON object")
    topo.add_argument(
        "--draw", type=Path, metavar="FILE.png", help="write a drawing (.png, .svg or .pdf)"
    )


def fabric_request_from_args(args: argparse.Namespace) -> FabricRequest:
    """The fabric the shared fabric options describe."""
    return fabric_request(vars(args))


def run_fabric_command(args: argparse.Namespace) -> int:
    """Dispatch ``systems``, ``specs`` or ``topo``."""
    if args.command == "systems":
        return _cmd_systems()
    if args.command == "specs":
        return _cmd_specs(args)
    return _cmd_topo(args)


def _cmd_systems() -> int:
    catalog = load_catalog()
    for system in list_presets(catalog):
        gpu = catalog.gpu(system.gpu)
        print(f"{system.id:<20} {system.gpu_count:>3} x {gpu.id:<16} {system.name}")
    return 0


def _cmd_specs(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if args.markdown:
        from interconnect_sim.report.catalog_table import catalog_markdown

        print(catalog_markdown(catalog), end="")
        return 0
    for spec in sorted(catalog, key=lambda s: (type(s).__name__, s.id)):
        inferred = (
            f"  (inferred: {', '.join(sorted(spec.inferred_fields()))})" if spec.inferred else ""
        )
        print(
            f"{type(spec).__name__.removesuffix('Spec').lower():<9}{spec.id:<24}{spec.name}{inferred}"
        )
    return 0


def _cmd_topo(args: argparse.Namespace) -> int:
    if args.draw is not None:
        check_output_file(args.draw, "--draw", suffixes=DRAWING_SUFFIXES)
    catalog = load_catalog()
    request = fabric_request_from_args(args)
    large = (request.node_count or 1) >= _LARGE_NODES or (request.scalable_units or 0) >= 8
    bar = progress_bar("topo", "step") if large else None
    try:
        if bar is not None:
            bar.step("building the fabric")
        fabric = apply_failures(build_fabric(catalog, request), vars(args))
        if bar is not None:
            bar.step(f"bisection max-flow over {len(fabric.gpus):,} GPUs")
        summary = summarize_fabric(fabric, catalog)
    finally:
        if bar is not None:
            bar.close()
    if args.draw is not None:
        from interconnect_sim.report.drawing import save_fabric_drawing

        save_fabric_drawing(fabric, args.draw)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(format_fabric_summary(summary))
        if args.draw is not None:
            print(f"Drawing written to {args.draw}")
    return 0
