"""nccl-tests measurements in one documented CSV schema (``docs/measurements.md``).

One row per nccl-tests result line: which fabric it ran on (a preset id, or a system file relative
to the CSV's folder, with NIC/P2P overrides),
the communicator shape, the op and any forced algorithm, and what nccl-tests printed. The shipped
file holds the healthy rows of the shared measurements, each with its source.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from interconnect_sim.collectives.ops import parse_op
from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.specs.catalog import Catalog, is_system_path
from interconnect_sim.topology.presets import FabricRequest

__all__ = [
    "COLUMNS",
    "SHIPPED_MEASUREMENTS",
    "SHIPPED_SYSTEM_MAP",
    "FabricKey",
    "check_measurements",
    "fabric_request",
    "load_measurements",
]

SHIPPED_MEASUREMENTS = Path(__file__).parent / "data" / "nccl_tests.csv"
SHIPPED_SYSTEM_MAP = Path(__file__).parent / "data" / "measured_systems.csv"

REQUIRED = ("system", "nodes", "gpus_per_node", "op", "bytes", "time_us", "busbw_GBps")
OPTIONAL = (
    "run_id",
    "nic",
    "nic_count",
    "p2p",
    "algo",
    "proto",
    "algbw_GBps",
    "nccl_version",
    "nccl_algo",
    "nccl_proto",
    "fit_role",
    "measured_system",
    "source_url",
    "source_note",
)
COLUMNS = REQUIRED + OPTIONAL
"""Every column the schema knows; others are rejected."""

FabricKey = tuple[str, int, str, int | None, str]
"""(system, nodes, nic, nic_count, p2p): what identifies the fabric a row ran on."""


def _fail(path: Path, message: str) -> MeasurementError:
    return MeasurementError(f"{path}: {message}")


def load_measurements(path: Path | None = None, catalog: Catalog | None = None) -> pd.DataFrame:
    """Read and validate a measurement CSV (default: the shipped one).

    Parameters
    ----------
    path : Path, optional
        CSV in the schema of ``docs/measurements.md``.
    catalog : Catalog, optional
        When given, presets, NIC ids and algorithm names are checked against it.

    Returns
    -------
    pandas.DataFrame
        One row per measurement, with defaults filled (``fit_role`` = ``fit``; empty strings
        for absent overrides) and ``op`` normalised.

    Raises
    ------
    MeasurementError
        Naming the file, row (1-based, after the header) and column on any bad value.
    """
    path = Path(path) if path is not None else SHIPPED_MEASUREMENTS
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read CSV: {exc}") from None
    return check_measurements(frame, path, catalog)


def check_measurements(
    frame: pd.DataFrame, path: Path | str, catalog: Catalog | None = None
) -> pd.DataFrame:
    """Validate a table of measurements (all values as strings) and convert its types.

    Used for the CSV schema and for rows imported from benchmark logs
    (:mod:`interconnect_sim.importers`). ``path`` names the file in messages.

    Raises
    ------
    MeasurementError
        Naming the file, row (1-based, after the header) and column on any bad value.
    """
    path = Path(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise _fail(path, f"missing column(s) {missing}; required: {', '.join(REQUIRED)}")
    unknown = sorted(set(frame.columns) - set(COLUMNS))
    if unknown:
        raise _fail(path, f"unknown column(s) {unknown}; allowed: {', '.join(COLUMNS)}")
    if frame.empty:
        raise _fail(path, "has no rows")
    frame = frame.copy()
    for column in OPTIONAL:
        if column not in frame.columns:
            frame[column] = ""
    frame["fit_role"] = frame["fit_role"].replace("", "fit")
    # A system given as a file is read relative to the CSV's folder.
    frame["system"] = [
        str(path.parent / system) if is_system_path(system) else system
        for system in frame["system"]
    ]
    for index, row in enumerate(frame.itertuples(index=False)):
        _check_row(path, index + 1, pd.Series(row._asdict()), catalog)
    for column in ("nodes", "gpus_per_node"):
        frame[column] = frame[column].astype(int)
    for column in ("bytes", "time_us", "busbw_GBps"):
        frame[column] = frame[column].astype(float)
    frame["op"] = [parse_op(op).value for op in frame["op"]]
    frame["algo"] = frame["algo"].str.lower()
    frame["proto"] = frame["proto"].str.lower()
    return frame.reset_index(drop=True)


def _number(
    path: Path, line: int, row: pd.Series, column: str, *, integer: bool, positive: bool
) -> None:
    text = str(row[column])
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise _fail(path, f"row {line}, column {column!r}: {text!r} is not {kind}") from None
    if positive and not value > 0:
        raise _fail(path, f"row {line}, column {column!r}: {text!r} must be positive")


def _check_row(path: Path, line: int, row: pd.Series, catalog: Catalog | None) -> None:
    _number(path, line, row, "nodes", integer=True, positive=True)
    _number(path, line, row, "gpus_per_node", integer=True, positive=True)
    _number(path, line, row, "bytes", integer=False, positive=True)
    _number(path, line, row, "time_us", integer=False, positive=True)
    _number(path, line, row, "busbw_GBps", integer=False, positive=False)
    if row["nic_count"] != "":
        _number(path, line, row, "nic_count", integer=True, positive=True)
    if row["p2p"] not in ("", "on", "off"):
        raise _fail(path, f"row {line}, column 'p2p': {row['p2p']!r} must be on, off or empty")
    if row["fit_role"] not in ("fit", "holdout"):
        raise _fail(path, f"row {line}, column 'fit_role': must be fit or holdout")
    try:
        parse_op(str(row["op"]))
        if catalog is not None:
            catalog.resolve_system(str(row["system"]))
            if row["nic"]:
                catalog.nic(str(row["nic"]))
    except InterconnectSimError as exc:
        raise _fail(path, f"row {line}: {exc}") from None


def fabric_request(row: pd.Series) -> FabricRequest:
    """The fabric a measurement row ran on."""
    return FabricRequest(
        system=str(row["system"]),
        node_count=int(row["nodes"]),
        nic=str(row["nic"]) or None,
        nic_count=int(row["nic_count"]) if str(row["nic_count"]) else None,
        p2p=None if row["p2p"] == "" else row["p2p"] == "on",
    )
