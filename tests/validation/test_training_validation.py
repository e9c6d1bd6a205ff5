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
