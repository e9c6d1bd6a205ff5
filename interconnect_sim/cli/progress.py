"""Progress bars for long runs, drawn with tqdm on stderr, only when it is a terminal.

Library code reports progress through plain callbacks (``progress(done, total)`` or
``progress(description)``); these adapters turn them into a bar, and into nothing at all when the
output is piped or captured, so logs and tests stay clean.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Bar", "progress_bar"]


class Bar:
    """A tqdm bar with the callback shapes the library uses."""

    def __init__(self, desc: str, unit: str, total: int | None) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(
            total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True
        )

    def update_to(self, done: int, total: int) -> None:
        """``progress(done, total)``: move the bar to ``done`` of ``total``."""
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def step(self, description: str) -> None:
        """``progress(description)``: one more step, naming what runs now."""
        self._bar.set_postfix_str(description, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        self._bar.close()


def progress_bar(desc: str, unit: str, total: int | None = None) -> Bar | None:
    """A bar on a terminal, ``None`` when stderr is not one (pipes, files, tests)."""
    if not sys.stderr.isatty():
        return None
    return Bar(desc, unit, total)
