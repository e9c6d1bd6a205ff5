"""Read spec TOML files into frozen spec objects, strictly.

Each file holds one product or generation; the file stem is its id. Values are written as
published, with units (``"25 GB/s"``). Unknown keys, missing keys, values of the wrong type, bad
units, missing ``[[sources]]`` and ``[inferred]`` entries naming no field are all
:class:`~interconnect_sim.errors.SpecError` naming the file and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interconnect_sim import units
from interconnect_sim.errors import SpecError, UnitError
from interconnect_sim.specs.model import (
    MICROSCALING_FORMATS,
    Check,
    GpuSpec,
    LinkSpec,
    NicSpec,
    Origin,
    ReferenceRow,
    Source,
    Spec,
    SuperPodSpec,
    SwitchSpec,
    SystemSpec,
    TransceiverSpec,
)

__all__ = ["SPEC_KINDS", "load_spec_file", "spec_from_data"]

Converter = Callable[[Any], Any]


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TypeError("a non-empty string")
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("an integer")
    if value < 0:
        raise TypeError("a non-negative integer")
    return value


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _as_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a number")
    return float(value)


def _as_int_list(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise TypeError("a list of integers")
    return tuple(_as_int(item) for item in value)


def _as_str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("a list of strings")
    return tuple(_as_str(item) for item in value)


def _as_int_matrix(value: Any) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list):
        raise TypeError("a list of lists of integers")
    return tuple(_as_int_list(row) for row in value)


def _as_pairs(value: Any) -> tuple[tuple[int, int], ...]:
    rows = _as_int_matrix(value)
    if any(len(row) != 2 for row in rows):
        raise TypeError("a list of [a, b] pairs")
    return tuple((row[0], row[1]) for row in rows)


def _choice(*allowed: str) -> Converter:
    def convert(value: Any) -> str:
        if value not in allowed:
            raise TypeError("one of " + ", ".join(repr(a) for a in allowed))
        return str(value)

    return convert


def _choices(*allowed: str) -> Converter:
    one = _choice(*allowed)

    def convert(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise TypeError("a list of " + ", ".join(repr(a) for a in allowed))
        return tuple(one(item) for item in value)

    return convert


@dataclass(frozen=True)
class _Field:
    attribute: str
    convert: Converter
    required: bool = True


def _f(attribute: str, convert: Converter, *, required: bool = True) -> _Field:
    return _Field(attribute, convert, required)


_COMMON: dict[str, _Field] = {
    "id": _f("id", _as_str),
    "kind": _f("kind", _as_str),
    "name": _f("name", _as_str),
    "notes": _f("notes", _as_str, required=False),
    "sources": _f("sources", lambda v: v),
    "checks": _f("checks", lambda v: v, required=False),
    "inferred": _f("inferred", lambda v: v, required=False),
    "status": _f("status", _choice("available", "announced"), required=False),
}

_ALIASES: dict[str, dict[str, str]] = {
    "gpu": {"scale_up_link": "nvlink", "scale_up_link_count": "nvlink_count"},
    "system": {"nvlink_matrix": "link_matrix"},
}
"""Other spellings of a key, per kind: a file may use either name, not both."""

_LINK: dict[str, _Field] = {
    "family": _f(
        "family",
        _choice(
            "nvlink",
            "nvlink-c2c",
            "infinity-fabric",
            "on-package",
            "pcie",
            "infiniband",
            "ethernet",
            "inter-socket",
        ),
    ),
    "generation": _f("generation", _as_str),
    "data_rate_per_direction": _f("data_rate_per_direction_bytes_per_s", units.parse_rate),
    "lanes_per_direction": _f("lanes_per_direction", _as_int),
    "signalling_rate_per_lane": _f(
        "signalling_rate_per_lane_bits_per_s",
        lambda v: units.parse_rate(v) * 8.0,
        required=False,
    ),
    "encoding": _f("encoding", _as_str, required=False),
    "latency": _f("latency_s", units.parse_duration, required=False),
    "year": _f("year", _as_int, required=False),
}

_GPU: dict[str, _Field] = {
    "architecture": _f("architecture", _as_str),
    "memory": _f("memory_bytes", units.parse_size),
    "memory_bandwidth": _f("memory_bandwidth_bytes_per_s", units.parse_rate),
    "pcie": _f("pcie", _as_str),
    "pcie_lanes": _f("pcie_lanes", _as_int),
    "tdp": _f("tdp_w", units.parse_power),
    "dense_fp16": _f("dense_fp16_flops_per_s", units.parse_flops),
    "dense_bf16": _f("dense_bf16_flops_per_s", units.parse_flops, required=False),
    "dense_fp8": _f("dense_fp8_flops_per_s", units.parse_flops, required=False),
    "dense_fp4": _f("dense_fp4_flops_per_s", units.parse_flops, required=False),
    "microscaling": _f("microscaling", _choices(*MICROSCALING_FORMATS), required=False),
    "nvlink": _f("nvlink", _as_str, required=False),
    "nvlink_count": _f("nvlink_count", _as_int, required=False),
    "memory_type": _f("memory_type", _as_str, required=False),
    "form_factor": _f("form_factor", _as_str, required=False),
    "year": _f("year", _as_int, required=False),
}

_NIC: dict[str, _Field] = {
    "port_link": _f("port_link", _as_str),
    "port_count": _f("port_count", _as_int),
    "host_link": _f("host_link", _as_str),
    "host_lanes": _f("host_lanes", _as_int),
    "transport": _f(
        "transport", _choice("infiniband", "roce", "efa", "tcpx", "tcpxo"), required=False
    ),
    "supported_links": _f("supported_links", _as_str_list, required=False),
    "latency": _f("latency_s", units.parse_duration, required=False),
}

_SWITCH: dict[str, _Field] = {
    "role": _f("role", _choice("nvswitch", "network")),
    "port_link": _f("port_link", _as_str),
    "port_count": _f("port_count", _as_int),
    "sharp": _f("sharp", _as_bool, required=False),
    "multicast": _f("multicast", _as_bool, required=False),
    "latency": _f("latency_s", units.parse_duration, required=False),
    "form_factor": _f("form_factor", _as_str, required=False),
    "power": _f("power_w", units.parse_power, required=False),
    "ports_per_cage": _f("ports_per_cage", _as_int, required=False),
}

_TRANSCEIVER: dict[str, _Field] = {
    "link": _f("link", _as_str),
    "media": _f("media", _choice("dac", "acc", "aoc", "multimode", "singlemode")),
    "ports": _f("ports", _as_int),
    "max_reach": _f("max_reach_m", units.parse_length),
    "power": _f("power_w", units.parse_power),
    "form_factor": _f("form_factor", _as_str, required=False),
}

_TOPOLOGY_ALIASES = {"hybrid-cube-mesh": "mesh", "nvl-rack": "nvlink-domain"}


def _topology(value: Any) -> str:
    value = _TOPOLOGY_ALIASES.get(value, value)
    return str(_choice("nvswitch", "nvswitch-two-board", "mesh", "pcie", "nvlink-domain")(value))


_SYSTEM: dict[str, _Field] = {
    "topology": _f("topology", _topology),
    "gpu": _f("gpu", _as_str),
    "gpu_count": _f("gpu_count", _as_int),
    "cpu_model": _f("cpu_model", _as_str),
    "cpu_socket_count": _f("cpu_socket_count", _as_int),
    "cpu_pcie": _f("cpu_pcie", _as_str),
    "inter_socket_link": _f("inter_socket_link", _as_str),
    "inter_socket_link_count": _f("inter_socket_link_count", _as_int),
    "pcie_switch_count": _f("pcie_switch_count", _as_int),
    "pcie_switch_uplink_lanes": _f("pcie_switch_uplink_lanes", _as_int),
    "nic": _f("nic", _as_str, required=False),
    "nic_count": _f("nic_count", _as_int, required=False),
    "rail_count": _f("rail_count", _as_int, required=False),
    "nic_attach": _f("nic_attach", _choice("pcie", "gpu"), required=False),
    "p2p": _f("p2p", _as_bool, required=False),
    "nvswitch": _f("nvswitch", _as_str, required=False),
    "nvswitch_count": _f("nvswitch_count", _as_int, required=False),
    "gpu_links_per_nvswitch": _f("gpu_links_per_nvswitch", _as_int_list, required=False),
    "link_matrix": _f("link_matrix", _as_int_matrix, required=False),
    "mesh_link": _f("mesh_link", _as_str, required=False),
    "board_count": _f("board_count", _as_int, required=False),
    "inter_board_links_per_nvswitch": _f("inter_board_links_per_nvswitch", _as_int, required=False),
    "nvlink_bridge_pairs": _f("nvlink_bridge_pairs", _as_pairs, required=False),
    "nvlink_bridge_link_count": _f("nvlink_bridge_link_count", _as_int, required=False),
    "gpus_per_host": _f("gpus_per_host", _as_int, required=False),
    "host_gpu_link": _f("host_gpu_link", _as_str, required=False),
    "host_gpu_link_count": _f("host_gpu_link_count", _as_int, required=False),
    "gpus_per_nvswitch_group": _f("gpus_per_nvswitch_group", _as_int, required=False),
    "nvswitch_uplinks": _f("nvswitch_uplinks", _as_int_list, required=False),
    "spine_nvswitch": _f("spine_nvswitch", _as_str, required=False),
    "spine_nvswitch_count": _f("spine_nvswitch_count", _as_int, required=False),
    "superpod": _f("superpod", _as_str, required=False),
    "year": _f("year", _as_int, required=False),
    "power": _f("power_w", units.parse_power, required=False),
    "nic_ports_per_cage": _f("nic_ports_per_cage", _as_int, required=False),
}

_SUPERPOD: dict[str, _Field] = {
    "system": _f("system", _as_str),
    "nodes_per_scalable_unit": _f("nodes_per_scalable_unit", _as_int),
    "leaf_switch": _f("leaf_switch", _as_str),
    "spine_switch": _f("spine_switch", _as_str),
    "core_switch": _f("core_switch", _as_str),
    "spine_layout": _f("spine_layout", _choice("shared", "per-rail-groups"), required=False),
    "spine_group_size": _f("spine_group_size", _as_int, required=False),
    "reference_rows": _f("reference_rows", lambda v: v, required=False),
    "fabric_management_ports": _f("fabric_management_ports", _as_int, required=False),
    "nodes_per_rack": _f("nodes_per_rack", _as_int, required=False),
}

SPEC_KINDS: dict[str, tuple[type[Spec], dict[str, _Field]]] = {
    "link": (LinkSpec, _LINK),
    "gpu": (GpuSpec, _GPU),
    "nic": (NicSpec, _NIC),
    "switch": (SwitchSpec, _SWITCH),
    "system": (SystemSpec, _SYSTEM),
    "superpod": (SuperPodSpec, _SUPERPOD),
    "transceiver": (TransceiverSpec, _TRANSCEIVER),
}
"""Spec kinds, by the ``kind`` key of a file: the class built and the keys it accepts."""

_SOURCE_KEYS = {"title", "url", "locator", "quote", "grade", "kind", "read_via"}
_SOURCE_REQUIRED = ("title", "url", "locator", "quote", "grade")
_CHECK_KEYS = {"claim", "quantity", "multiplier", "expected", "rel_tol"}
_ROW_KEYS = {
    "scalable_unit_count": True,
    "node_count": True,
    "gpu_count": True,
    "leaf_count": True,
    "spine_count": True,
    "core_count": False,
    "node_leaf_cables": False,
    "leaf_spine_cables": False,
    "spine_core_cables": False,
}


def _error(path: Path, where: str, message: str) -> SpecError:
    return SpecError(f"{path}: {where}: {message}")


def _table_list(path: Path, key: str, value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _error(path, key, f"must be an array of tables ([[{key}]])")
    return value


def _reject_unknown(path: Path, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _error(
            path, where, f"unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )


def _parse_sources(path: Path, raw: Any) -> tuple[Source, ...]:
    tables = _table_list(path, "sources", raw)
    if not tables:
        raise _error(path, "sources", "every spec needs at least one [[sources]] entry")
    sources = []
    for index, table in enumerate(tables):
        where = f"sources[{index}]"
        _reject_unknown(path, where, table, _SOURCE_KEYS)
        for key in _SOURCE_REQUIRED:
            if not isinstance(table.get(key), str) or not table[key].strip():
                raise _error(path, f"{where}.{key}", "is required and must be a non-empty string")
        if table["grade"] not in ("primary", "secondary", "measured", "derived"):
            raise _error(path, f"{where}.grade", "must be primary, secondary, measured or derived")
        sources.append(Source(**table))
    return tuple(sources)


def _parse_checks(path: Path, raw: Any) -> tuple[Check, ...]:
    checks = []
    for index, table in enumerate(_table_list(path, "checks", raw)):
        where = f"checks[{index}]"
        _reject_unknown(path, where, table, _CHECK_KEYS)
        missing = sorted(k for k in ("claim", "quantity", "expected") if k not in table)
        if missing:
            raise _error(path, where, f"missing key(s) {missing}")
        try:
            checks.append(
                Check(
                    claim=_as_str(table["claim"]),
                    quantity=_as_str(table["quantity"]),
                    multiplier=_as_number(table.get("multiplier", 1.0)),
                    expected=units.parse_rate(table["expected"]),
                    rel_tol=_as_number(table.get("rel_tol", 0.0)),
                )
            )
        except (TypeError, UnitError) as exc:
            raise _error(path, where, str(exc)) from None
    return tuple(checks)


def _parse_reference_rows(path: Path, raw: Any) -> tuple[ReferenceRow, ...]:
    rows = []
    for index, table in enumerate(_table_list(path, "reference_rows", raw)):
        where = f"reference_rows[{index}]"
        _reject_unknown(path, where, table, set(_ROW_KEYS))
        missing = sorted(k for k, required in _ROW_KEYS.items() if required and k not in table)
        if missing:
            raise _error(path, where, f"missing key(s) {missing}")
        try:
            rows.append(ReferenceRow(**{k: _as_int(v) for k, v in table.items()}))
        except TypeError as exc:
            raise _error(path, where, f"values must be {exc}") from None
    return tuple(rows)


def _parse_inferred(path: Path, raw: Any, allowed: set[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        raise _error(path, "inferred", "must be a table mapping a field name to its reasoning")
    for key, reason in raw.items():
        if key not in allowed:
            raise _error(path, f"inferred.{key}", "names no field of this spec")
        if not isinstance(reason, str) or not reason.strip():
            raise _error(path, f"inferred.{key}", "must give the reasoning as a string")
    return tuple(sorted(raw.items()))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _apply_aliases(path: Path, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Rename alias keys (``scale_up_link`` -> ``nvlink``), here and in ``[inferred]``."""
    aliases = _ALIASES.get(kind, {})
    result = dict(data)
    for alias, key in aliases.items():
        if alias in result:
            if key in result:
                raise _error(path, alias, f"is another name for {key!r}; give one of them")
            result[key] = result.pop(alias)
    if isinstance(result.get("inferred"), dict):
        result["inferred"] = {aliases.get(k, k): v for k, v in result["inferred"].items()}
    return result


def load_spec_file(path: Path, *, origin: Origin = "shipped") -> Spec:
    """Load and validate one spec file.

    Parameters
    ----------
    path : Path
        A ``.toml`` file whose stem equals its ``id``.
    origin : {"shipped", "user"}
        ``user`` for a user's own file (``--catalog``, a system file on the command line): it
        may omit ``[[sources]]``, and its values are then shown as user-supplied.

    Returns
    -------
    Spec
        A :class:`LinkSpec`, :class:`GpuSpec`, :class:`NicSpec`, :class:`SwitchSpec`,
        :class:`SystemSpec` or :class:`SuperPodSpec`. Cross-references between files are checked
        by :func:`interconnect_sim.specs.catalog.load_catalog`.

    Raises
    ------
    SpecError
        Naming the file and key on any malformed, unknown, missing or uncited value.
    """
    return spec_from_data(_read_toml(path), path, origin=origin)


def spec_from_data(
    data: Mapping[str, Any], path: Path, *, origin: Origin = "shipped", check_id: bool = True
) -> Spec:
    """Validate a spec given as the mapping a TOML file would hold (a system read from a
    topology dump): the same checks as :func:`load_spec_file`.

    Parameters
    ----------
    data : mapping
        The file's keys and values.
    path : Path
        The file they came from, named in every message.
    origin : {"shipped", "user"}
        As for :func:`load_spec_file`.
    check_id : bool
        Require ``id`` to equal the file stem (False for a spec derived from another file).

    Raises
    ------
    SpecError
        As :func:`load_spec_file`.
    """
    data = dict(data)
    kind = data.get("kind")
    if kind not in SPEC_KINDS:
        raise _error(path, "kind", f"is {kind!r}; must be one of {', '.join(SPEC_KINDS)}")
    data = _apply_aliases(path, kind, data)
    cls, fields = SPEC_KINDS[kind]
    allowed = {**_COMMON, **fields}
    _reject_unknown(path, "top level", data, set(allowed) | set(_ALIASES.get(kind, {})))
    if check_id and data.get("id") != path.stem:
        raise _error(path, "id", f"is {data.get('id')!r} but the file stem is {path.stem!r}")
    values: dict[str, Any] = {"origin": origin}
    for key, spec_field in allowed.items():
        if key not in data:
            if spec_field.required and not (key == "sources" and origin == "user"):
                raise _error(path, key, "is required")
            continue
        if key in ("kind", "sources", "checks", "inferred", "reference_rows"):
            continue
        try:
            values[spec_field.attribute] = spec_field.convert(data[key])
        except TypeError as exc:
            raise _error(path, key, f"must be {exc}; got {data[key]!r}") from None
        except UnitError as exc:
            raise _error(path, key, str(exc)) from None
    values["sources"] = _parse_sources(path, data["sources"]) if "sources" in data else ()
    if "checks" in data:
        values["checks"] = _parse_checks(path, data["checks"])
    if "inferred" in data:
        values["inferred"] = _parse_inferred(path, data["inferred"], set(fields))
    if kind == "superpod" and "reference_rows" in data:
        values["reference_rows"] = _parse_reference_rows(path, data["reference_rows"])
    return cls(**values)
