"""Scenario files: every kind of run written down, checked, run, and turned into a report.

``load_scenario`` reads and checks a file (``docs/scenarios.md``), ``run_scenario`` runs it and
returns a :class:`ScenarioResult`, which :func:`interconnect_sim.report.write_report` writes as a
folder (``summary.csv``, ``summary.md``, PNG and SVG plots, a self-contained ``report.html``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interconnect_sim.scenarios.loader import (
        KINDS,
        RunSpec,
        Scenario,
        load_scenario,
        parse_scenario,
    )
    from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
    from interconnect_sim.scenarios.runner import run_scenario

_LAZY = {
    "KINDS": "interconnect_sim.scenarios.loader",
    "RunSpec": "interconnect_sim.scenarios.loader",
    "Scenario": "interconnect_sim.scenarios.loader",
    "load_scenario": "interconnect_sim.scenarios.loader",
    "parse_scenario": "interconnect_sim.scenarios.loader",
    "Figure": "interconnect_sim.scenarios.result",
    "ScenarioResult": "interconnect_sim.scenarios.result",
    "Series": "interconnect_sim.scenarios.result",
    "Table": "interconnect_sim.scenarios.result",
    "run_scenario": "interconnect_sim.scenarios.runner",
}
"""Imported on first use: the command line's shared options (``scenarios.options``) come
without the loader, the runners and pandas, so small commands start fast."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interconnect_sim.scenarios' has no attribute {name!r}")


__all__ = [
    "KINDS",
    "Figure",
    "RunSpec",
    "Scenario",
    "ScenarioResult",
    "Series",
    "Table",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
]
