"""train and validate-training commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.validation.training_runs import load_training_runs
from tests.unit.test_cli import run

SCENARIO = Path(__file__).parents[2] / "scenarios" / "llama3-70b-h100-superpod.toml"
LLAMA_64 = [
    "train",
    "--model",
    "llama3-70b",
    "--system",
    "dgx-h100",
    "--nodes",
    "8",
    "--tp",
    "4",
    "--pp",
    "4",
    "--cp",
    "2",
    "--vpp",
    "5",
    "--precision",
    "fp8",
    "--global-batch",
    "128",
    "--tp-overlap",
]


def test_train_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *LLAMA_64, "--tokens", "15T", "--json")
    assert code == 0
    data = json.loads(out)
    keys = {
        "step_time_s",
        "tokens_per_s",
        "tflops_per_gpu",
        "mfu_pct",
        "time_to_train_days",
        "memory_per_gpu_bytes",
        "breakdown_s",
    }
    assert keys <= set(data)
    assert data["time_to_train_days"] == pytest.approx(15e12 / data["tokens_per_s"] / 86400)
    assert {
        "compute",
        "bubble",
        "exposed_tp",
        "exposed_pp",
        "exposed_dp",
        "exposed_cp",
        "exposed_ep",
    } <= set(data["breakdown_s"])


def test_train_from_a_scenario_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--scenario", str(SCENARIO))
    assert code == 0
    assert "time to train 15T tokens" in out
    assert "collectives that limit it" in out


def test_train_des_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *LLAMA_64, "--engine", "des", "--json")
    assert code == 0
    assert json.loads(out)["step_time_s"] > 0


@pytest.mark.parametrize(
    "argv",
    [
        [
            "train",
            "--model",
            "llama3-70b",
            "--system",
            "dgx-h100",
            "--nodes",
            "1",
            "--tp",
            "1",
            "--pp",
            "1",
        ],  # does not fit in 80 GB
        [
            "train",
            "--model",
            "llama9",
            "--system",
            "dgx-h100",
            "--nodes",
            "1",
            "--tp",
            "8",
            "--pp",
            "1",
        ],
        [*LLAMA_64, "--tokens", "lots"],
        [
            "train",
            "--model",
            "llama3-8b",
            "--system",
            "dgx-h100",
            "--nodes",
            "1",
            "--tp",
            "3",
            "--pp",
            "1",
        ],
        ["train", "--model", "llama3-8b", "--system", "dgx-h100"],
    ],
)
def test_train_user_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_memory_error_states_need_and_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(
        capsys,
        "train",
        "--model",
        "llama3-70b",
        "--system",
        "dgx-h100",
        "--nodes",
        "1",
        "--tp",
        "1",
        "--pp",
        "1",
    )
    assert "needs" in err
    assert "has 80 GB" in err


def test_validate_training_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A few shipped rows of each category (the whole set is scored in tests/validation).
    frame = load_training_runs()
    subset = tmp_path / "runs.csv"
    frame[frame.row_id.isin(["1", "49", "106", "138", "210", "216"])].to_csv(subset, index=False)
    code, out, _ = run(capsys, "validate-training", "--runs", str(subset), "--json")
    assert code == 0
    data = json.loads(out)
    assert {"row_id", "predicted", "measured", "metric", "abs_pct_error"} <= set(data["rows"][0])
    assert {"n", "median_abs_pct_error", "max_abs_pct_error"} <= set(data["overall"])
    assert data["unmapped"][0]["reason"]
    assert {r["category"] for r in data["rows"]} == {
        "paper_benchmark",
        "vendor_perf_table",
        "mlperf_training",
        "full_training_run",
    }
    assert set(data["breakdown"]) == {"fit_role", "architecture", "kind", "category"}


def test_llama3_405b_meta_layout_matches_the_paper(capsys: pytest.CaptureFixture[str]) -> None:
    # The Llama 3 paper, Table 4: 8,192 H100s, TP 8, PP 16, DP 64, sequence 8192, 16M-token
    # batches, 430 TFLOP/s per GPU in BF16. 126 layers do not split over 16 stages, so train
    # counts the embedding and loss as layers (Meta's split) and picks the interleaving.
    code, out, _ = run(
        capsys,
        "train",
        "--model",
        "llama3-405b",
        "--system",
        "dgx-h100",
        "--nodes",
        "1024",
        "--tp",
        "8",
        "--pp",
        "16",
        "--dp",
        "64",
        "--seq",
        "8192",
        "--global-batch",
        "2048",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["pipeline"]["layers_per_rank"] == [7] + [8] * 14 + [7]
    assert data["tflops_per_gpu"] == pytest.approx(430, rel=0.10)


def test_train_mlperf_benchmark_gives_minutes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "train",
        "--benchmark",
        "llama2-70b-lora",
        "--system",
        "dgx-h100",
        "--nodes",
        "1",
        "--tp",
        "4",
        "--pp",
        "1",
        "--cp",
        "2",
        "--global-batch",
        "8",
        "--precision",
        "fp8",
        "--json",
    )
    assert code == 0
    mlperf = json.loads(out)["mlperf"]
    assert mlperf["benchmark"] == "llama2-70b-lora"
    assert mlperf["time_to_train_min"] == pytest.approx((mlperf["train_s"] + mlperf["eval_s"]) / 60)


def test_benchmark_without_batch_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "train",
        "--benchmark",
        "gpt3-175b",
        "--system",
        "dgx-h100",
        "--nodes",
        "64",
        "--tp",
        "4",
        "--pp",
        "8",
    )
    assert code == 2
    assert "needs --global-batch" in err


def test_help_states_the_flop_convention(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "full (non-causal) attention" in text
    assert "MFU divides" in text
