"""Sweep files: which designs to evaluate, what to optimise, and what a design must meet.

A sweep is TOML (``docs/planning.md``): ``[design]`` fixes inputs for every design point,
``[axes]`` lists the values to sweep (their cartesian product); an axis value may be an inline
table setting several inputs together (``{ name = "xdr", nic = "connectx-8", switch = "q3400" }``).
``[objective]`` names what to minimise, ``[constraints]`` what every design must meet, and the
optional ``[recheck]`` which designs to re-time on the discrete-event engine afterwards. Every key
is checked before any work starts; a bad one is a one-line error naming the file, the key and
what is allowed. The keys a design may set are in :mod:`~interconnect_sim.planning.design_keys`,
the parsed sweep in :mod:`~interconnect_sim.planning.design`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import read_text_file
from interconnect_sim.planning.design import Constraints, DesignPoint, Recheck, Sweep
from interconnect_sim.planning.design_keys import (
    DESIGN_KEYS,
    OBJECTIVES,
    TABLE_VALUED,
    BadValueError,
    axis_value,
    check_known,
    convert_value,
    number,
    units,
    yes_no,
)
from interconnect_sim.units import parse_duration, parse_power

__all__ = [
    "DESIGN_KEYS",
    "OBJECTIVES",
    "Constraints",
    "DesignPoint",
    "Recheck",
    "Sweep",
    "load_sweep",
    "parse_sweep",
]

_TOP_KEYS = (
    "name",
    "description",
    "prices",
    "objective",
    "constraints",
    "design",
    "axes",
    "recheck",
)


def _check_sizes(path: Path, merged: set[str]) -> None:
    given = [k for k in ("nodes", "gpus", "scalable_units") if k in merged]
    if len(given) != 1:
        raise ScenarioError(
            f"{path}: give exactly one of nodes, gpus or scalable_units in [design] or [axes] "
            f"(found {', '.join(given) or 'none'})"
        )
    for required in ("system", "model", "global_batch"):
        if required not in merged:
            raise ScenarioError(f"{path}: {required} is required in [design] or [axes]")


def _constraints(path: Path, table: Any) -> Constraints:
    allowed = {"deadline", "budget", "power_cap", "memory_fit"}
    if not isinstance(table, dict) or set(table) - allowed:
        raise ScenarioError(f"{path}: [constraints]: allowed keys are {', '.join(sorted(allowed))}")
    try:
        return Constraints(
            deadline_s=None
            if "deadline" not in table
            else units(parse_duration, "90 days")(table["deadline"]),
            budget=None if "budget" not in table else number(0.0)(table["budget"]),
            power_cap_w=None
            if "power_cap" not in table
            else units(parse_power, "20 MW")(table["power_cap"]),
            memory_fit=yes_no(table.get("memory_fit", True)),
        )
    except BadValueError as exc:
        raise ScenarioError(f"{path}: [constraints]: {exc}") from None


def _axes(path: Path, table: dict[str, Any], base: Path) -> dict[str, list[Any]]:
    axes: dict[str, list[Any]] = {}
    for axis, values in table.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{path}: [axes].{axis}: must be a non-empty list of values")
        # A linked axis (all inline tables) may have any name; any other must be a design key.
        if axis in TABLE_VALUED or any(not isinstance(v, dict) for v in values):
            check_known(path, f"[axes].{axis}", axis)
        axes[axis] = [
            axis_value(path, f"[axes].{axis}[{i}]", axis, v, base) for i, v in enumerate(values)
        ]
    return axes


def _set_keys(design: Mapping[str, Any], axes: Mapping[str, list[Any]]) -> set[str]:
    """Every input the sweep sets somewhere (design, axes, inline tables of linked axes)."""
    merged = set(design) | set(axes)
    for axis, values in axes.items():
        for value in values:
            if isinstance(value, dict) and axis not in TABLE_VALUED:
                merged.update(value)
    return merged


def _objective(path: Path, table: Any) -> str:
    if not isinstance(table, dict) or set(table) - {"minimize"}:
        raise ScenarioError(f"{path}: [objective]: the only key is minimize")
    objective = table.get("minimize", "time_to_train")
    if objective not in OBJECTIVES:
        raise ScenarioError(
            f"{path}: [objective].minimize: {objective!r}; allowed: {', '.join(OBJECTIVES)}"
        )
    return str(objective)


def _prices(path: Path, data: Mapping[str, Any]) -> Path | None:
    if "prices" not in data:
        return None
    if not isinstance(data["prices"], str) or not data["prices"].strip():
        raise ScenarioError(f"{path}: prices: must be the path of a price table (.toml)")
    prices = (path.parent / data["prices"]).resolve()
    if not prices.is_file():
        raise ScenarioError(f"{path}: prices: file {str(prices)!r} does not exist")
    return prices


def _names(path: Path, key: str, value: Any, known: set[str]) -> tuple[str, ...]:
    what = "inputs" if key == "per" else "axes"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{path}: [recheck].{key}: must be a list of input names")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ScenarioError(
            f"{path}: [recheck].{key}: {unknown} are not {what} of this sweep; it has "
            f"{', '.join(sorted(known))}"
        )
    return tuple(value)


def _recheck(path: Path, table: Any, known: set[str], axes: set[str]) -> Recheck | None:
    if table is None:
        return None
    allowed = ("engine", "top", "per", "variants")
    if not isinstance(table, dict) or set(table) - set(allowed):
        raise ScenarioError(f"{path}: [recheck]: allowed keys are {', '.join(allowed)}")
    if table.get("engine", "des") != "des":
        raise ScenarioError(
            f"{path}: [recheck].engine: must be des (the discrete-event engine); "
            f"got {table['engine']!r}"
        )
    top = table.get("top", 1)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ScenarioError(f"{path}: [recheck].top: must be a whole number >= 1; got {top!r}")
    per = _names(path, "per", table.get("per", ["system"]), known)
    variants = _names(path, "variants", table.get("variants", []), axes)
    return Recheck(top=top, per=per, variants=variants)


def parse_sweep(data: Mapping[str, Any], path: Path) -> Sweep:
    """Check and resolve a sweep given as a mapping (``path`` names it in errors)."""
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ScenarioError(
            f"{path}: unknown top-level key(s) {unknown}; allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    base = path.parent
    design_table = data.get("design", {})
    axes_table = data.get("axes", {})
    if not isinstance(design_table, dict) or not isinstance(axes_table, dict):
        raise ScenarioError(f"{path}: [design] and [axes] must be tables")
    design = {k: convert_value(path, f"[design].{k}", k, v, base) for k, v in design_table.items()}
    axes = _axes(path, axes_table, base)
    known = _set_keys(design, axes)
    _check_sizes(path, known)
    return Sweep(
        name=str(data.get("name") or path.stem),
        path=path,
        design=design,
        axes=axes,
        objective=_objective(path, data.get("objective", {})),
        constraints=_constraints(path, data.get("constraints", {})),
        prices=_prices(path, data),
        description=str(data.get("description", "")),
        recheck=_recheck(path, data.get("recheck"), known, set(axes)),
    )


def load_sweep(path: Path) -> Sweep:
    """Read a sweep file (see :func:`parse_sweep`)."""
    path = Path(path)
    text = read_text_file(path, "sweep")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_sweep(data, path)
