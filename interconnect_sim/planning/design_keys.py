"""What a design point may set, and how each value is checked.

:data:`DESIGN_KEYS` maps every input a sweep's ``[design]`` or ``[axes]`` may set to its converter
and its meaning; a converter raises :class:`BadValueError` saying what is allowed, which
:func:`convert_value` turns into a one-line error naming the file and the key. Paths (a model or
system file, a calibration) are resolved against the sweep file's folder.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.training.parallel import Precision, Recompute
from interconnect_sim.units import parse_duration, parse_length, parse_power, parse_rate

__all__ = [
    "DEFAULTS",
    "DESIGN_KEYS",
    "OBJECTIVES",
    "TABLE_VALUED",
    "BadValueError",
    "axis_value",
    "check_known",
    "convert_value",
    "number",
    "units",
    "yes_no",
]

OBJECTIVES = ("time_to_train", "cost", "energy", "cost_per_token")
"""What a sweep may minimise: wall-clock days with failures, run cost, run energy (MWh),
run cost per million tokens."""

TABLE_VALUED = ("layout", "search", "reach")
"""Keys whose value is itself a table (not an inline table of several inputs)."""
_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_LAYOUT_KEYS = (
    "tp",
    "pp",
    "dp",
    "cp",
    "ep",
    "vpp",
    "micro_batch",
    "zero",
    "recompute",
    "pp_first_stage_layers",
    "pp_last_stage_layers",
    "pp_embedding_in_split",
    "pp_loss_in_split",
)
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
    "uneven_splits",
)


class BadValueError(Exception):
    """A value that does not convert; the message says what is allowed."""


def _int(minimum: int = 1) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise BadValueError(f"must be a whole number >= {minimum}")
        return value

    return convert


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValueError("must be a non-empty string")
    return value


def yes_no(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValueError("must be true or false")
    return value


def _choice(*allowed: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in allowed:
            raise BadValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return convert


def units(parse: Callable[[str], float], example: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if not isinstance(value, str):
            raise BadValueError(f"must be a string with units, e.g. {example!r}")
        try:
            return parse(value)
        except InterconnectSimError as exc:
            raise BadValueError(str(exc)) from None

    return convert


def _ratio(value: Any) -> float:
    text = str(value)
    head, _, tail = text.partition(":")
    try:
        ratio = float(head) / (float(tail) if tail else 1.0)
    except (ValueError, ZeroDivisionError):
        raise BadValueError('must be a ratio such as "2:1" or 2') from None
    if not ratio > 0:
        raise BadValueError('must be a positive ratio such as "2:1"')
    return ratio


def _tokens(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMBGT]?)\s*", str(value))
    if match is None:
        raise BadValueError('must be a token count such as "15T" or "2.5B"')
    return float(match.group(1)) * _TOKEN_SUFFIX[match.group(2)]


def number(minimum: float) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise BadValueError(f"must be a number >= {minimum:g}")
        return float(value)

    return convert


def _layout(value: Any) -> str | dict[str, Any]:
    if value == "auto":
        return "auto"
    if not isinstance(value, dict):
        raise BadValueError(f'must be "auto" or a table with keys {", ".join(_LAYOUT_KEYS)}')
    unknown = sorted(set(value) - set(_LAYOUT_KEYS))
    if unknown:
        raise BadValueError(f"unknown key(s) {unknown}; allowed: {', '.join(_LAYOUT_KEYS)}")
    if "tp" not in value or "pp" not in value:
        raise BadValueError("an explicit layout needs at least tp and pp")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "recompute":
            out[key] = _choice(*get_args(Recompute))(item)
        elif key in ("pp_embedding_in_split", "pp_loss_in_split"):
            out[key] = yes_no(item)
        else:
            out[key] = _int(0 if key == "zero" else 1)(item)
    return out


def _search(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadValueError(f"must be a table with keys {', '.join(_SEARCH_KEYS)}")
    unknown = sorted(set(value) - set(_SEARCH_KEYS))
    if unknown:
        raise BadValueError(f"unknown key(s) {unknown}; allowed: {', '.join(_SEARCH_KEYS)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("tp_across_nodes", "uneven_splits"):
            out[key] = yes_no(item)
        elif key == "max_cp":
            out[key] = _int()(item)
        elif not isinstance(item, list) or not item:
            raise BadValueError(f"{key}: must be a non-empty list")
        elif key == "recompute":
            out[key] = tuple(_choice(*get_args(Recompute))(v) for v in item)
        else:
            out[key] = tuple(_int(0 if key == "zero" else 1)(v) for v in item)
    return out


def _reach(value: Any) -> dict[str, float]:
    tiers = ("node_leaf", "leaf_spine", "spine_core")
    if not isinstance(value, dict) or set(value) - set(tiers):
        raise BadValueError(
            f'must be a table with keys {", ".join(tiers)} (lengths such as "20 m")'
        )
    return {k: units(parse_length, "20 m")(v) for k, v in value.items()}


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
    "tp_overlap": (yes_no, "tensor-parallel communication overlapped with GEMMs"),
    "engine": (_choice("analytic", "des"), "collective engine"),
    "pue": (number(1.0), "facility power / IT power"),
    "reach": (_reach, "cable length per tier {node_leaf, leaf_spine, spine_core}"),
    "rack_power": (units(parse_power, "40 kW"), "rack power budget (nodes per rack)"),
    "failure_profile": (_str, "published interruption statistics (training/data)"),
    "checkpoint_cost": (units(parse_duration, "60 s"), "blocking time of one checkpoint"),
    "storage_bandwidth": (units(parse_rate, "100 GB/s"), "checkpoint write bandwidth"),
    "restart": (units(parse_duration, "10 min"), "interruption to training again"),
    "checkpoint_interval": (units(parse_duration, "1 h"), "default: Daly's optimum"),
    "calibration": (_str, "collective calibration file (interconnect-sim calibrate)"),
}
"""Inputs a design point may set: converter and meaning."""

DEFAULTS: dict[str, Any] = {
    "tokens": 1e12,
    "precision": "bf16",
    "layout": "auto",
    "tp_overlap": False,
    "engine": "analytic",
    "pue": 1.0,
}

_FILE_KEYS = ("model", "system", "calibration")
"""Keys whose value may be a file, resolved against the sweep file's folder."""


def _is_file(key: str, value: str) -> bool:
    if key == "model":
        return value.endswith(".toml")
    if key == "system":
        return is_system_path(value)
    return key == "calibration"


def check_known(path: Path, where: str, key: str) -> None:
    """Raise a one-line error (with a near match) unless ``key`` is a design key."""
    if key not in DESIGN_KEYS:
        near = difflib.get_close_matches(key, DESIGN_KEYS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ScenarioError(
            f"{path}: {where}: unknown key {key!r}{hint}; allowed: {', '.join(sorted(DESIGN_KEYS))}"
        )


def convert_value(path: Path, where: str, key: str, value: Any, base: Path) -> Any:
    """``value`` of ``key`` checked and converted; file paths made absolute (and checked)."""
    check_known(path, where, key)
    convert, meaning = DESIGN_KEYS[key]
    try:
        converted = convert(value)
    except BadValueError as exc:
        raise ScenarioError(f"{path}: {where}: {exc} ({meaning}); got {value!r}") from None
    if key in _FILE_KEYS and _is_file(key, str(converted)):
        resolved = (base / converted).resolve()
        if not resolved.is_file():
            raise ScenarioError(f"{path}: {where}: file {str(resolved)!r} does not exist")
        converted = str(resolved)
    return converted


def axis_value(path: Path, where: str, key: str, value: Any, base: Path) -> Any:
    """One value of an axis: a plain value, or an inline table setting several keys."""
    if isinstance(value, dict) and key not in TABLE_VALUED:
        if not value:
            raise ScenarioError(f"{path}: {where}: an inline table must set at least one key")
        return {k: convert_value(path, f"{where}.{k}", k, v, base) for k, v in value.items()}
    return convert_value(path, where, key, value, base)
