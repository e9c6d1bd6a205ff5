"""Typed values of a calibration's TOML tables, checked strictly: every reader here raises a
one-line :class:`~interconnect_sim.errors.SpecError` naming the file and the table or key, and
refuses NaN, infinities and values far beyond any NCCL constant.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError
from interconnect_sim.files import read_text_file

__all__ = [
    "COUNT_MAX",
    "GBPS",
    "LARGEST",
    "US",
    "as_list",
    "exact_keys",
    "integer",
    "names",
    "number",
    "numbers",
    "read_toml",
    "shown",
    "table_of",
]

US = 1e-6
GBPS = 1e9
LARGEST = 1e12
"""No constant of a calibration (latencies in us, rates in GB/s, bytes of a chunk) comes near
it; above it, and for NaN or infinity, a value is refused rather than carried into every
prediction."""
COUNT_MAX = 1_000_000
"""Channel counts, heads and peers: far above any NCCL uses."""


def read_toml(path: Path) -> dict[str, Any]:
    text = read_text_file(path, "calibration", SpecError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def table_of(data: dict[str, Any], key: str, path: Path, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SpecError(f"{path}: [{where}{key}] is missing or not a table")
    return value


def exact_keys(table: dict[str, Any], keys: tuple[str, ...], where: str, path: Path) -> None:
    missing = [k for k in keys if k not in table]
    unknown = sorted(set(table) - set(keys))
    if missing or unknown:
        raise SpecError(f"{path}: [{where}]: missing {missing}, unknown {unknown}")


def number(
    value: Any, where: str, path: Path, *, positive: bool = False, high: float = LARGEST
) -> float:
    """``value`` as a float: a finite number from 0 (above 0 with ``positive``) to ``high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 <= value <= high)  # also False for NaN
    ):
        raise SpecError(
            f"{path}: {where} must be a finite number from 0 to {high:g}, got {shown(value)}"
        )
    if positive and value <= 0:
        raise SpecError(f"{path}: {where} must be a positive number, got {value!r}")
    return float(value)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def integer(value: Any, where: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= COUNT_MAX:
        raise SpecError(
            f"{path}: {where} must be a positive integer (at most {COUNT_MAX:,}), got "
            f"{shown(value)}"
        )
    return value


def numbers(
    value: Any, where: str, path: Path, length: int | None = None, high: float = LARGEST
) -> tuple[float, ...]:
    if (
        not isinstance(value, list)
        or (length is not None and len(value) != length)
        or (length is None and not value)
    ):
        size = f"{length} " if length is not None else "one or more "
        raise SpecError(f"{path}: {where} must be a list of {size}numbers")
    return tuple(number(v, where, path, high=high) for v in value)


def names(value: Any, allowed: tuple[str, ...], where: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        raise SpecError(f"{path}: {where} must list names among {', '.join(allowed)}")
    return tuple(str(v) for v in value)


def as_list(value: Any, where: str, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"{path}: {where} must be a list, got {shown(value)}")
    return value
