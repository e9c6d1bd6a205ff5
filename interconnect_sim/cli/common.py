"""Argument types and helpers shared by the commands.

The option declarations live in :mod:`interconnect_sim.scenarios.options` and the converters in
:mod:`interconnect_sim.converters`, so scenario files check values exactly as the command line
does; they are re-exported here for the commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.cli.parser import PROG, Parser
from interconnect_sim.converters import message_size, on_off, positive_int, ratio
from interconnect_sim.scenarios.options import (
    add_calibration_option,
    add_catalog_option,
    add_fabric_options,
    catalog_from,
    fabric_request_from,
)
from interconnect_sim.specs import Catalog
from interconnect_sim.topology.fabric import Fabric

__all__ = [
    "PROG",
    "Parser",
    "add_calibration_option",
    "add_catalog_option",
    "add_fabric_options",
    "calibration_from",
    "catalog_from",
    "fabric_request_from",
    "message_size",
    "on_off",
    "positive_int",
    "print_warnings",
    "prior_note",
    "ratio",
    "warn_outside_fitted_range",
]


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
