"""Argument types and helpers shared by the commands.

The option declarations live in :mod:`interconnect_sim.scenarios.options` and the converters in
:mod:`interconnect_sim.converters`, so scenario files check values exactly as the command line
does; they are re-exported here for the commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, TextIO

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.converters import message_size, on_off, positive_int, ratio
from interconnect_sim.scenarios.options import (
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
    "add_catalog_option",
    "add_fabric_options",
    "catalog_from",
    "fabric_request_from",
    "message_size",
    "on_off",
    "positive_int",
    "print_warnings",
    "prior_note",
    "ratio",
]

PROG = "interconnect-sim"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
