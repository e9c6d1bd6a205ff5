"""nccl-tests measurements in one documented CSV schema (``docs/measurements.md``).

One row per nccl-tests result line: which fabric it ran on (a preset id, or a system file relative
to the CSV's folder, with NIC/P2P overrides),
the communicator shape, the op and any forced algorithm, and what nccl-tests printed. The shipped
file holds the healthy rows of the shared measurements, each with its source.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from interconnect_sim.calibration.model import ALGORITHMS, PROTOCOLS
from interconnect_sim.collectives.ops import parse_op
from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.limits import LIMITS, check_fabric_size
from interconnect_sim.specs.catalog import Catalog, is_system_path
from interconnect_sim.topology.presets import FabricRequest
from interconnect_sim.validation.csv_table import read_csv_table

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
    frame = read_csv_table(
        path, "measurement", MeasurementError, required=REQUIRED, allowed=COLUMNS
    )
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
        frame[column] = [int(value) for value in frame[column]]
    for column in ("bytes", "time_us", "busbw_GBps"):
        frame[column] = [float(value) for value in frame[column]]
    frame["op"] = [parse_op(op).value for op in frame["op"]]
    frame["algo"] = frame["algo"].str.lower()
    frame["proto"] = frame["proto"].str.lower()
    frame.attrs["source"] = str(path)
    return frame.reset_index(drop=True)


_WHOLE = re.compile(r"\s*\+?[0-9]{1,12}\s*")  # ASCII digits: '²' and '٣' are not counts
_SMALLEST_TIME_US = 0.01
"""nccl-tests prints times in microseconds with two decimals: less is not a measured time."""


def _shown(text: str) -> str:
    """A cell for a message: quoted, and cut short if long (a 400-digit number)."""
    return repr(text) if len(text) <= 30 else f"{text[:20]!r}... ({len(text)} characters)"


def _number(
    path: Path,
    line: int,
    row: pd.Series,
    column: str,
    *,
    integer: bool,
    lowest: float,
    highest: float = math.inf,
) -> float:
    text = str(row[column])
    try:
        if integer and not _WHOLE.fullmatch(text):
            raise ValueError
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise _fail(path, f"row {line}, column {column!r}: {_shown(text)} is not {kind}") from None
    if not (math.isfinite(value) and lowest <= value <= highest):
        shown = f"from {lowest:g} to {highest:g}" if math.isfinite(highest) else f">= {lowest:g}"
        raise _fail(path, f"row {line}, column {column!r}: {_shown(text)} must be {shown}")
    return value


def _check_row(path: Path, line: int, row: pd.Series, catalog: Catalog | None) -> None:
    nodes = _number(path, line, row, "nodes", integer=True, lowest=1, highest=LIMITS.max_gpus)
    per_node = _number(
        path, line, row, "gpus_per_node", integer=True, lowest=1, highest=LIMITS.max_gpus
    )
    _number(path, line, row, "bytes", integer=False, lowest=1, highest=LIMITS.max_message_bytes)
    _number(path, line, row, "time_us", integer=False, lowest=_SMALLEST_TIME_US)
    _number(path, line, row, "busbw_GBps", integer=False, lowest=0)
    if row["nic_count"] != "":
        _number(path, line, row, "nic_count", integer=True, lowest=1, highest=1024)
    if row["p2p"] not in ("", "on", "off"):
        raise _fail(path, f"row {line}, column 'p2p': {row['p2p']!r} must be on, off or empty")
    if row["fit_role"] not in ("fit", "holdout"):
        raise _fail(path, f"row {line}, column 'fit_role': must be fit or holdout")
    for column, names in (("algo", ALGORITHMS), ("proto", PROTOCOLS)):
        if row[column] and row[column].lower() not in names:
            raise _fail(
                path,
                f"row {line}, column {column!r}: {_shown(row[column])} must be empty or one of "
                f"{', '.join(names)}",
            )
    try:
        parse_op(str(row["op"]))
        if catalog is not None:
            system = catalog.resolve_system(str(row["system"]))
            if row["nic"]:
                catalog.nic(str(row["nic"]))
            if per_node > system.gpu_count:
                raise MeasurementError(
                    f"gpus_per_node {per_node:g} is more than {system.id}'s {system.gpu_count}"
                )
            check_fabric_size(int(nodes), system.gpu_count, f"{int(nodes)} x {system.id}")
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
