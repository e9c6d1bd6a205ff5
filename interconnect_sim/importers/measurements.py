"""Load measurement files of any supported format into the measurement schema.

``validate`` and ``calibrate`` take the user's files as they are: the CSV schema of
``docs/measurements.md``, nccl-tests text output, nccl-tests ``-J`` JSON, or the files of NCCL's
Inspector plugin. The format is detected from the content; each file is checked with the
schema's own rules (:func:`interconnect_sim.validation.measurements.check_measurements`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from interconnect_sim.errors import MeasurementError
from interconnect_sim.files import read_text_file
from interconnect_sim.importers.inspector import looks_like_inspector, read_inspector
from interconnect_sim.importers.measurement_rows import RunDefaults, rows_frame, runs_to_rows
from interconnect_sim.importers.nccl_tests_json import (
    looks_like_nccl_tests_json,
    read_nccl_tests_json,
)
from interconnect_sim.importers.nccl_tests_text import (
    looks_like_nccl_tests_text,
    read_nccl_tests_text,
)
from interconnect_sim.importers.runs import BenchmarkRun
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.validation.measurements import check_measurements, load_measurements

__all__ = ["FORMATS", "ImportedMeasurements", "detect_format", "load_measurement_files"]

FORMATS = ("csv", "nccl-tests", "nccl-tests-json", "inspector")
"""Measurement formats, as :func:`detect_format` names them."""


@dataclass(frozen=True, slots=True)
class ImportedMeasurements:
    """Validated rows of every file, and what the user should be told about them."""

    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def detect_format(text: str) -> str | None:
    """``csv``, ``nccl-tests``, ``nccl-tests-json``, ``inspector`` or None."""
    stripped = text.lstrip()
    first = stripped.splitlines()[0] if stripped else ""
    if looks_like_inspector(text):
        return "inspector"
    if looks_like_nccl_tests_json(text):
        return "nccl-tests-json"
    if "," in first and not first.startswith("#") and "busbw_GBps" in first:
        return "csv"
    if looks_like_nccl_tests_text(text):
        return "nccl-tests"
    return None


def _unknown(path: Path) -> MeasurementError:
    return MeasurementError(
        f"{path}: not a measurement file this tool reads; expected the CSV schema of "
        "docs/measurements.md (with a busbw_GBps column), nccl-tests output (text, or JSON "
        "from -J) or NCCL Inspector JSON"
    )


def _frame(
    runs: list[BenchmarkRun], defaults: RunDefaults, catalog: Catalog, path: Path
) -> pd.DataFrame:
    rows = runs_to_rows(runs, defaults, catalog)
    if not rows:
        reasons = "; ".join(note for run in runs for note in run.notes)
        raise MeasurementError(
            f"{path}: no result rows the model can score" + (f" ({reasons})" if reasons else "")
        )
    return check_measurements(rows_frame(rows), path, catalog)


def load_measurement_files(
    paths: Sequence[Path], catalog: Catalog, defaults: RunDefaults | None = None
) -> ImportedMeasurements:
    """Read, convert and validate measurement files of any supported format.

    Parameters
    ----------
    paths : sequence of Path
        CSV files, nccl-tests logs or ``-J`` JSON, Inspector files (every process's file of one
        job together).
    catalog : Catalog
        Checks presets and NIC ids.
    defaults : RunDefaults, optional
        System, shape and op for logs that do not say them.

    Raises
    ------
    MeasurementError
        One line naming the file (and line or row) of the first problem.
    """
    defaults = defaults or RunDefaults()
    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    inspector: list[tuple[str, str]] = []
    for path in paths:
        text = read_text_file(path, "measurement", MeasurementError)
        kind = detect_format(text)
        if kind is None:
            raise _unknown(path)
        if kind == "csv":
            frames.append(load_measurements(path, catalog))
            continue
        if kind == "inspector":
            inspector.append((str(path), text))
            continue
        reader = read_nccl_tests_json if kind == "nccl-tests-json" else read_nccl_tests_text
        runs = reader(text, str(path))
        frames.append(_frame(runs, defaults, catalog, path))
        notes.extend(f"{path}: {note}" for run in runs for note in run.notes)
    if inspector:
        runs = read_inspector(inspector)
        frames.append(_frame(runs, defaults, catalog, Path(inspector[0][0])))
        notes.extend(f"{run.source}: {note}" for run in runs for note in run.notes)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return ImportedMeasurements(frame, notes)
