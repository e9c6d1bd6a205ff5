"""The step model against published training runs (issue #5's criteria).

The issue's set: Narayanan et al. 2021 Table 1, Korthikanti et al. 2022 Table 5, the
Megatron-LM H100 README and NeMo 24.07 pre-training. TFLOP/s per GPU are compared under each
row's own FLOP convention, Korthikanti's rows by step time.
"""

from __future__ import annotations

import numpy as np
import pytest

from interconnect_sim.specs import load_catalog
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.validation.training_runs import load_training_runs
from interconnect_sim.validation.training_score import score_runs

FRAME = load_training_runs()
SCORE = score_runs(FRAME, load_catalog(), load_compute_calibration())
ROWS = {row["row_id"]: row for row in SCORE.rows}

NARAYANAN_TABLE_1 = [str(i) for i in range(1, 11)]
KORTHIKANTI_TABLE_5 = [str(i) for i in range(25, 33)]
MEGATRON_H100 = [str(i) for i in range(34, 43)]
NEMO_24_07 = ["47", "48", "49", "50", "51", "55", "56"]
ISSUE_SET = NARAYANAN_TABLE_1 + KORTHIKANTI_TABLE_5 + MEGATRON_H100 + NEMO_24_07
ZERO3_COMPARISON = [str(i) for i in range(11, 17)]


def test_every_row_of_the_issue_set_is_mapped() -> None:
    assert set(ISSUE_SET) <= set(ROWS)


def test_issue_set_median_within_10_pct_and_no_row_beyond_25_pct() -> None:
    errors = np.array([ROWS[r]["abs_pct_error"] for r in ISSUE_SET])
    assert np.median(errors) <= 10.0
    worst = max(ISSUE_SET, key=lambda r: ROWS[r]["abs_pct_error"])
    assert errors.max() <= 25.0, (worst, ROWS[worst])


@pytest.mark.parametrize(
    "source",
    [NARAYANAN_TABLE_1, KORTHIKANTI_TABLE_5, MEGATRON_H100, NEMO_24_07],
    ids=["narayanan", "korthikanti", "mcore-h100", "nemo-24.07"],
)
def test_each_source_median_within_15_pct(source: list[str]) -> None:
    assert np.median([ROWS[r]["abs_pct_error"] for r in source]) <= 15.0


def test_held_out_rows_generalise() -> None:
    held = [
        r for r in SCORE.rows if r["fit_role"] == "holdout" and r["row_id"] not in ZERO3_COMPARISON
    ]
    assert {"25", "57", "79"} <= {r["row_id"] for r in held}  # Korthikanti, SFT, long context
    assert max(r["abs_pct_error"] for r in held) <= 25.0


def test_zero3_comparison_rows_are_a_reported_miss() -> None:
    # DeepSpeed ZeRO-3 without model parallelism reached 44 TFLOP/s at 1,536 A100s; the step
    # model (overlapped ZeRO-3 collectives) cannot explain that slowdown. Kept visible.
    errors = [ROWS[r]["abs_pct_error"] for r in ZERO3_COMPARISON]
    assert max(errors) > 25.0


def test_no_row_is_dropped_silently() -> None:
    assert len(SCORE.rows) + len(SCORE.unmapped) == len(FRAME)
    assert all(row["reason"] for row in SCORE.unmapped)


MEGATRON_BRIDGE_MOE = ["105", "106", "107"]  # GPT-OSS 120B, Qwen3 30B-A3B, Qwen3 235B-A22B
MLPERF_GPT3 = [str(i) for i in range(138, 151) if i != 149]  # 149 has no consistent layout


def test_all_shipped_rows_median_within_7_pct() -> None:
    assert SCORE.overall["median_abs_pct_error"] <= 7.0


def test_moe_rows_on_h100_median_within_15_pct() -> None:
    assert set(MEGATRON_BRIDGE_MOE) <= set(ROWS)
    assert all(ROWS[r]["kind"] == "moe" for r in MEGATRON_BRIDGE_MOE)
    assert np.median([ROWS[r]["abs_pct_error"] for r in MEGATRON_BRIDGE_MOE]) <= 15.0


def test_mlperf_gpt3_time_to_train_median_within_15_pct() -> None:
    assert set(MLPERF_GPT3) <= set(ROWS)
    assert all(ROWS[r]["metric"] == "time_to_train_min" for r in MLPERF_GPT3)
    assert np.median([ROWS[r]["abs_pct_error"] for r in MLPERF_GPT3]) <= 15.0


def test_whole_run_is_scored_on_gpu_hours() -> None:
    assert ROWS["210"]["metric"] == "gpu_hours"  # BLOOM 176B, its stated layout and tokens
    assert ROWS["210"]["abs_pct_error"] <= 15.0


def test_breakdown_says_how_the_model_generalises() -> None:
    breakdown = SCORE.breakdown
    assert set(breakdown["fit_role"]) == {"fit", "holdout"}
    assert {"ampere", "hopper"} <= set(breakdown["architecture"])
    assert set(breakdown["kind"]) == {"dense", "moe"}
    assert {"paper_benchmark", "vendor_perf_table", "mlperf_training", "full_training_run"} <= set(
        breakdown["category"]
    )


def test_the_fit_rows_are_the_documented_subset() -> None:
    calibration = load_compute_calibration()
    fitted = {r["row_id"] for r in SCORE.rows if r["fit_role"] == "fit"}
    assert fitted == set(calibration.fit["fit_rows"])
