"""Strict reading of the user's CSV files (measurements, training runs) into string tables.

pandas' reader guesses: a row with one field too many turns the first column into the index,
a short row is padded with NaN, an empty file raises its own exception type. Here the file is
read as UTF-8 (:func:`~interconnect_sim.files.read_text_file`), split by the standard ``csv``
module, and every row must have exactly the header's fields, so each problem is one line naming
the file and the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from interconnect_sim.files import read_text_file

__all__ = ["read_csv_table"]


def read_csv_table(
    path: Path,
    what: str,
    error: type[Exception],
    *,
    required: Sequence[str] = (),
    allowed: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read ``path`` into a DataFrame of strings, one row per non-blank data line.

    Parameters
    ----------
    path : Path
        The CSV file; the first line is the header.
    what : str
        What the file is (``"measurement"``), for messages.
    error : type
        Exception raised (an :class:`~interconnect_sim.errors.InterconnectSimError` subclass).
    required : sequence of str
        Columns the header must have.
    allowed : sequence of str, optional
        Columns the header may have (default: any).

    Raises
    ------
    error
        Not UTF-8, empty, not CSV (an unterminated quote, a NUL byte), a blank, repeated,
        missing or unknown column name, or a row (numbered from 1 after the header) with more
        or fewer fields than the header.
    """
    text = read_text_file(path, what, error)
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
    except csv.Error as exc:
        raise error(f"{path}: not a CSV file: {exc}") from None
    if not lines:
        raise error(f"{path}: the {what} file is empty")
    header = [name.strip() for name in lines[0]]
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise error(f"{path}: header column {blank[0]} has no name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise error(f"{path}: header repeats column(s) {repeated}")
    missing = [c for c in required if c not in header]
    if missing:
        raise error(f"{path}: missing column(s) {missing}; required: {', '.join(required)}")
    unknown = sorted(set(header) - set(allowed)) if allowed is not None else []
    if unknown:
        raise error(f"{path}: unknown column(s) {unknown}; allowed: {', '.join(allowed or ())}")
    rows = lines[1:]
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise error(
                f"{path}: row {number} has {len(row)} fields, the header has {len(header)} "
                "(a missing or extra comma? quote fields that contain commas)"
            )
    return pd.DataFrame(rows, columns=header, dtype=str)
