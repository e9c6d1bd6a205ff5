"""Planning scenarios (``kind = "plan"``): a capacity-planning sweep, written up as a report.

The sweep itself belongs to the planning package (issue #15); this module checks the scenario's
``[plan]`` table and hands it over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.scenarios.result import ScenarioResult
from interconnect_sim.specs.catalog import Catalog

__all__ = ["parse_plan", "run_plan_scenario"]


def parse_plan(data: Mapping[str, Any], path: Path | str, base: Path | None) -> Mapping[str, Any]:
    """Check a plan scenario's tables."""
    del data, base
    raise ScenarioError(
        f'{path}: kind = "plan" needs the planning package (issue #15), which this build '
        "does not have yet"
    )


def run_plan_scenario(
    scenario: Any, catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> ScenarioResult:
    """Run a plan scenario."""
    del catalog, progress
    raise ScenarioError(f"{scenario.path}: plan scenarios are not available in this build")
