"""Read a calibration: the fitted file and the NCCL constants file it names (strictly).

Every table is checked for missing and unknown keys and for values of the right kind; an error
names the file and the table or key, in one line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import (
    DEFAULT_CALIBRATION,
    FITTED_TABLES,
    Calibration,
    FitScope,
    FittedRange,
)
from interconnect_sim.calibration.nccl_constants import nccl_rules
from interconnect_sim.calibration.toml_values import (
    LARGEST,
    as_list,
    exact_keys,
    integer,
    number,
    read_toml,
    shown,
    table_of,
)
from interconnect_sim.errors import SpecError

__all__ = ["load_calibration"]

_LATENCY_MAX_US = 1e6
"""A fitted latency above one second is not a collective's; it would swamp every prediction."""
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


def _fitted_values(
    table: dict[str, Any], path: Path, where: str, *, partial: bool
) -> dict[str, dict[str, float]]:
    """The fitted tables of ``table`` in SI units (all keys required unless ``partial``)."""
    out: dict[str, dict[str, float]] = {}
    for name, (file_name, keys, scale) in FITTED_TABLES.items():
        if partial and file_name not in table:
            continue
        sub = table_of(table, file_name, path, where)
        if partial:
            unknown = sorted(set(sub) - set(keys))
            if unknown:
                raise SpecError(
                    f"{path}: [{where}{file_name}]: unknown {unknown}; known {list(keys)}"
                )
        else:
            exact_keys(sub, keys, f"{where}{file_name}", path)
        efficiency = name.endswith("_efficiency")  # a fraction of a rate; else a latency in us
        out[name] = {
            k: number(
                v,
                f"{where}{file_name}.{k}",
                path,
                positive=efficiency,
                high=1.0 if efficiency else _LATENCY_MAX_US,
            )
            * scale
            for k, v in sub.items()
        }
    return out


def _scopes(data: dict[str, Any], path: Path) -> tuple[FitScope, ...]:
    entries = data.get("scoped", [])
    if not isinstance(entries, list):
        raise SpecError(f"{path}: 'scoped' must be an array of tables ([[scoped]])")
    scopes = []
    allowed = {"system", "nic", "rows", "fitted_range", *(t[0] for t in FITTED_TABLES.values())}
    for i, entry in enumerate(entries, start=1):
        where = f"scoped #{i}"
        if not isinstance(entry, dict):
            raise SpecError(f"{path}: [[scoped]] #{i} must be a table, got {shown(entry)}")
        unknown = sorted(set(entry) - allowed)
        if unknown or not isinstance(entry.get("system"), str):
            raise SpecError(f"{path}: [[scoped]] #{i} needs 'system'; unknown keys {unknown}")
        rng = table_of(entry, "fitted_range", path, f"{where}.")
        keys = ("ops", "min_bytes", "max_bytes", "node_counts", "gpus_per_node")
        exact_keys(rng, keys, f"{where}.fitted_range", path)
        nic = entry.get("nic", "")
        if not isinstance(nic, str):
            raise SpecError(f"{path}: [[scoped]] #{i}: nic must be a string, got {shown(nic)}")
        rows = entry.get("rows", 0)
        if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= LARGEST:
            raise SpecError(f"{path}: [[scoped]] #{i}: rows must be a whole number >= 0")
        ops = rng["ops"]
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise SpecError(f"{path}: {where}.fitted_range.ops must be a list of names")
        scopes.append(
            FitScope(
                system=entry["system"],
                nic=nic,
                values=_fitted_values(entry, path, f"{where}.", partial=True),
                rows=rows,
                fitted_range=FittedRange(
                    ops=tuple(ops),
                    min_bytes=number(rng["min_bytes"], f"{where}.min_bytes", path),
                    max_bytes=number(rng["max_bytes"], f"{where}.max_bytes", path),
                    node_counts=tuple(
                        integer(n, f"{where}.node_counts", path)
                        for n in as_list(rng["node_counts"], f"{where}.node_counts", path)
                    ),
                    gpus_per_node=tuple(
                        integer(n, f"{where}.gpus_per_node", path)
                        for n in as_list(rng["gpus_per_node"], f"{where}.gpus_per_node", path)
                    ),
                ),
            )
        )
    return tuple(scopes)


def _constants_path(data: dict[str, Any], path: Path) -> Path:
    stem = data.get("constants")
    if not isinstance(stem, str) or not _STEM.fullmatch(stem):
        raise SpecError(
            f"{path}: 'constants' must name the NCCL constants file next to it or shipped "
            f"(a file stem such as nccl-2.30), got {shown(stem)}"
        )
    constants_path = path.parent / f"{stem}.toml"
    if not constants_path.exists():
        constants_path = DEFAULT_CALIBRATION.parent / f"{stem}.toml"
    if not constants_path.exists():
        raise SpecError(f"{path}: constants file {stem}.toml not found next to it or shipped")
    return constants_path


def load_calibration(path: Path | None = None) -> Calibration:
    """Load a fitted calibration file and the constants file it names.

    The fitted file (default: the shipped ``nccl-tests.toml``, written by
    ``interconnect-sim calibrate``) holds ``constants = "<stem>"``, ``[fitted]``, optional
    ``[[scoped]]`` entries and ``[fit]``; the constants file ``<stem>.toml`` next to it (or in
    the shipped folder) holds ``[nccl]``. Both need ``[[sources]]``.

    Raises
    ------
    SpecError
        Naming the file and table on any missing, unknown or malformed entry.
    """
    path = Path(path) if path is not None else DEFAULT_CALIBRATION
    data = read_toml(path)
    constants_path = _constants_path(data, path)
    constants = read_toml(constants_path)
    for source_path, table in ((path, data), (constants_path, constants)):
        sources = table.get("sources")
        if not (
            isinstance(sources, list) and sources and all(isinstance(x, dict) for x in sources)
        ):
            raise SpecError(f"{source_path}: a calibration file needs [[sources]] tables")
    fit = data.get("fit", {})
    if not isinstance(fit, dict):
        raise SpecError(f"{path}: [fit] must be a table")
    priors = (
        constants.get("nccl", {}).get("priors", {})
        if isinstance(constants.get("nccl"), dict)
        else {}
    )
    if not isinstance(priors, dict) or not isinstance(priors.get("classes", []), list):
        raise SpecError(f"{constants_path}: [nccl.priors] must be a table with a 'classes' list")
    fitted: dict[str, Any] = _fitted_values(
        table_of(data, "fitted", path), path, "fitted.", partial=False
    )
    return Calibration(
        **nccl_rules(constants, constants_path),
        scopes=_scopes(data, path),
        fit=dict(fit),
        path=path,
        prior_classes=frozenset(str(c) for c in priors.get("classes", ())),
        **fitted,
    )
