"""Strict parsing and formatting of sizes, durations, rates, compute rates and power.

Inside the package every quantity is a float in base units: bytes, seconds, bytes per second
(one direction), FLOP per second and watts. Strings with units exist only at the boundary
(data files, command-line flags, report columns); this module is the one place that converts.

Conventions (DESIGN §3):

* ``GB`` is 1e9 bytes, ``GiB`` is 2**30 bytes; ``Gbit`` is 1e9 bits.
* Rates are written ``<size>/s``: ``"25 GB/s"``, ``"400 Gbit/s"``, ``"1.5 GiB/s"``.
* Ambiguous spellings (``Gbps``, ``GBps``, ``Gb/s``, ``Gb``) and bare numbers are rejected with an
  error that names the valid spellings.

Examples
--------
>>> parse_rate("400 Gbit/s")
50000000000.0
>>> parse_size("1 GiB")
1073741824.0
>>> parse_duration("1.5 us")
1.5e-06
>>> format_rate(25e9)
'25 GB/s'
"""

from __future__ import annotations

import math
import re

from interconnect_sim.errors import UnitError

__all__ = [
    "format_duration",
    "format_flops",
    "format_rate",
    "format_size",
    "parse_duration",
    "parse_flops",
    "parse_length",
    "parse_nccl_tests_size",
    "parse_power",
    "parse_rate",
    "parse_size",
]

_DECIMAL_PREFIXES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY_PREFIXES = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

# Size units in bytes. "B" is bytes, "bit" is bits; "b" alone is ambiguous and rejected.
_SIZE_UNITS: dict[str, float] = {}
for _p, _f in _DECIMAL_PREFIXES.items():
    _SIZE_UNITS[f"{_p}B"] = _f
    _SIZE_UNITS[f"{_p}bit"] = _f / 8.0
for _p, _f in _BINARY_PREFIXES.items():
    _SIZE_UNITS[f"{_p}B"] = _f
    _SIZE_UNITS[f"{_p}bit"] = _f / 8.0
_SIZE_UNITS["byte"] = 1.0
_SIZE_UNITS["bytes"] = 1.0
_SIZE_UNITS["bits"] = 1.0 / 8.0

_DURATION_UNITS = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
    "ps": 1e-12,
    "min": 60.0,
    "h": 3600.0,
    "day": 86400.0,
    "days": 86400.0,
}

_FLOPS_UNITS = {f"{p}FLOP/s": f for p, f in _DECIMAL_PREFIXES.items() if p != "K"}
_POWER_UNITS = {"W": 1.0, "kW": 1e3, "MW": 1e6}
_LENGTH_UNITS = {"m": 1.0, "km": 1e3}


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*?)?\s*$")


def _split(text: str, what: str, valid: str) -> tuple[float, str]:
    if not isinstance(text, str):
        raise UnitError(
            f"{what} must be a string with a unit, e.g. {valid}; got {text!r} "
            f"({type(text).__name__})"
        )
    match = _QUANTITY.match(text)
    if match is None:
        raise UnitError(
            f"cannot read {text!r} as a {what}; write a number and a unit, e.g. {valid}"
        )
    number = float(match.group(1))
    unit = match.group(2)
    if unit is None:
        raise UnitError(f"{what} {text!r} has no unit; write e.g. {valid}")
    if not math.isfinite(number):
        raise UnitError(f"{what} {text!r} is not a finite number")
    return number, unit


def _known_prefix(stem: str) -> bool:
    return stem in _DECIMAL_PREFIXES or stem in _BINARY_PREFIXES


def _ambiguous_rate_stem(unit: str) -> str | None:
    """Return the prefix of an ambiguous rate spelling (``Gbps`` -> ``G``), else None."""
    for suffix in ("bps", "Bps", "b/s"):
        if unit.endswith(suffix) and _known_prefix(unit[: -len(suffix)]):
            return unit[: -len(suffix)]
    return None


def parse_size(text: str) -> float:
    """Parse a data size such as ``"1 GiB"``, ``"8 MB"`` or ``"400 Gbit"`` into bytes.

    Parameters
    ----------
    text : str
        A number followed by a unit: ``B``, ``kB``/``KB``, ``MB``, ``GB``, ``TB`` (powers of 10),
        ``KiB``, ``MiB``, ``GiB``, ``TiB`` (powers of 2), or the same prefixes with ``bit``.

    Returns
    -------
    float
        Size in bytes; never negative.

    Raises
    ------
    UnitError
        On a bare number, an unknown unit, an ambiguous unit (``Gb``) or a negative size.

    Examples
    --------
    >>> parse_size("8 KiB")
    8192.0
    """
    valid = "'8 KiB', '1 GB', '400 Gbit'"
    number, unit = _split(text, "size", valid)
    if unit not in _SIZE_UNITS:
        stem = unit[:-1] if unit.endswith("b") else None
        ambiguous = stem is not None and _known_prefix(stem)
        extra = f" ('{unit}' is ambiguous: write {stem}bit or {stem}B)" if ambiguous else ""
        raise UnitError(
            f"unknown size unit in {text!r}{extra}; valid units: B, kB, MB, GB, TB, "
            "KiB, MiB, GiB, TiB, or the same prefixes with bit"
        )
    if number < 0:
        raise UnitError(f"size {text!r} is negative")
    return number * _SIZE_UNITS[unit]


def parse_rate(text: str) -> float:
    """Parse a data rate such as ``"25 GB/s"`` or ``"400 Gbit/s"`` into bytes per second.

    Parameters
    ----------
    text : str
        A number, a size unit (see :func:`parse_size`) and ``/s``.

    Returns
    -------
    float
        Rate in bytes per second.

    Raises
    ------
    UnitError
        On ambiguous spellings such as ``Gbps``, ``GBps`` or ``Gb/s``, which name the valid
        spellings ``Gbit/s`` and ``GB/s``.

    Examples
    --------
    >>> parse_rate("25 GB/s")
    25000000000.0
    """
    valid = "'25 GB/s', '400 Gbit/s', '1.5 GiB/s'"
    number, unit = _split(text, "rate", valid)
    stem = _ambiguous_rate_stem(unit)
    if stem is not None:
        raise UnitError(
            f"rate unit in {text!r} is ambiguous; write {stem}bit/s (bits) or {stem}B/s (bytes)"
        )
    if not unit.endswith("/s") or unit[:-2] not in _SIZE_UNITS:
        raise UnitError(f"unknown rate unit in {text!r}; write e.g. {valid}")
    if number < 0:
        raise UnitError(f"rate {text!r} is negative")
    return number * _SIZE_UNITS[unit[:-2]]


_NCCL_TESTS_SUFFIX = re.compile(r"^\s*(\d+)\s*([KMGT]?)\s*$")


def parse_nccl_tests_size(text: str) -> float:
    """Parse a message size as nccl-tests' ``-b``/``-e`` flags read it, or with explicit units.

    nccl-tests reads ``8``, ``8K``, ``8M``, ``8G`` as bytes with binary multipliers
    (K = 1024). Anything else must carry a unit (``"8 GiB"``, ``"1 GB"``; see :func:`parse_size`).

    Examples
    --------
    >>> parse_nccl_tests_size("8G")
    8589934592.0
    >>> parse_nccl_tests_size("64")
    64.0
    >>> parse_nccl_tests_size("1 GB")
    1000000000.0
    """
    match = _NCCL_TESTS_SUFFIX.match(text) if isinstance(text, str) else None
    if match is not None:
        powers = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
        return float(int(match.group(1)) * 2 ** powers[match.group(2)])
    return parse_size(text)


def parse_duration(text: str) -> float:
    """Parse a duration such as ``"1.5 us"``, ``"130 ns"`` or ``"2 h"`` into seconds.

    Examples
    --------
    >>> parse_duration("130 ns")
    1.3e-07
    """
    valid = "'130 ns', '1.5 us', '2 ms', '1 s'"
    number, unit = _split(text, "duration", valid)
    if unit not in _DURATION_UNITS:
        raise UnitError(
            f"unknown duration unit in {text!r}; valid units: " + ", ".join(_DURATION_UNITS)
        )
    if number < 0:
        raise UnitError(f"duration {text!r} is negative")
    return number * _DURATION_UNITS[unit]


def parse_flops(text: str) -> float:
    """Parse a compute rate such as ``"989.5 TFLOP/s"`` into FLOP per second.

    Examples
    --------
    >>> parse_flops("2.25 PFLOP/s")
    2250000000000000.0
    """
    valid = "'989.5 TFLOP/s', '2.25 PFLOP/s'"
    number, unit = _split(text, "compute rate", valid)
    if unit not in _FLOPS_UNITS:
        raise UnitError(
            f"unknown compute-rate unit in {text!r}; write e.g. {valid} "
            "(TFLOPS and TFLOPs are not accepted)"
        )
    if number < 0:
        raise UnitError(f"compute rate {text!r} is negative")
    return number * _FLOPS_UNITS[unit]


def parse_power(text: str) -> float:
    """Parse a power such as ``"700 W"`` or ``"10.2 kW"`` into watts.

    Examples
    --------
    >>> parse_power("10.2 kW")
    10200.0
    """
    valid = "'700 W', '10.2 kW'"
    number, unit = _split(text, "power", valid)
    if unit not in _POWER_UNITS:
        raise UnitError(f"unknown power unit in {text!r}; write e.g. {valid}")
    if number < 0:
        raise UnitError(f"power {text!r} is negative")
    return number * _POWER_UNITS[unit]


def parse_length(text: str) -> float:
    """Parse a cable length or reach such as ``"50 m"`` or ``"2 km"`` into metres.

    Examples
    --------
    >>> parse_length("2 km")
    2000.0
    """
    valid = "'50 m', '2 km'"
    number, unit = _split(text, "length", valid)
    if unit not in _LENGTH_UNITS:
        raise UnitError(f"unknown length unit in {text!r}; write e.g. {valid}")
    if number < 0:
        raise UnitError(f"length {text!r} is negative")
    return number * _LENGTH_UNITS[unit]


def _format_scaled(value: float, steps: list[tuple[float, str]], digits: int) -> str:
    magnitude = abs(value)
    for factor, name in steps:
        if magnitude >= factor:
            return f"{value / factor:.{digits}g} {name}"
    factor, name = steps[-1]
    return f"{value / factor:.{digits}g} {name}"


def format_size(size_bytes: float, *, binary: bool = False, digits: int = 4) -> str:
    """Format bytes with a decimal (``GB``) or binary (``GiB``) prefix.

    Examples
    --------
    >>> format_size(2**30, binary=True)
    '1 GiB'
    >>> format_size(1.5e9)
    '1.5 GB'
    """
    if binary:
        steps = [(2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1, "B")]
    else:
        steps = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1, "B")]
    return _format_scaled(size_bytes, steps, digits)


def format_rate(rate_bytes_per_s: float, *, digits: int = 4) -> str:
    """Format a rate in bytes per second with decimal prefixes (``GB/s``, ``TB/s``).

    Examples
    --------
    >>> format_rate(450e9)
    '450 GB/s'
    """
    steps = [(1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1, "B/s")]
    return _format_scaled(rate_bytes_per_s, steps, digits)


def format_duration(duration_s: float, *, digits: int = 4) -> str:
    """Format seconds with the largest fitting unit among days, h, min, s, ms, us, ns.

    Examples
    --------
    >>> format_duration(2.5e-6)
    '2.5 us'
    >>> format_duration(5400)
    '1.5 h'
    """
    steps = [
        (86400.0, "days"),
        (3600.0, "h"),
        (60.0, "min"),
        (1.0, "s"),
        (1e-3, "ms"),
        (1e-6, "us"),
        (1e-9, "ns"),
    ]
    return _format_scaled(duration_s, steps, digits)


def format_flops(flops_per_s: float, *, digits: int = 4) -> str:
    """Format FLOP per second (``TFLOP/s``, ``PFLOP/s``).

    Examples
    --------
    >>> format_flops(989.5e12)
    '989.5 TFLOP/s'
    """
    steps = [(1e15, "PFLOP/s"), (1e12, "TFLOP/s"), (1e9, "GFLOP/s"), (1.0, "FLOP/s")]
    return _format_scaled(flops_per_s, steps, digits)
