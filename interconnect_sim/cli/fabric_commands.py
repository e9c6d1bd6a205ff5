"""The ``systems``, ``specs`` and ``topo`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import (
    add_catalog_option,
    add_fabric_options,
    catalog_from,
    fabric_request_from,
    print_warnings,
)
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.files import check_output_file
from interconnect_sim.report.text import format_fabric_summary
from interconnect_sim.specs import Catalog, Spec
from interconnect_sim.specs.provenance import field_provenance, origin_label, provenance_summary
from interconnect_sim.topology.analysis import summarize_fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric, list_presets

__all__ = ["add_fabric_commands", "fabric_request_from_args", "run_fabric_command"]

_LARGE_NODES = 256
"""From this many systems `topo` takes seconds (the bisection max-flow): show progress."""

DRAWING_SUFFIXES = (".png", ".svg", ".pdf")
"""Formats ``--draw`` writes, chosen by the file's suffix."""


def add_fabric_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``systems``, ``specs`` and ``topo``."""
    systems = commands.add_parser(
        "systems",
        help="list the systems: presets, your own files, announced (hypothetical) ones",
    )
    add_catalog_option(systems)
    systems.add_argument("--json", action="store_true", help="print one JSON list")
    specs = commands.add_parser("specs", help="list the cited hardware spec catalog")
    add_catalog_option(specs)
    output = specs.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print docs/catalog.md")
    output.add_argument("--json", action="store_true", help="print one JSON list")
    topo = commands.add_parser(
        "topo",
        help="build a fabric and summarise it",
        description="Build a system (a preset id or a system .toml file), or many joined by a "
        "rail-optimized fat tree, and print device and link counts, per-GPU bandwidth per tier, "
        "bisection, switch counts and where each number comes from. Bandwidths are bytes/s per "
        "direction (GB = 1e9 B) unless marked bidirectional.",
    )
    add_fabric_options(topo, system_flag=False)
    topo.add_argument("--json", action="store_true", help="print one JSON object")
    topo.add_argument(
        "--draw", type=Path, metavar="FILE.png", help="write a drawing (.png, .svg or .pdf)"
    )


def fabric_request_from_args(args: argparse.Namespace) -> FabricRequest:
    """The fabric the shared fabric options describe."""
    return fabric_request_from(vars(args))


def run_fabric_command(args: argparse.Namespace) -> int:
    """Dispatch ``systems``, ``specs`` or ``topo``."""
    if args.command == "systems":
        return _cmd_systems(args)
    if args.command == "specs":
        return _cmd_specs(args)
    return _cmd_topo(args)


def _spec_kind(spec: Spec) -> str:
    return type(spec).__name__.removesuffix("Spec").lower()


def _spec_json(catalog: Catalog, spec: Spec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "kind": _spec_kind(spec),
        "name": spec.name,
        "entry": origin_label(spec),
        "status": spec.status,
        "path": str(catalog.path_of(spec.id)),
        "sources": len(spec.sources),
        "inferred": spec.inferred_fields(),
        "provenance": field_provenance(spec),
    }


def _cmd_systems(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    presets = list_presets(catalog)
    if args.json:
        rows = []
        for system in presets:
            row = _spec_json(catalog, system)
            row.update(gpu=system.gpu, gpu_count=system.gpu_count, topology=system.topology)
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':<22}{'GPUs':>5}  {'gpu':<16}{'topology':<20}{'entry':<26}name")
    for system in presets:
        print(
            f"{system.id:<22}{system.gpu_count:>5}  {system.gpu:<16}{system.topology:<20}"
            f"{origin_label(system):<26}{system.name}"
        )
    print("A system file works anywhere a preset id does: --system path/to/system.toml")
    return 0


def _cmd_specs(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    if args.markdown:
        from interconnect_sim.report.catalog_table import catalog_markdown

        print(catalog_markdown(catalog), end="")
        return 0
    ordered = sorted(catalog, key=lambda s: (type(s).__name__, s.id))
    if args.json:
        print(json.dumps([_spec_json(catalog, spec) for spec in ordered], indent=2))
        return 0
    for spec in ordered:
        flag = "" if origin_label(spec) == "preset" else f" [{origin_label(spec)}]"
        print(f"{_spec_kind(spec):<9}{spec.id:<24}{spec.name}{flag}  ({provenance_summary(spec)})")
    return 0


def _cmd_topo(args: argparse.Namespace) -> int:
    if args.draw is not None:
        check_output_file(args.draw, "--draw", suffixes=DRAWING_SUFFIXES)
    catalog = catalog_from(vars(args))
    request = fabric_request_from_args(args)
    large = (request.node_count or 1) >= _LARGE_NODES or (request.scalable_units or 0) >= 8
    bar = progress_bar("topo", "step") if large else None
    try:
        if bar is not None:
            bar.step("building the fabric")
        fabric = build_fabric(catalog, request)
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
        print_warnings(fabric, stream=sys.stderr)
    else:
        print(format_fabric_summary(summary))
        print_warnings(fabric, stream=sys.stdout)
        if args.draw is not None:
            print(f"Drawing written to {args.draw}")
    return 0
