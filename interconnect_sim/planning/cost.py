"""Cost of a design from a user-supplied price table: hardware, energy, and the training run.

Prices are never catalog facts: the user gives them (``--prices`` or ``prices =`` in a sweep
file). The shipped ``scenarios/prices/example-prices.toml`` is marked EXAMPLE PRICES, NOT QUOTES.
A table gives a price per unit for systems, switches, NICs (only charged when a design swaps the
system's NICs), transceivers and cables (by catalog id), one per fibre, the energy price and the
hardware's life:

    currency = "USD"
    label = "EXAMPLE PRICES, NOT QUOTES"
    energy_per_kwh = 0.08
    amortization_years = 4
    fibre_per_link = 60
    [systems]       dgx-h100 = 300000
    [switches]      qm9700 = 25000
    [nics]          connectx-8 = 2500
    [transceivers]  ndr-sr8-twin-port = 1500

The run's cost is the share of the hardware's life it occupies (capex x wall-clock / life) plus
its energy (facility power x wall-clock x price).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import read_text_file
from interconnect_sim.planning.bom import BillOfMaterials
from interconnect_sim.planning.power import PowerEstimate
from interconnect_sim.specs.catalog import Catalog

__all__ = ["CostEstimate", "PriceTable", "estimate_cost", "load_price_table"]

_SECTIONS = ("systems", "switches", "nics", "transceivers")
_SCALARS = {"currency", "label", "energy_per_kwh", "amortization_years", "fibre_per_link"}
_YEAR_S = 365.25 * 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTable:
    """Unit prices by catalog id, energy price and hardware life."""

    currency: str = "USD"
    label: str = ""
    energy_per_kwh: float = 0.0
    amortization_years: float = 4.0
    fibre_per_link: float = 0.0
    systems: dict[str, float] = field(default_factory=dict)
    switches: dict[str, float] = field(default_factory=dict)
    nics: dict[str, float] = field(default_factory=dict)
    transceivers: dict[str, float] = field(default_factory=dict)


def _number(path: Path, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{path}: {key}: must be a non-negative number, got {value!r}")
    return float(value)


def load_price_table(path: Path) -> PriceTable:
    """Read and check a price table (one-line errors naming the file and key)."""
    text = read_text_file(Path(path), "price table")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _SCALARS - set(_SECTIONS))
    if unknown:
        raise ScenarioError(
            f"{path}: unknown key(s) {unknown}; allowed: {', '.join(sorted(_SCALARS))}, "
            f"[{'], ['.join(_SECTIONS)}]"
        )
    values: dict[str, Any] = {}
    for key in ("energy_per_kwh", "amortization_years", "fibre_per_link"):
        if key in data:
            values[key] = _number(path, key, data[key])
    if values.get("amortization_years", 1.0) <= 0:
        raise ScenarioError(f"{path}: amortization_years: must be positive")
    for key in ("currency", "label"):
        if key in data:
            if not isinstance(data[key], str):
                raise ScenarioError(f"{path}: {key}: must be a string")
            values[key] = data[key]
    for section in _SECTIONS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ScenarioError(f"{path}: [{section}] must be a table of id = price")
        values[section] = {k: _number(path, f"{section}.{k}", v) for k, v in table.items()}
    return PriceTable(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEstimate:
    """Hardware cost and the cost of one training run."""

    currency: str
    capex: float
    capex_parts: dict[str, float]
    energy_kwh: float
    energy_cost: float
    run_hardware_cost: float
    missing: list[str] = field(default_factory=list)

    @property
    def run_cost(self) -> float:
        """Hardware share plus energy."""
        return self.run_hardware_cost + self.energy_cost

    def to_row(self, tokens: float) -> dict[str, Any]:
        """Flat columns for a designs table."""
        return {
            "currency": self.currency,
            "capex": self.capex,
            **{f"capex_{k}": v for k, v in self.capex_parts.items()},
            "energy_mwh": self.energy_kwh / 1e3,
            "energy_cost": self.energy_cost,
            "run_cost": self.run_cost,
            "cost_per_million_tokens": self.run_cost / tokens * 1e6,
            "prices_missing": ",".join(self.missing),
        }


def _priced(table: dict[str, float], key: str, count: float, missing: list[str]) -> float:
    if count and key not in table:
        missing.append(key)
        return 0.0
    return table.get(key, 0.0) * count


def estimate_cost(
    bom: BillOfMaterials,
    power: PowerEstimate,
    prices: PriceTable,
    catalog: Catalog,
    *,
    wall_clock_s: float,
) -> CostEstimate:
    """Capex of ``bom`` and the cost of a run of ``wall_clock_s`` on it."""
    missing: list[str] = []
    system = bom.system_spec
    parts = {
        "systems": _priced(prices.systems, bom.system, bom.nodes, missing),
        "switches": sum(_priced(prices.switches, s.spec, s.count, missing) for s in bom.switches),
        "nics": sum(
            _priced(prices.nics, nic, count, missing)
            for nic, count in bom.nics.items()
            if nic != system.nic
        ),
        "optics": sum(
            _priced(prices.transceivers, part, count, missing)
            for part, count in bom.transceivers().items()
        ),
        "fibre": prices.fibre_per_link
        * sum(c.links for c in bom.cables if c.media in ("multimode", "singlemode")),
    }
    capex = sum(parts.values())
    energy_kwh = power.facility_w / 1e3 * wall_clock_s / 3600.0
    return CostEstimate(
        currency=prices.currency,
        capex=capex,
        capex_parts=parts,
        energy_kwh=energy_kwh,
        energy_cost=energy_kwh * prices.energy_per_kwh,
        run_hardware_cost=capex * wall_clock_s / (prices.amortization_years * _YEAR_S),
        missing=sorted(set(missing)),
    )
