"""The program's name and its argument parser class (no other imports: `--help` starts fast)."""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["PROG", "Parser"]

PROG = "interconnect-sim"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
