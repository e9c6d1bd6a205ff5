"""Units: strict parsing at the boundary, GB = 1e9, ambiguous spellings rejected."""

from __future__ import annotations

import pytest

from interconnect_sim import units
from interconnect_sim.errors import UnitError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("400 Gbit/s", 50e9),
        ("25 GB/s", 25e9),
        ("1 GiB/s", 2.0**30),
        ("200Gbit/s", 25e9),
        ("3.35 TB/s", 3.35e12),
        ("0 B/s", 0.0),
    ],
)
def test_parse_rate_converts_to_bytes_per_second(text: str, expected: float) -> None:
    assert units.parse_rate(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text", ["400 Gbps", "25 GBps", "400 Gb/s", "100 Mbps"])
def test_parse_rate_rejects_ambiguous_spellings_naming_both_fixes(text: str) -> None:
    with pytest.raises(UnitError) as excinfo:
        units.parse_rate(text)
    message = str(excinfo.value)
    assert "bit/s" in message
    assert "B/s" in message
    assert "ambiguous" in message


@pytest.mark.parametrize(
    "text", ["25", "", "fast", "25 GB", "-1 GB/s", "25 furlongs/s", "nan GB/s"]
)
def test_parse_rate_rejects_bare_numbers_and_unknown_units(text: str) -> None:
    with pytest.raises(UnitError):
        units.parse_rate(text)


def test_parse_rate_rejects_non_strings() -> None:
    with pytest.raises(UnitError, match="string"):
        units.parse_rate(25e9)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 GiB", 2.0**30),
        ("1 GB", 1e9),
        ("8 KiB", 8192.0),
        ("8 kB", 8000.0),
        ("400 Gbit", 50e9),
        ("80 GB", 80e9),
        ("512 B", 512.0),
    ],
)
def test_parse_size_distinguishes_decimal_and_binary_prefixes(text: str, expected: float) -> None:
    assert units.parse_size(text) == expected


def test_parse_size_rejects_lowercase_b_as_ambiguous() -> None:
    with pytest.raises(UnitError, match="Gbit or GB"):
        units.parse_size("3 Gb")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5 us", 1.5e-6), ("130 ns", 130e-9), ("2 ms", 2e-3), ("1 s", 1.0), ("2 h", 7200.0)],
)
def test_parse_duration(text: str, expected: float) -> None:
    assert units.parse_duration(text) == pytest.approx(expected)


def test_parse_flops_requires_flop_per_second_spelling() -> None:
    assert units.parse_flops("989.5 TFLOP/s") == pytest.approx(989.5e12)
    with pytest.raises(UnitError, match="TFLOP/s"):
        units.parse_flops("989.5 TFLOPS")


def test_parse_power() -> None:
    assert units.parse_power("10.2 kW") == pytest.approx(10200.0)
    with pytest.raises(UnitError):
        units.parse_power("700")


def test_formatters_use_decimal_prefixes_by_default() -> None:
    assert units.format_rate(450e9) == "450 GB/s"
    assert units.format_rate(1.8e12) == "1.8 TB/s"
    assert units.format_size(2**30, binary=True) == "1 GiB"
    assert units.format_size(1e9) == "1 GB"
    assert units.format_duration(2.5e-6) == "2.5 us"
    assert units.format_flops(2.25e15) == "2.25 PFLOP/s"
