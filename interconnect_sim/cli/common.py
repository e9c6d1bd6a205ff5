"""Argument types and helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from interconnect_sim.errors import ScenarioError, UnitError
from interconnect_sim.units import parse_nccl_tests_size

if TYPE_CHECKING:  # imported where used: `--help` needs none of them
    from interconnect_sim.calibration import Calibration
    from interconnect_sim.specs import Catalog
    from interconnect_sim.topology.fabric import Fabric
    from interconnect_sim.topology.presets import FabricRequest

PROG = "interconnect-sim"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def ratio(text: str) -> float:
    """Accept ``2``, ``2.0`` or ``2:1``."""
    head, _, tail = text.partition(":")
    try:
        value = float(head) / (float(tail) if tail else 1.0)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio such as 2 or 2:1") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive ratio")
    return value


def on_off(text: str) -> bool:
    """``on`` or ``off``."""
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r} must be on or off")
    return text == "on"


def message_size(text: str) -> float:
    """nccl-tests spelling (``8``, ``8K``, ``8M``, ``8G``; powers of two) or ``"8 GiB"``."""
    try:
        return parse_nccl_tests_size(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_catalog_option(parser: argparse.ArgumentParser) -> None:
    """``--catalog DIR`` (repeatable): a folder of the user's own spec files."""
    parser.add_argument(
        "--catalog",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of your own GPU, link, NIC, switch and system files in the catalog's "
        "format (repeatable; see docs/systems.md)",
    )


def catalog_from(values: Mapping[str, Any]) -> Catalog:
    """The shipped catalog plus the ``--catalog`` folders named in ``values``."""
    from interconnect_sim.specs import load_catalog

    return load_catalog(*(Path(folder) for folder in values.get("catalog") or ()))


def add_fabric_options(
    parser: argparse.ArgumentParser, *, system_flag: bool, system_required: bool = True
) -> None:
    """Options that describe a fabric (``topo``, ``collective``, ``replay``, ``train``)."""
    system_help = "preset id (any case; `interconnect-sim systems`) or a system .toml file"
    if system_flag:
        parser.add_argument("--system", required=system_required, help=system_help)
    else:
        parser.add_argument("system", help=system_help)
    add_catalog_option(parser)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--nodes", type=positive_int, help="number of systems (default 1)")
    size.add_argument(
        "--scalable-units",
        type=positive_int,
        metavar="SU",
        help="build this many scalable units of the system's SuperPOD design",
    )
    parser.add_argument(
        "--oversubscription",
        type=ratio,
        default=1.0,
        metavar="R",
        help="leaf down:up port ratio, e.g. 2 or 2:1 (default 1:1)",
    )
    parser.add_argument("--levels", type=int, choices=(2, 3), help="force 2 or 3 network levels")
    parser.add_argument("--nic", help="replace the compute NICs by this NIC id (e.g. connectx-8)")
    parser.add_argument(
        "--nic-count", type=positive_int, metavar="N", help="number of compute NICs per system"
    )
    parser.add_argument("--switch", help="network switch id for leaf/spine/core (e.g. q3400)")
    parser.add_argument(
        "--nvlink-lanes",
        type=positive_int,
        metavar="LANES",
        help="active lanes per scale-up link (e.g. 1 of 2 on NVLink 4)",
    )
    parser.add_argument("--p2p", type=on_off, metavar="on|off", help="GPU peer-to-peer on or off")

    parser.add_argument(
        "--fail-link",
        nargs=2,
        action="append",
        metavar=("A", "B"),
        default=[],
        help="remove all links between devices A and B (repeatable)",
    )
    parser.add_argument(
        "--disable-links",
        nargs=3,
        action="append",
        metavar=("A", "B", "COUNT"),
        default=[],
        help="disable COUNT of the parallel links between A and B (repeatable)",
    )
    parser.add_argument(
        "--fail-device",
        action="append",
        metavar="DEVICE",
        default=[],
        help="remove a switch or NIC, e.g. n0/nvsw1 or spine3 (repeatable)",
    )


def add_calibration_option(parser: argparse.ArgumentParser) -> None:
    """``--calibration FILE``, shared by every command that predicts."""
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="calibration file written by `interconnect-sim calibrate` (default: the shipped one)",
    )


def calibration_from(args: argparse.Namespace) -> Calibration:
    """The calibration ``--calibration`` names, or the shipped one."""
    from interconnect_sim.calibration import load_calibration

    return load_calibration(getattr(args, "calibration", None))


def warn_outside_fitted_range(
    calibration: Calibration,
    *,
    system: str,
    nic: str,
    op: str,
    min_bytes: float,
    max_bytes: float,
    nodes: int,
    gpus_per_node: int,
) -> None:
    """Print a warning (stderr) when a prediction uses values fitted on a cluster outside what
    that cluster's rows covered."""
    scope = calibration.scope_for(system, nic)
    if scope is None:
        return
    reasons = scope.fitted_range.outside(op, min_bytes, max_bytes, nodes, gpus_per_node)
    if reasons:
        where = calibration.path or "the calibration"
        print(
            f"{PROG}: warning: {where} was fitted on {scope.rows} rows of {system} "
            f"({nic or 'its NICs'}); this prediction extrapolates: {'; '.join(reasons)}",
            file=sys.stderr,
        )


def _link_count(text: object, where: str) -> int:
    try:
        count = int(str(text))
    except ValueError:
        raise ScenarioError(f"{where}: count {text!r} is not a whole number") from None
    if count < 1:
        raise ScenarioError(f"{where}: count {text!r} must be at least 1")
    return count


def fabric_request_from(values: Mapping[str, Any]) -> FabricRequest:
    """The fabric the shared fabric options (parsed arguments or a scenario) describe."""
    from interconnect_sim.topology.presets import FabricRequest

    disable = tuple(
        (str(a), str(b), _link_count(count, "--disable-links"))
        for a, b, count in values.get("disable_links") or ()
    )
    return FabricRequest(
        system=str(values["system"]),
        node_count=values.get("nodes"),
        scalable_units=values.get("scalable_units"),
        oversubscription=values.get("oversubscription") or 1.0,
        levels=values.get("levels"),
        nic=values.get("nic"),
        nic_count=values.get("nic_count"),
        switch=values.get("switch"),
        nvlink_lanes_per_link=values.get("nvlink_lanes"),
        p2p=values.get("p2p"),
        fail_links=tuple((str(a), str(b)) for a, b in values.get("fail_link") or ()),
        disable_links=disable,
        fail_devices=tuple(str(d) for d in values.get("fail_device") or ()),
    )


def prior_note(fabric: Fabric, catalog: Catalog, calibration: Calibration) -> str | None:
    """A note when the fabric's GPUs use an architecture class whose constants are priors."""
    gpu = catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"]))
    klass = calibration.arch_class(gpu.architecture)
    if klass not in calibration.prior_classes:
        return None
    return (
        f"{gpu.id} ({gpu.architecture}) uses the '{klass}' collective-library class, whose "
        "constants are neutral priors (no LL cap, no NVLS; NCCL's latencies and NVIDIA-fitted "
        "efficiencies), not values its library publishes or fitted to its measurements"
    )


def print_warnings(
    fabric: Fabric, *, stream: TextIO | None = None, extra: tuple[str | None, ...] = ()
) -> None:
    """One ``note:`` line per fabric warning and extra note (on stderr unless told otherwise)."""
    for warning in (*fabric.warnings, *(note for note in extra if note)):
        print(f"note: {warning}", file=stream or sys.stderr)
