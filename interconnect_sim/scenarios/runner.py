"""Run any scenario: dispatch on its kind."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from interconnect_sim.scenarios.loader import Scenario, load_scenario
from interconnect_sim.scenarios.result import ScenarioResult
from interconnect_sim.specs.catalog import Catalog, load_catalog

__all__ = ["Progress", "run_scenario"]


class Progress(Protocol):
    """Where a run reports progress (a progress bar, or nothing)."""

    def update_to(self, done: int, total: int) -> None:
        """``done`` of ``total`` units finished."""

    def step(self, description: str) -> None:
        """One more step of unknown total, naming what runs now."""


def run_scenario(
    scenario: Scenario | Path | str,
    *,
    catalog: Catalog | None = None,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Run a scenario (or the scenario file at a path) and return what its report shows.

    Examples
    --------
    >>> from interconnect_sim.scenarios import parse_scenario
    >>> result = run_scenario(parse_scenario('''
    ... kind = "collective"
    ... [fabric]
    ... system = "dgx-h100"
    ... [collective]
    ... op = "all_reduce"
    ... min-bytes = "1M"
    ... max-bytes = "1G"
    ... '''))
    >>> bool(result.summary.frame["busbw_GBps"].iloc[-1] > 300)
    True
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, catalog=catalog)
    catalog = catalog or load_catalog()
    counted = None if progress is None else progress.update_to
    if scenario.kind == "collective":
        from interconnect_sim.scenarios.run_collective import run_collective_scenario

        return run_collective_scenario(scenario, catalog, counted)
    if scenario.kind == "replay":
        from interconnect_sim.scenarios.run_replay import run_replay_scenario

        return run_replay_scenario(scenario, catalog, counted)
    if scenario.kind == "training":
        from interconnect_sim.scenarios.run_training import run_training_scenario

        return run_training_scenario(scenario, catalog, None if progress is None else progress.step)
    if scenario.kind == "compare":
        from interconnect_sim.scenarios.run_compare import run_compare_scenario

        return run_compare_scenario(scenario, catalog, counted)
    from interconnect_sim.scenarios.plan import run_plan_scenario

    return run_plan_scenario(scenario, catalog, counted)
