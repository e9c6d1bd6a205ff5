"""The replay command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli import run

TRACE = Path(__file__).parents[2] / "scenarios" / "traces" / "tp-dp-overlap.jsonl"


def test_replay_json_has_makespan_calls_and_links(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "replay", str(TRACE), "--system", "dgx-h100", "--nodes", "2", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["makespan_s"] > 0
    assert {"id", "start_s", "end_s", "duration_s"} <= set(data["calls"][0])
    assert {"src", "dst", "utilisation"} <= set(data["links"][0])
    ends = {c["id"]: c["end_s"] for c in data["calls"]}
    starts = {c["id"]: c["start_s"] for c in data["calls"]}
    assert starts["dp-ag-rail0"] == pytest.approx(ends["dp-rs-rail0"] + 0.002)
    assert data["makespan_s"] == pytest.approx(max(ends.values()))


def test_replay_out_writes_files_for_both_engines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_dir = tmp_path / "replay"
    code, out, _ = run(
        capsys,
        "replay",
        str(TRACE),
        "--system",
        "dgx-h100",
        "--nodes",
        "2",
        "--engine",
        "both",
        "--out",
        str(out_dir),
    )
    assert code == 0
    assert "des vs analytic" in out
    assert {p.name for p in out_dir.iterdir()} == {
        "calls.csv",
        "links.csv",
        "timeline.png",
        "links-heatmap.png",
    }
    calls = (out_dir / "calls.csv").read_text().splitlines()
    assert calls[0].startswith("engine,id,op,bytes")
    assert len(calls) == 1 + 2 * 7


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "/no/such/trace.jsonl", "--system", "dgx-h100"],
        ["replay", str(TRACE), "--system", "dgx-h100"],  # rail/node groups beyond 1 node
        ["replay", str(TRACE), "--system", "dgx-h100", "--nodes", "2", "--engine", "fast"],
    ],
)
def test_replay_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
