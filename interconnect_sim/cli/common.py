"""Argument types and helpers shared by the commands.

The option declarations live in :mod:`interconnect_sim.scenarios.options` and the converters in
:mod:`interconnect_sim.converters`, so scenario files check values exactly as the command line
does; they are re-exported here for the commands.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from interconnect_sim.converters import message_size, on_off, positive_int, ratio
from interconnect_sim.scenarios.options import add_fabric_options

__all__ = [
    "PROG",
    "Parser",
    "add_fabric_options",
    "message_size",
    "on_off",
    "positive_int",
    "ratio",
]

PROG = "interconnect-sim"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
