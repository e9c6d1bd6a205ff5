"""Write a fitted calibration file (TOML, with tomli-w) that :func:`load_calibration` reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from interconnect_sim.calibration.model import FITTED_TABLES, Calibration, FitScope
from interconnect_sim.files import write_atomically

__all__ = ["calibration_document", "write_calibration"]

_HEADER = """\
# Written by `interconnect-sim calibrate`; re-run it to reproduce.
# [fitted]: efficiencies are fractions (<= 1) of a link's data rate (NVLink: the rate NCCL
# assumes per link, see the constants file); latencies are microseconds per step.
# [[scoped]]: values fitted on one cluster; they apply only to that system (and NIC).
"""


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _file_tables(values: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Fitted fields in SI units -> the file's tables (microseconds for latencies)."""
    out = {}
    for name, table in values.items():
        file_name, _, scale = FITTED_TABLES[name]
        out[file_name] = {key: _rounded(v / scale) for key, v in table.items()}
    return out


def _scope(scope: FitScope) -> dict[str, Any]:
    rng = scope.fitted_range
    entry: dict[str, Any] = {"system": scope.system, "nic": scope.nic, "rows": scope.rows}
    entry.update(_file_tables(scope.values))
    entry["fitted_range"] = {
        "ops": list(rng.ops),
        "min_bytes": rng.min_bytes,
        "max_bytes": rng.max_bytes,
        "node_counts": list(rng.node_counts),
        "gpus_per_node": list(rng.gpus_per_node),
    }
    return entry


def calibration_document(
    calibration: Calibration,
    *,
    constants: str,
    fit: dict[str, Any],
    sources: list[dict[str, str]],
) -> dict[str, Any]:
    """The TOML document of ``calibration``'s fitted part (see :func:`write_calibration`)."""
    fitted = {name: getattr(calibration, name) for name in FITTED_TABLES}
    document: dict[str, Any] = {"constants": constants, "fitted": _file_tables(fitted)}
    if calibration.scopes:
        document["scoped"] = [_scope(scope) for scope in calibration.scopes]
    document["fit"] = fit
    document["sources"] = sources
    return document


def write_calibration(
    path: Path,
    calibration: Calibration,
    *,
    constants: str,
    fit: dict[str, Any],
    sources: list[dict[str, str]],
) -> None:
    """Write ``calibration``'s fitted part to ``path`` atomically.

    Parameters
    ----------
    path : Path
        Destination ``.toml``.
    calibration : Calibration
        Holds the fitted values (global and scoped) to write.
    constants : str
        Stem of the NCCL constants file the calibration builds on (e.g. ``nccl-2.30``).
    fit : dict
        What the fit used and achieved (written under ``[fit]``).
    sources : list of dict
        ``[[sources]]`` entries (title, url, locator, quote, grade).
    """
    document = calibration_document(calibration, constants=constants, fit=fit, sources=sources)
    text = _HEADER + tomli_w.dumps(document)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomically(Path(path), write)
