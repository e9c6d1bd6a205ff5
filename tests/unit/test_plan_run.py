"""Running sweeps: the shipped example at reduced size, Dask = local, resume, failing points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning import executors
from interconnect_sim.planning.evaluate import Evaluator
from interconnect_sim.planning.executors import RowStore, run_sweep
from interconnect_sim.planning.recheck import RECHECKS
from interconnect_sim.planning.sweep import Sweep, load_sweep, parse_sweep
from tests.unit.test_cli import run

SHIPPED = Path(__file__).parents[2] / "scenarios" / "sweeps" / "llama3-70b-sizing.toml"


def _explicit_sweep(tmp_path: Path, **axes: Any) -> Sweep:
    """A fast sweep: explicit layouts, small fabrics."""
    data = {
        "name": "explicit",
        "design": {
            "model": "llama3-8b",
            "global_batch": 64,
            "tokens": "1T",
            "system": "dgx-h100",
            "precision": "bf16",
        },
        "axes": {
            "nodes": [2, 4],
            "layout": [{"tp": 8, "pp": 1}, {"tp": 4, "pp": 2, "zero": 2}],
            "oversubscription": ["1:1", "2:1"],
            **axes,
        },
    }
    return parse_sweep(data, tmp_path / "explicit.toml")


def test_shipped_sweep_runs_at_reduced_size_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small = (
        SHIPPED.read_text()
        .replace(
            'system = ["dgx-h100", "dgx-b200", "gb200-nvl72"]',
            'system = ["dgx-h100", "gb200-nvl72"]',
        )
        .replace("gpus = [128, 256, 512, 1024, 2048, 4096, 8192]", "gpus = [128]")
    )
    small = small.replace('    { name = "xdr", nic = "connectx-8", switch = "q3400" },\n', "")
    small = small.replace(
        "../prices/example-prices.toml", str(SHIPPED.parents[1] / "prices" / "example-prices.toml")
    )
    path = tmp_path / "llama3-70b-sizing.toml"
    path.write_text(small)
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys, "plan", str(path), "--out", str(out), "--workers", "1", "--no-progress"
    )
    assert code == 0, stderr
    for name in ("designs.csv", "pareto.png", "scaling.png", "summary.md"):
        assert (out / name).stat().st_size > 0
    frame = pd.read_csv(out / "designs.csv")
    assert len(frame) == 2 * 2  # systems x tapers
    assert frame["error"].isna().all(), frame["error"].dropna().tolist()
    assert set(frame["network"]) == {"ndr"}
    assert set(frame["oversubscription"]) == {1.0, 2.0}
    # [recheck]: each system's best design and its other taper, re-timed on the DES.
    assert frame["des_step_time_s"].notna().all()
    # at 1:1 the fabric is idle as the closed form assumes: the timeline agrees (the #14 contract)
    one_to_one = frame[frame["oversubscription"] == 1.0]
    assert one_to_one["des_step_time_s"].to_numpy() == pytest.approx(
        one_to_one["step_time_s"].to_numpy(), rel=0.03
    )
    assert frame["des_slowdown_pct"].to_numpy() == pytest.approx(
        100 * (frame["des_step_time_s"] / frame["step_time_s"] - 1).to_numpy()
    )
    for system, pair in frame.groupby("system"):
        one, two = (pair[pair["oversubscription"] == t].iloc[0] for t in (1.0, 2.0))
        # The analytic engine cannot see the taper; both re-checks ran the same layout ...
        assert one["step_time_s"] == pytest.approx(two["step_time_s"], rel=1e-12), system
        assert one["layout_json"] == two["layout_json"], system
        # ... and on the DES, contention above a 2:1 leaf can only slow the step.
        assert two["des_step_time_s"] >= one["des_step_time_s"] * (1 - 1e-9), system
        assert two["run_cost"] <= one["run_cost"], system
    # Every output is whole: no temporary file left, the CSV has every row, the PNGs end.
    assert not list(out.rglob(".tmp-*"))
    assert len(RowStore(out, RECHECKS).read()) == 4
    for name in ("pareto.png", "scaling.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG"), name
        assert data.endswith(b"IEND\xaeB`\x82"), name
    assert (frame["layout_mode"] == "auto").all()
    for column in (
        "tp",
        "bom_leaf_switches",
        "power_facility_kw",
        "run_cost",
        "mfu_pct",
        "time_to_train_days",
        "time_to_train_with_failures_days",
        "limiting_tier",
    ):
        assert frame[column].notna().all(), column
    assert (frame["time_to_train_with_failures_days"] > frame["time_to_train_days"]).all()
    # Rows ranked feasible first, by objective, ties (the tapers) to the cheaper design.
    ranked = frame[frame["feasible"]] if frame["feasible"].any() else frame  # 128 GPUs: late
    for (_, a), (_, b) in zip(ranked.iterrows(), ranked.iloc[1:].iterrows(), strict=False):
        assert a["objective"] <= b["objective"]
        if a["objective"] == b["objective"]:
            assert a["run_cost"] <= b["run_cost"]
    summary = (out / "summary.md").read_text()
    assert "## Best design" in summary
    best = ranked.iloc[0]
    named = (
        f"**{best['system']} {best['network']}, {best['gpus']} GPUs ({best['nodes']} nodes), "
        f"{best['oversubscription']:g}:1**"
    )
    assert f"## Best design\n\n{named}" in summary
    assert "## Re-timed on the discrete-event engine" in summary
    # A second run finds every row done and evaluates nothing.
    code, stdout, _ = run(
        capsys, "plan", str(path), "--out", str(out), "--workers", "1", "--no-progress", "--json"
    )
    assert code == 0
    assert '"evaluated": 0' in stdout
    assert len(RowStore(out).read()) == 4
    # A write that fails half-way leaves the previous file whole and no temporary behind.
    before = (out / "pareto.png").read_bytes()

    def broken_savefig(self: Any, path: Any, **_: Any) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr("matplotlib.figure.Figure.savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        run(capsys, "plan", str(path), "--out", str(out), "--workers", "1", "--no-progress")
    assert (out / "pareto.png").read_bytes() == before
    assert not list(out.rglob(".tmp-*"))


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("design_id").reset_index(drop=True)


def test_dask_local_cluster_gives_the_same_rows_as_the_local_executor(tmp_path: Path) -> None:
    sweep = _explicit_sweep(tmp_path)
    run_sweep(sweep, tmp_path / "local", workers=1)
    stats = run_sweep(sweep, tmp_path / "dask", dask_workers=2, batch_size=2)
    assert stats.executor.startswith("dask")
    local, dask = (
        _rows(RowStore(tmp_path / "local").read()),
        _rows(RowStore(tmp_path / "dask").read()),
    )
    assert len(local) == len(dask) == sweep.size()
    pd.testing.assert_frame_equal(local, dask)


def test_an_interrupted_sweep_resumes_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep = _explicit_sweep(tmp_path)
    original = Evaluator.evaluate
    calls = {"n": 0}

    def interrupt_third(self: Evaluator, point: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, point)

    monkeypatch.setattr(Evaluator, "evaluate", interrupt_third)
    executors._EVALUATORS.clear()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path, workers=1, batch_size=1)
    assert len(RowStore(tmp_path).read()) == 2
    monkeypatch.setattr(Evaluator, "evaluate", original)
    stats = run_sweep(sweep, tmp_path, workers=1, batch_size=1)
    assert stats.skipped == 2
    assert stats.evaluated == sweep.size() - 2
    frame = RowStore(tmp_path).read()
    assert len(frame) == sweep.size()
    assert frame["design_id"].is_unique


def test_a_failing_design_point_records_its_error_and_the_others_go_on(tmp_path: Path) -> None:
    sweep = _explicit_sweep(tmp_path, layout=[{"tp": 8, "pp": 1}, {"tp": 3, "pp": 1}])
    stats = run_sweep(sweep, tmp_path, workers=1)
    frame = RowStore(tmp_path).read()
    failed = frame[frame["error"].notna()]
    assert stats.errors == len(failed) == sweep.size() // 2
    assert failed["error"].str.contains("do not split into tp x pp x cp").all()
    assert not failed["feasible"].any()
    good = frame[frame["error"].isna()]
    assert good["step_time_s"].notna().all()
    # Inputs are recorded even for failed points.
    assert failed["nodes"].notna().all()
    assert failed["system"].eq("dgx-h100").all()


def test_cost_objectives_need_prices(tmp_path: Path) -> None:
    data = {
        "design": {"model": "llama3-8b", "global_batch": 64, "system": "dgx-h100"},
        "axes": {"nodes": [2]},
        "objective": {"minimize": "cost"},
    }
    with pytest.raises(ScenarioError, match="needs prices"):
        run_sweep(parse_sweep(data, tmp_path / "c.toml"), tmp_path, workers=1)


def test_the_full_shipped_sweep_loads(tmp_path: Path) -> None:
    sweep = load_sweep(SHIPPED)
    assert sweep.size() == 84


def test_a_system_file_is_a_design_like_a_preset(tmp_path: Path) -> None:
    preset = Path(__file__).parents[2] / "interconnect_sim/specs/data/systems/dgx-h100.toml"
    (tmp_path / "my-dgx.toml").write_text(
        preset.read_text().replace('id = "dgx-h100"', 'id = "my-dgx"')
    )
    data = {
        "design": {"model": "llama3-8b", "global_batch": 64, "layout": {"tp": 8, "pp": 1}},
        "axes": {"system": ["my-dgx.toml", "dgx-h100"], "nodes": [2]},
    }
    run_sweep(parse_sweep(data, tmp_path / "sweep.toml"), tmp_path / "out", workers=1)
    frame = RowStore(tmp_path / "out").read()
    assert frame["error"].isna().all(), frame["error"].tolist()
    mine = frame[frame["system"].str.endswith("my-dgx.toml")].iloc[0]
    preset_row = frame[frame["system"] == "dgx-h100"].iloc[0]
    assert mine["step_time_s"] == pytest.approx(preset_row["step_time_s"])
    assert mine["power_it_kw"] == pytest.approx(preset_row["power_it_kw"])


def test_a_calibration_file_reaches_every_design_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = Path(__file__).parents[2] / "interconnect_sim/calibration/data"
    text = (shipped / "nccl-tests.toml").read_text()
    # a cluster whose InfiniBand reaches a fifth of the shipped efficiency
    slow = text.replace("infiniband = 0.94", "infiniband = 0.19", 1)
    assert slow != text
    (tmp_path / "nccl-2.30.toml").write_text((shipped / "nccl-2.30.toml").read_text())
    (tmp_path / "slow.toml").write_text(slow)
    data = {
        "design": {"model": "llama3-8b", "global_batch": 64, "layout": {"tp": 8, "pp": 1}},
        "axes": {"system": ["dgx-h100"], "nodes": [4]},
    }
    sweep = parse_sweep(data, tmp_path / "sweep.toml")
    run_sweep(sweep, tmp_path / "shipped", workers=1)
    run_sweep(sweep, tmp_path / "slow", workers=1, calibration=tmp_path / "slow.toml")
    shipped_step = RowStore(tmp_path / "shipped").read()["step_time_s"].iloc[0]
    slow_step = RowStore(tmp_path / "slow").read()["step_time_s"].iloc[0]
    assert slow_step > shipped_step  # data-parallel traffic crosses the slower network
    (tmp_path / "sweep.toml").write_text(
        '[design]\nmodel = "llama3-8b"\nglobal_batch = 64\nlayout = { tp = 8, pp = 1 }\n'
        'system = "dgx-h100"\nnodes = 2\n'
    )
    (tmp_path / "bad.toml").write_text("constants = 3\n")
    code, _, stderr = run(
        capsys,
        "plan",
        str(tmp_path / "sweep.toml"),
        "--out",
        str(tmp_path / "o"),
        "--calibration",
        str(tmp_path / "bad.toml"),
        "--no-progress",
    )
    assert code == 2
    assert "bad.toml" in stderr
    assert not (tmp_path / "o" / "designs.parquet").exists()
