"""collective / validate / calibrate commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.validation.measurements import SHIPPED_MEASUREMENTS
from tests.unit.test_cli import run


def test_collective_prints_nccl_tests_layout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "collective",
        "--system",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--min-bytes",
        "8",
        "--max-bytes",
        "8G",
        "--step-factor",
        "4",
    )
    assert code == 0
    lines = [line for line in out.splitlines() if not line.startswith("#")]
    assert len(lines) == 16  # 8 B .. 8 GiB by 4x
    first = lines[0].split()
    assert first[:3] == ["8", "2", "float"]
    assert "time" in out
    assert "busbw" in out
    assert "bottleneck" in out


def test_collective_json_rows_have_the_documented_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "rows.csv"
    code, out, _ = run(
        capsys,
        "collective",
        "--system",
        "dgx-a100",
        "--nodes",
        "2",
        "--op",
        "all_gather",
        "--min-bytes",
        "1M",
        "--max-bytes",
        "1G",
        "--json",
        "--csv",
        str(target),
    )
    assert code == 0
    rows = json.loads(out)
    assert set(rows[0]) == {
        "bytes",
        "time_us",
        "algbw_GBps",
        "busbw_GBps",
        "algo",
        "proto",
        "bottleneck",
    }
    assert rows[0]["bytes"] == 2**20
    assert target.read_text().startswith("bytes,time_us")


def test_forced_algorithm_and_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "collective",
        "--system",
        "dgx-h100",
        "--nodes",
        "2",
        "--op",
        "all_reduce",
        "--algo",
        "ring",
        "--proto",
        "ll128",
        "--json",
        "--min-bytes",
        "1M",
        "--max-bytes",
        "1M",
    )
    assert code == 0
    assert json.loads(out)[0]["algo"] == "ring"
    assert json.loads(out)[0]["proto"] == "ll128"


@pytest.mark.parametrize(
    "argv",
    [
        ["collective", "--system", "dgx-h100", "--op", "all_scatter"],
        ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--max-bytes", "8 Gb"],
        ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--algo", "pat"],
        ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--gpus-per-node", "9"],
        ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--step-factor", "1"],
        ["validate", "--measurements", "/no/such/file.csv"],
    ],
)
def test_collective_user_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_validate_json_groups_and_overall(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "--json")
    assert code == 0
    data = json.loads(out)
    keys = {
        "system",
        "op",
        "n",
        "median_abs_pct_error_busbw",
        "max_abs_pct_error_busbw",
        "median_abs_pct_error_time",
    }
    assert keys <= set(data["groups"][0])
    assert keys - {"system", "op"} <= set(data["overall"])


def _small_measurements(tmp_path: Path) -> Path:
    lines = SHIPPED_MEASUREMENTS.read_text().splitlines()
    keep = [lines[0]] + [
        line
        for line in lines[1:]
        if "Nebius" in line or ("AutoDL" in line and ",all_reduce," in line)
    ]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(keep) + "\n")
    return path


def test_validate_writes_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    code, _, _ = run(
        capsys,
        "validate",
        "--measurements",
        str(_small_measurements(tmp_path)),
        "--plots",
        str(plots),
    )
    assert code == 0
    pngs = list(plots.glob("*.png"))
    assert len(pngs) == 2
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_calibrate_writes_a_loadable_calibration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "cal.toml"
    code, out, _ = run(
        capsys,
        "calibrate",
        "--measurements",
        str(_small_measurements(tmp_path)),
        "--out",
        str(out_file),
        "--sweeps",
        "1",
    )
    assert code == 0
    assert "Calibration written" in out
    calibration = load_calibration(out_file)
    assert 0.2 <= calibration.network_efficiency["infiniband"] <= 1.0
    assert calibration.fit["fit_rows"] > 0
    code, _out, _ = run(
        capsys,
        "collective",
        "--system",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--calibration",
        str(out_file),
        "--min-bytes",
        "1G",
        "--max-bytes",
        "1G",
    )
    assert code == 0


def test_calibrate_scopes_the_fit_and_collective_warns_outside_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "mine.toml"
    code, out, _ = run(
        capsys, "calibrate", "--measurements", str(_small_measurements(tmp_path)),
        "--out", str(out_file), "--sweeps", "1",
    )  # fmt: skip
    assert code == 0
    assert "dgx-h100 (connectx-7):" in out  # one scope per system and NIC
    assert "fitted on: all_reduce" in out
    assert "Residuals (predicted / measured - 1)" in out
    calibration = load_calibration(out_file)
    assert {(s.system, s.nic) for s in calibration.scopes} == {
        ("dgx-h100", "connectx-7"),
        ("rtx2080ti-pcie-8x", "connectx-5"),
    }
    code, _, err = run(
        capsys, "collective", "--system", "dgx-h100", "--nodes", "4", "--op", "all_reduce",
        "--calibration", str(out_file), "--min-bytes", "1G", "--max-bytes", "1G",
    )  # fmt: skip
    assert code == 0
    assert "warning:" in err
    assert "4 node(s) not measured (fitted on 2)" in err


def test_calibrate_global_from_neutral_and_scoped_need_each_other_right(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "calibrate", "--measurements", str(_small_measurements(tmp_path)),
        "--out", str(tmp_path / "x.toml"), "--from-neutral",
    )  # fmt: skip
    assert code == 2
    assert "--from-neutral needs --global" in err


def test_validate_cross_validate_prints_out_of_fold_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "validate", "--measurements", str(_small_measurements(tmp_path)),
        "--cross-validate", "system", "--sweeps", "1",
    )  # fmt: skip
    assert code == 0
    assert "Leave one system out: out-of-fold errors" in out
    assert "in-sample median / p90 / max" in out
    assert "fitting without" in err


@pytest.mark.parametrize(
    "command",
    [
        ["collective", "--system", "dgx-h100", "--op", "all_reduce"],
        ["replay", "scenarios/traces/tp-dp-overlap.jsonl", "--system", "dgx-h100"],
        ["train", "--model", "llama3-8b", "--system", "dgx-h100", "--nodes", "1", "--tp", "8",
         "--pp", "1"],
        ["validate"],
        ["validate-training"],
    ],
)  # fmt: skip
def test_every_predicting_command_takes_calibration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    code, _, err = run(capsys, *command, "--calibration", str(missing))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "nowhere.toml" in lines[0]
