"""Text-to-value converters shared by the command line and scenario files.

Each converter takes the text a user typed (``"8"``, ``"2:1"``, ``"15T"``, ``"50000 h"``) and
returns the value in base units, or raises :class:`argparse.ArgumentTypeError` with a short reason
(argparse's own contract, so the converters plug straight into ``add_argument(type=...)``).

Scenario files are typed TOML, so each converter also says which TOML value types it accepts
(:func:`toml_types`): a whole number such as ``tp`` must be a TOML integer (``tp = 8``, not
``tp = "8"`` or ``tp = 8.0``), a duration must be a string with a unit.

Examples
--------
>>> positive_int("8")
8
>>> ratio("2:1")
2.0
>>> token_count("15T")
15000000000000.0
>>> toml_types(positive_int)
(<class 'int'>,)
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

from interconnect_sim.errors import UnitError
from interconnect_sim.units import parse_duration, parse_nccl_tests_size, parse_rate

__all__ = [
    "duration",
    "message_size",
    "on_off",
    "positive_float",
    "positive_int",
    "rate",
    "ratio",
    "token_count",
    "toml_types",
    "virtual_stages",
]

F = TypeVar("F", bound=Callable[..., Any])

_TOML_TYPES = "_toml_types"


def _accepts(*types: type) -> Callable[[F], F]:
    """Mark a converter with the TOML value types a scenario file may give it."""

    def mark(converter: F) -> F:
        setattr(converter, _TOML_TYPES, types)
        return converter

    return mark


def toml_types(converter: Callable[[str], Any] | None) -> tuple[type, ...]:
    """The TOML value types a scenario file may give an option converted by ``converter``.

    Marked converters say so themselves; ``int`` takes integers, ``float`` numbers, and anything
    else (``str``, ``Path``, no converter) takes strings.
    """
    marked: tuple[type, ...] | None = getattr(converter, _TOML_TYPES, None)
    if marked is not None:
        return marked
    if converter is int:
        return (int,)
    if converter is float:
        return (int, float)
    return (str,)


@_accepts(int)
def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


@_accepts(int, float, str)
def ratio(text: str) -> float:
    """Accept ``2``, ``2.0`` or ``2:1``."""
    head, _, tail = text.partition(":")
    try:
        value = float(head) / (float(tail) if tail else 1.0)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio such as 2 or 2:1") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive ratio")
    return value


@_accepts(str)
def on_off(text: str) -> bool:
    """``on`` or ``off``."""
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r} must be on or off")
    return text == "on"


@_accepts(int, str)
def message_size(text: str) -> float:
    """nccl-tests spelling (``8``, ``8K``, ``8M``, ``8G``; powers of two) or ``"8 GiB"``."""
    try:
        return parse_nccl_tests_size(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


@_accepts(int, str)
def token_count(text: str) -> float:
    """``15T``, ``2.5B``, ``300M`` or a plain number of tokens (decimal multipliers)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMBGT]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token count such as 15T or 2.5B")
    value = float(match.group(1)) * _TOKEN_SUFFIX[match.group(2)]
    if not 0 < value < 1e18:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 1 and 1e18 tokens")
    return value


@_accepts(str)
def duration(text: str) -> float:
    """A positive, finite duration with units (``2000 h``, ``90 s``)."""
    try:
        value = parse_duration(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite duration")
    return value


@_accepts(str)
def rate(text: str) -> float:
    """A positive, finite rate with units (``100 GB/s``, ``400 Gbit/s``), in bytes/s."""
    try:
        value = parse_rate(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive, finite rate")
    return value


@_accepts(int, float)
def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


@_accepts(int, str)
def virtual_stages(text: str) -> int | str:
    """``auto`` or a whole number >= 1."""
    return "auto" if text == "auto" else positive_int(text)
