"""Argument types and helpers shared by the commands."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from interconnect_sim.errors import UnitError
from interconnect_sim.limits import LIMITS, estimate
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.presets import FabricRequest, fabric_size
from interconnect_sim.units import parse_nccl_tests_size

PROG = "interconnect-sim"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def announce_work(
    catalog: Catalog,
    request: FabricRequest,
    *,
    sizes: int = 0,
    des_sizes: int = 0,
    calls: int = 0,
    analysed: bool = True,
) -> None:
    """Print to stderr what a long run will cost (time and memory), before it starts.

    Silent for requests estimated under :attr:`~interconnect_sim.limits.Limits.announce_s`, and
    for fabrics above the accepted size (building them fails at once with the limit).
    """
    nodes, per_node = fabric_size(catalog, request)
    gpus = nodes * per_node
    if gpus > LIMITS.max_gpus:
        return
    cost = estimate(gpus=gpus, sizes=sizes, des_sizes=des_sizes, calls=calls, analysed=analysed)
    if cost.seconds >= LIMITS.announce_s:
        print(
            f"{PROG}: {gpus:,} GPUs: {cost.describe()} expected on 2 cores "
            "(estimate, docs/limits.md)",
            file=sys.stderr,
            flush=True,
        )


_LARGEST_COUNT = 10**9
"""No count the commands take (nodes, lanes, parallel degrees, batch, sequence) comes near it;
above it, arithmetic in float64 would lose whole units."""


def positive_int(text: str) -> int:
    """A whole number from 1 to 10^9 (ASCII digits)."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.lstrip("+").isdigit()) or len(stripped) > 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 10^9")
    value = int(stripped)
    if not 1 <= value <= _LARGEST_COUNT:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 1 to 10^9")
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
