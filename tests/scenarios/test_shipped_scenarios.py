"""Every shipped scenario runs and writes a whole report folder (kept small enough to run here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interconnect_sim.cli import main
from interconnect_sim.report.scenario_report import REPORT_FILES, write_report
from interconnect_sim.scenarios import load_scenario, run_scenario

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
    if path.stem == "llama3-70b-h100-superpod":  # `make run`: trains on the SuperPOD it draws
        ((_, fabric),) = result.fabrics
        assert fabric.graph.graph["node_count"] == 127  # RA-11333-001 Table 4, 4 SUs
        assert "992 of 1016" in dict(result.inputs)["GPUs in the job"]


def test_run_prints_where_the_report_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = next(p for p in SCENARIOS if p.stem == "whatif-ndr-vs-xdr")
    assert main(["run", str(scenario), "--out", str(tmp_path / "xdr")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"Report: {tmp_path / 'xdr' / 'report.html'}"
