"""Formatting then parsing returns the value (to the printed precision)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from interconnect_sim import units

positive = st.floats(min_value=1.0, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(positive)
def test_format_rate_round_trips(value: float) -> None:
    parsed = units.parse_rate(units.format_rate(value, digits=12))
    assert abs(parsed - value) <= 1e-9 * value


@given(positive)
def test_format_size_round_trips_binary(value: float) -> None:
    parsed = units.parse_size(units.format_size(value, binary=True, digits=12))
    assert abs(parsed - value) <= 1e-9 * value


@given(st.floats(min_value=1e-12, max_value=1e5, allow_nan=False))
def test_format_duration_round_trips(value: float) -> None:
    parsed = units.parse_duration(units.format_duration(value, digits=12))
    assert abs(parsed - value) <= 1e-9 * value
