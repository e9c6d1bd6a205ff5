"""The ``interconnect-sim`` command. Parses arguments, calls the library, prints; no model logic.

User errors (unknown preset, bad number, bad unit, impossible design) print one line to stderr
and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.report.text import format_fabric_summary
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology.analysis import summarize_fabric
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric, list_presets
from interconnect_sim.topology.whatif import with_links_disabled, without_device, without_link

PROG = "interconnect-sim"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _ratio(text: str) -> float:
    """Accept ``2``, ``2.0`` or ``2:1``."""
    head, _, tail = text.partition(":")
    try:
        value = float(head) / (float(tail) if tail else 1.0)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio such as 2 or 2:1") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive ratio")
    return value


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r} must be on or off")
    return text == "on"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="GPU cluster interconnect simulator and planner.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    topo.add_argument("system", help="preset id (see `interconnect-sim systems`)")
    size = topo.add_mutually_exclusive_group()
    size.add_argument("--nodes", type=_positive_int, help="number of systems (default 1)")
    size.add_argument(
        "--scalable-units",
        type=_positive_int,
        metavar="SU",
        help="build this many scalable units of the system's SuperPOD design",
    )
    topo.add_argument(
        "--oversubscription",
        type=_ratio,
        default=1.0,
        metavar="R",
        help="leaf down:up port ratio, e.g. 2 or 2:1 (default 1:1)",
    )
    topo.add_argument("--levels", type=int, choices=(2, 3), help="force 2 or 3 network levels")
    topo.add_argument("--nic", help="replace the compute NICs by this NIC id (e.g. connectx-8)")
    topo.add_argument("--switch", help="network switch id for leaf/spine/core (e.g. q3400)")
    topo.add_argument(
        "--nvlink-lanes",
        type=_positive_int,
        metavar="LANES",
        help="active lanes per NVLink link (e.g. 1 of 2 on NVLink 4)",
    )
    topo.add_argument("--p2p", type=_on_off, metavar="on|off", help="GPU peer-to-peer on or off")
    topo.add_argument(
        "--fail-link",
        nargs=2,
        action="append",
        metavar=("A", "B"),
        default=[],
        help="remove all links between devices A and B (repeatable)",
    )
    topo.add_argument(
        "--disable-links",
        nargs=3,
        action="append",
        metavar=("A", "B", "COUNT"),
        default=[],
        help="disable COUNT of the parallel links between A and B",
    )
    topo.add_argument(
        "--fail-device",
        action="append",
        metavar="DEVICE",
        default=[],
        help="remove a switch or NIC, e.g. n0/nvsw1 or spine3 (repeatable)",
    )
    topo.add_argument("--json", action="store_true", help="print one JSON object")
    topo.add_argument("--draw", type=Path, metavar="FILE.png", help="write a drawing")
    return parser


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


def _apply_failures(fabric: Fabric, args: argparse.Namespace) -> Fabric:
    for a, b in args.fail_link:
        fabric = without_link(fabric, a, b)
    for a, b, count in args.disable_links:
        try:
            links = int(count)
        except ValueError:
            raise ScenarioError(f"--disable-links count {count!r} is not a whole number") from None
        fabric = with_links_disabled(fabric, a, b, links)
    for device in args.fail_device:
        fabric = without_device(fabric, device)
    return fabric


def _cmd_topo(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    request = FabricRequest(
        system=args.system,
        node_count=args.nodes,
        scalable_units=args.scalable_units,
        oversubscription=args.oversubscription,
        levels=args.levels,
        nic=args.nic,
        switch=args.switch,
        nvlink_lanes_per_link=args.nvlink_lanes,
        p2p=args.p2p,
    )
    fabric = _apply_failures(build_fabric(catalog, request), args)
    summary = summarize_fabric(fabric, catalog)
    if args.draw is not None:
        from interconnect_sim.report.drawing import save_fabric_drawing

        if not args.draw.parent.exists():
            raise ScenarioError(f"--draw: folder {str(args.draw.parent)!r} does not exist")
        save_fabric_drawing(fabric, args.draw)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(format_fabric_summary(summary))
        if args.draw is not None:
            print(f"Drawing written to {args.draw}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``interconnect-sim`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "systems":
            return _cmd_systems()
        if args.command == "specs":
            return _cmd_specs(args)
        return _cmd_topo(args)
    except InterconnectSimError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
