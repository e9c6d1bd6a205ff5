"""Tables for people: column names with their units, numbers with sensible digits."""

from __future__ import annotations

import html
import math
import numbers
import re
from typing import Any

import pandas as pd

__all__ = ["column_title", "format_cell", "html_table", "markdown_table"]

_UNIT_SUFFIXES = (
    ("_GBps", "GB/s"),
    ("_TBps", "TB/s"),
    ("_us", "us"),
    ("_ms", "ms"),
    ("_s_per_step", "s per step"),
    ("_seconds_per_step", "s per step"),
    ("_per_step", "per step"),
    ("_per_s", "per s"),
    ("_s", "s"),
    ("_bytes", "bytes"),
    ("_elements", "elements"),
    ("_pct", "%"),
    ("_GB", "GB"),
    ("_days", "days"),
)


_SPECIAL = {
    "tflops_per_gpu": "model TFLOP/s per GPU",
    "tokens_per_s": "tokens per s",
    "gpus": "GPUs",
}


def column_title(name: str) -> str:
    """``busbw_GBps`` -> ``busbw (GB/s)``; ``mfu_pct`` -> ``mfu (%)``; others with spaces.

    Examples
    --------
    >>> column_title("busbw_GBps")
    'busbw (GB/s)'
    >>> column_title("exposed_s_per_step")
    'exposed (s per step)'
    """
    if name.endswith(")"):
        return name
    if name in _SPECIAL:
        return _SPECIAL[name]
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({unit})"
    return name.replace("_", " ")


def format_cell(value: Any) -> str:
    """Numbers to 4 significant digits (integers whole), missing values as ``-``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, *, limit: int | None = None) -> str:
    """A GitHub Markdown table (``|`` in cells escaped)."""
    if frame.empty:
        return "_(no rows)_"
    rows = frame if limit is None else frame.head(limit)
    header = [column_title(str(c)) for c in rows.columns]

    def cell(value: Any) -> str:
        return re.sub(r"\|", r"\\|", format_cell(value)).replace("\n", " ")

    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows.itertuples(False)]
    if limit is not None and len(frame) > limit:
        lines.append(f"\n_{len(frame) - limit} more rows in the CSV._")
    return "\n".join(lines)


def html_table(frame: pd.DataFrame, *, css_class: str = "data", limit: int | None = 400) -> str:
    """An escaped HTML table with unit-bearing headers; numbers right-aligned."""
    if frame.empty:
        return "<p class='empty'>(no rows)</p>"
    rows = frame if limit is None else frame.head(limit)
    head = "".join(f"<th>{html.escape(column_title(str(c)))}</th>" for c in rows.columns)
    body = []
    for row in rows.itertuples(False):
        cells = []
        for value in row:
            numeric = isinstance(value, numbers.Number) and not isinstance(value, bool)
            cls = " class='num'" if numeric else ""
            cells.append(f"<td{cls}>{html.escape(format_cell(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if limit is not None and len(frame) > limit:
        more = f"<p class='note'>{len(frame) - limit} more rows in the CSV.</p>"
    return (
        f"<div class='table-wrap'><table class='{css_class}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )
