"""Argument types and helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.errors import UnitError
from interconnect_sim.units import parse_nccl_tests_size

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


def add_fabric_options(parser: argparse.ArgumentParser, *, system_flag: bool) -> None:
    """Options that describe a fabric (shared by ``topo`` and ``collective``)."""
    if system_flag:
        parser.add_argument(
            "--system", required=True, help="preset id (`interconnect-sim systems`)"
        )
    else:
        parser.add_argument("system", help="preset id (see `interconnect-sim systems`)")
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
        help="active lanes per NVLink link (e.g. 1 of 2 on NVLink 4)",
    )
    parser.add_argument("--p2p", type=on_off, metavar="on|off", help="GPU peer-to-peer on or off")


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
