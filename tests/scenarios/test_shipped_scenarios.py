"""Every shipped scenario runs and writes a whole report folder (kept small enough to run here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interconnect_sim.cli import main
from interconnect_sim.report.scenario_report import REPORT_FILES, write_report
from interconnect_sim.scenarios import load_scenario, run_scenario
from interconnect_sim.scenarios.result import ScenarioResult

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.toml"))


def test_there_is_a_scenario_of_every_kind() -> None:
    kinds = {load_scenario(path).kind for path in SCENARIOS}
    assert {"collective", "replay", "training", "compare"} <= kinds


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_writes_its_report(path: Path, tmp_path: Path) -> None:
    result = run_scenario(path)
    report = write_report(result, tmp_path / path.stem)
    folder = report.parent
    for name in REPORT_FILES:
        assert (folder / name).stat().st_size > 0, name
    for figure in result.figures:
        assert (folder / f"{figure.name}.png").exists()
        assert (folder / f"{figure.name}.svg").exists()
        assert figure.x_label
        assert figure.y_label
    summary = pd.read_csv(folder / "summary.csv")
    assert len(summary) >= 1
    numbers = summary.select_dtypes("number").to_numpy(dtype=float)
    assert np.isfinite(numbers[~np.isnan(numbers)]).all()
    assert result.bottleneck
    assert not result.provenance.empty
    page = report.read_text()
    assert "Plotly.newPlot" in page
    assert "<svg" in page
    assert "<script src" not in page  # plotly.js is inside the page (the browser test checks)
    if path.stem == "llama3-8b-straggler":  # a timeline: its picture, path and what-if
        _check_timeline_report(result, folder)
    if path.stem == "llama3-70b-h100-superpod":  # `make run`: trains on the SuperPOD it draws
        ((_, fabric),) = result.fabrics
        assert fabric.graph.graph["node_count"] == 127  # RA-11333-001 Table 4, 4 SUs
        assert "992 of 1016" in dict(result.inputs)["GPUs in the job"]


def test_run_prints_where_the_report_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = next(p for p in SCENARIOS if p.stem == "whatif-ndr-vs-xdr")
    assert main(["run", str(scenario), "--out", str(tmp_path / "xdr")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"Report: {tmp_path / 'xdr' / 'report.html'}"


def _check_timeline_report(result: ScenarioResult, folder: Path) -> None:
    """The step's picture holds every event that took time, on the lanes the trace gives, within
    the step; the report says what the what-if cost and what absorbed it."""
    figure = next(f for f in result.figures if f.name == "step-timeline")
    lanes = set(figure.y_categories)
    assert {"stage 0 (healthy)", "stage 0 (slowed 1)", "stage 0 DP", "neighbour job"} <= lanes
    step_ms = float(figure.title.split(": ")[1].removesuffix(" ms"))
    for series in figure.series:
        assert series.style == "gantt"
        assert series.colour
        assert set(map(str, series.y)) <= lanes
        ends = [float(x) + w for x, w in zip(series.x, series.width, strict=True)]
        assert min(map(float, series.x)) >= 0
        assert max(ends) <= step_ms * 1.001
    labels = [s.label for s in figure.series]
    assert labels[:2] == ["forward", "backward"]
    assert "neighbour job" in labels
    assert (folder / "what-if.csv").exists()
    assert (folder / "critical-path.csv").exists()
    whatif = next(line for line in result.headline if line.startswith("What-if"))
    assert "node 5 10% slower" in whatif
    assert "absorbed by stage" in whatif
    path = pd.read_csv(folder / "critical-path.csv")
    assert path["share_pct"].sum() == pytest.approx(100, abs=0.5)  # the path spans the step
