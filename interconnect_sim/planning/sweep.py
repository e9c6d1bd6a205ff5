"""Sweep files: which designs to evaluate, what to optimise, and what a design must meet.

A sweep is TOML (``docs/planning.md``): ``[design]`` fixes inputs for every design point,
``[axes]`` lists the values to sweep (their cartesian product); an axis value may be an inline
table setting several inputs together (``{ name = "xdr", nic = "connectx-8", switch = "q3400" }``).
``[objective]`` names what to minimise and ``[constraints]`` what every design must meet. Every
key is checked before any work starts; a bad one is a one-line error naming the file, the key
and what is allowed.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.files import read_text_file
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.training.parallel import Precision, Recompute
from interconnect_sim.units import parse_duration, parse_length, parse_power, parse_rate

__all__ = [
    "DESIGN_KEYS",
    "OBJECTIVES",
    "Constraints",
    "DesignPoint",
    "Sweep",
    "load_sweep",
    "parse_sweep",
]

OBJECTIVES = ("time_to_train", "cost", "energy", "cost_per_token")
"""What a sweep may minimise: wall-clock days with failures, run cost, run energy (MWh),
run cost per million tokens."""

_TABLE_VALUED = ("layout", "search", "reach")
"""Keys whose value is itself a table (not an inline table of several inputs)."""
_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_LAYOUT_KEYS = ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "zero", "recompute")
_SEARCH_KEYS = (
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "micro_batch",
    "zero",
    "recompute",
    "max_cp",
    "tp_across_nodes",
)


class _BadValueError(Exception):
    """A value that does not convert; the message says what is allowed."""


def _int(minimum: int = 1) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _BadValueError(f"must be a whole number >= {minimum}")
        return value

    return convert


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _BadValueError("must be a non-empty string")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _BadValueError("must be true or false")
    return value


def _choice(*allowed: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in allowed:
            raise _BadValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return convert


def _units(parse: Callable[[str], float], example: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if not isinstance(value, str):
            raise _BadValueError(f"must be a string with units, e.g. {example!r}")
        try:
            return parse(value)
        except InterconnectSimError as exc:
            raise _BadValueError(str(exc)) from None

    return convert


def _ratio(value: Any) -> float:
    text = str(value)
    head, _, tail = text.partition(":")
    try:
        ratio = float(head) / (float(tail) if tail else 1.0)
    except (ValueError, ZeroDivisionError):
        raise _BadValueError('must be a ratio such as "2:1" or 2') from None
    if not ratio > 0:
        raise _BadValueError('must be a positive ratio such as "2:1"')
    return ratio


def _tokens(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMBGT]?)\s*", str(value))
    if match is None:
        raise _BadValueError('must be a token count such as "15T" or "2.5B"')
    return float(match.group(1)) * _TOKEN_SUFFIX[match.group(2)]


def _number(minimum: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise _BadValueError(f"must be a number >= {minimum:g}")
        return float(value)

    return convert


def _layout(value: Any) -> str | dict[str, Any]:
    if value == "auto":
        return "auto"
    if not isinstance(value, dict):
        raise _BadValueError(f'must be "auto" or a table with keys {", ".join(_LAYOUT_KEYS)}')
    unknown = sorted(set(value) - set(_LAYOUT_KEYS))
    if unknown:
        raise _BadValueError(f"unknown key(s) {unknown}; allowed: {', '.join(_LAYOUT_KEYS)}")
    if "tp" not in value or "pp" not in value:
        raise _BadValueError("an explicit layout needs at least tp and pp")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "recompute":
            out[key] = _choice(*get_args(Recompute))(item)
        else:
            out[key] = _int(0 if key == "zero" else 1)(item)
    return out


def _search(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadValueError(f"must be a table with keys {', '.join(_SEARCH_KEYS)}")
    unknown = sorted(set(value) - set(_SEARCH_KEYS))
    if unknown:
        raise _BadValueError(f"unknown key(s) {unknown}; allowed: {', '.join(_SEARCH_KEYS)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "tp_across_nodes":
            out[key] = _bool(item)
        elif key == "max_cp":
            out[key] = _int()(item)
        elif not isinstance(item, list) or not item:
            raise _BadValueError(f"{key}: must be a non-empty list")
        elif key == "recompute":
            out[key] = tuple(_choice(*get_args(Recompute))(v) for v in item)
        else:
            out[key] = tuple(_int(0 if key == "zero" else 1)(v) for v in item)
    return out


def _reach(value: Any) -> dict[str, float]:
    tiers = ("node_leaf", "leaf_spine", "spine_core")
    if not isinstance(value, dict) or set(value) - set(tiers):
        raise _BadValueError(
            f'must be a table with keys {", ".join(tiers)} (lengths such as "20 m")'
        )
    return {k: _units(parse_length, "20 m")(v) for k, v in value.items()}


DESIGN_KEYS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "name": (_str, "label of an axis entry"),
    "system": (_str, "preset id, a system .toml file or a topology dump (nvidia-smi topo -m, XML)"),
    "gpu": (_str, "GPU id of a topology dump that does not name it (nvidia-smi topo -m)"),
    "nodes": (_int(), "systems in the design"),
    "gpus": (_int(), "GPUs the job uses; nodes = GPUs / GPUs per node, rounded up"),
    "scalable_units": (_int(), "SuperPOD scalable units (the RA's node counts)"),
    "nic": (_str, "NIC id replacing the system's (e.g. connectx-8)"),
    "nic_count": (_int(), "compute NICs (rails) per node"),
    "switch": (_str, "network switch id for leaf, spine and core (e.g. q3400)"),
    "levels": (_int(2), "2 or 3 network levels"),
    "oversubscription": (_ratio, 'leaf down:up ratio, "1:1", "2:1"'),
    "model": (_str, "model preset id or a model .toml file"),
    "tokens": (_tokens, 'training tokens, "15T"'),
    "global_batch": (_int(), "sequences per step"),
    "seq": (_int(), "sequence length (default: the model's)"),
    "precision": (_choice(*get_args(Precision)), "GEMM precision"),
    "layout": (_layout, '"auto" or {tp, pp, dp, cp, ep, vpp, micro_batch, zero, recompute}'),
    "search": (_search, "layout search space: lists for tp, pp, ...; tp_across_nodes"),
    "tp_overlap": (_bool, "tensor-parallel communication overlapped with GEMMs"),
    "engine": (_choice("analytic", "des"), "collective engine"),
    "pue": (_number(1.0), "facility power / IT power"),
    "reach": (_reach, "cable length per tier {node_leaf, leaf_spine, spine_core}"),
    "rack_power": (_units(parse_power, "40 kW"), "rack power budget (nodes per rack)"),
    "failure_profile": (_str, "published interruption statistics (training/data)"),
    "checkpoint_cost": (_units(parse_duration, "60 s"), "blocking time of one checkpoint"),
    "storage_bandwidth": (_units(parse_rate, "100 GB/s"), "checkpoint write bandwidth"),
    "restart": (_units(parse_duration, "10 min"), "interruption to training again"),
    "checkpoint_interval": (_units(parse_duration, "1 h"), "default: Daly's optimum"),
}
"""Inputs a design point may set: converter and meaning."""

_DEFAULTS: dict[str, Any] = {
    "tokens": 1e12,
    "precision": "bf16",
    "layout": "auto",
    "tp_overlap": False,
    "engine": "analytic",
    "pue": 1.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """What every design must meet (``None``: no limit)."""

    deadline_s: float | None = None
    budget: float | None = None
    power_cap_w: float | None = None
    memory_fit: bool = True


@dataclass(frozen=True, slots=True)
class DesignPoint:
    """One design: every input, resolved (relative paths made absolute)."""

    inputs: Mapping[str, Any]

    @property
    def design_id(self) -> str:
        """Stable id of the inputs (same inputs, same id, in any process or machine)."""
        text = json.dumps(self.inputs, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def fabric_key(self) -> tuple[Any, ...]:
        """Inputs that define the fabric (points sharing it share a build and its caches)."""
        keys = (
            "system",
            "gpu",
            "nodes",
            "gpus",
            "scalable_units",
            "nic",
            "nic_count",
            "switch",
            "levels",
            "oversubscription",
        )
        return tuple(str(self.inputs.get(k)) for k in keys)


@dataclass(frozen=True, slots=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    path: Path
    design: Mapping[str, Any]
    axes: Mapping[str, list[Any]]
    objective: str = "time_to_train"
    constraints: Constraints = field(default_factory=Constraints)
    prices: Path | None = None
    description: str = ""

    def points(self) -> Iterator[DesignPoint]:
        """Every design point: the cartesian product of the axes over ``design``."""
        names = list(self.axes)
        for combo in itertools.product(*(self.axes[n] for n in names)):
            inputs = {**_DEFAULTS, **self.design}
            for axis, value in zip(names, combo, strict=True):
                if isinstance(value, dict) and axis not in _TABLE_VALUED:
                    label = value.get("name")
                    inputs.update({k: v for k, v in value.items() if k != "name"})
                    inputs[axis] = label if label is not None else json.dumps(value, default=str)
                else:
                    inputs[axis] = value
            yield DesignPoint(inputs)

    def size(self) -> int:
        """Number of design points."""
        count = 1
        for values in self.axes.values():
            count *= len(values)
        return count

    def with_axes(self, **axes: list[Any]) -> Sweep:
        """The same sweep with some axes replaced (a reduced run, say); values as in the file."""
        base = self.path.parent
        checked = {
            axis: [
                v
                if isinstance(v, dict) and axis not in _TABLE_VALUED
                else _axis_value(self.path, f"[axes].{axis}[{i}]", axis, v, base)
                for i, v in enumerate(values)
            ]
            for axis, values in axes.items()
        }
        return replace(self, axes={**self.axes, **checked})


def _known(path: Path, where: str, key: str) -> None:
    if key not in DESIGN_KEYS:
        near = difflib.get_close_matches(key, DESIGN_KEYS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ScenarioError(
            f"{path}: {where}: unknown key {key!r}{hint}; allowed: {', '.join(sorted(DESIGN_KEYS))}"
        )


def _convert(path: Path, where: str, key: str, value: Any, base: Path) -> Any:
    _known(path, where, key)
    convert, meaning = DESIGN_KEYS[key]
    try:
        converted = convert(value)
    except _BadValueError as exc:
        raise ScenarioError(f"{path}: {where}: {exc} ({meaning}); got {value!r}") from None
    if (key == "model" and str(converted).endswith(".toml")) or (
        key == "system" and is_system_path(str(converted))
    ):
        resolved = (base / converted).resolve()
        if not resolved.is_file():
            raise ScenarioError(f"{path}: {where}: file {str(resolved)!r} does not exist")
        converted = str(resolved)
    return converted


def _axis_value(path: Path, where: str, key: str, value: Any, base: Path) -> Any:
    if isinstance(value, dict) and key not in _TABLE_VALUED:
        if not value:
            raise ScenarioError(f"{path}: {where}: an inline table must set at least one key")
        return {k: _convert(path, f"{where}.{k}", k, v, base) for k, v in value.items()}
    return _convert(path, where, key, value, base)


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
            else _units(parse_duration, "90 days")(table["deadline"]),
            budget=None if "budget" not in table else _number(0.0)(table["budget"]),
            power_cap_w=None
            if "power_cap" not in table
            else _units(parse_power, "20 MW")(table["power_cap"]),
            memory_fit=_bool(table.get("memory_fit", True)),
        )
    except _BadValueError as exc:
        raise ScenarioError(f"{path}: [constraints]: {exc}") from None


def parse_sweep(data: Mapping[str, Any], path: Path) -> Sweep:
    """Check and resolve a sweep given as a mapping (``path`` names it in errors)."""
    allowed = {"name", "description", "prices", "objective", "constraints", "design", "axes"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(
            f"{path}: unknown top-level key(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )
    base = path.parent
    design_table = data.get("design", {})
    axes_table = data.get("axes", {})
    if not isinstance(design_table, dict) or not isinstance(axes_table, dict):
        raise ScenarioError(f"{path}: [design] and [axes] must be tables")
    design = {k: _convert(path, f"[design].{k}", k, v, base) for k, v in design_table.items()}
    axes: dict[str, list[Any]] = {}
    merged = set(design)
    for axis, values in axes_table.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"{path}: [axes].{axis}: must be a non-empty list of values")
        if axis in _TABLE_VALUED or any(not isinstance(v, dict) for v in values):
            _known(path, f"[axes].{axis}", axis)  # a linked axis (inline tables) may be any name
        axes[axis] = [
            _axis_value(path, f"[axes].{axis}[{i}]", axis, v, base) for i, v in enumerate(values)
        ]
        merged.add(axis)
        for value in axes[axis]:
            if isinstance(value, dict) and axis not in _TABLE_VALUED:
                merged.update(value)
    _check_sizes(path, merged)
    objective_table = data.get("objective", {})
    if not isinstance(objective_table, dict) or set(objective_table) - {"minimize"}:
        raise ScenarioError(f"{path}: [objective]: the only key is minimize")
    objective = objective_table.get("minimize", "time_to_train")
    if objective not in OBJECTIVES:
        raise ScenarioError(
            f"{path}: [objective].minimize: {objective!r}; allowed: {', '.join(OBJECTIVES)}"
        )
    prices = None
    if "prices" in data:
        if not isinstance(data["prices"], str) or not data["prices"].strip():
            raise ScenarioError(f"{path}: prices: must be the path of a price table (.toml)")
        prices = (base / data["prices"]).resolve()
        if not prices.is_file():
            raise ScenarioError(f"{path}: prices: file {str(prices)!r} does not exist")
    return Sweep(
        name=str(data.get("name") or path.stem),
        path=path,
        design=design,
        axes=axes,
        objective=objective,
        constraints=_constraints(path, data.get("constraints", {})),
        prices=prices,
        description=str(data.get("description", "")),
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
