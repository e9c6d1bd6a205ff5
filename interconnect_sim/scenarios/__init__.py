"""Scenario files: every kind of run written down, checked, run, and turned into a report.

``load_scenario`` reads and checks a file (``docs/scenarios.md``), ``run_scenario`` runs it and
returns a :class:`ScenarioResult`, which :func:`interconnect_sim.report.write_report` writes as a
folder (``summary.csv``, ``summary.md``, PNG and SVG plots, a self-contained ``report.html``).
"""

from interconnect_sim.scenarios.loader import (
    KINDS,
    RunSpec,
    Scenario,
    load_scenario,
    parse_scenario,
)
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.runner import run_scenario

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
