"""The shipped calibration against the cited nccl-tests measurements (issue #3's criteria).

busbw errors at >= 64 MiB and time errors at <= 64 KiB, median absolute percent. Classes the
model does not yet meet are listed in KNOWN_MISSES with the reason, and the test checks they
are still reported (so fixing one shows up as a test to tighten, not silence).
"""

from __future__ import annotations

import pandas as pd
import pytest

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.specs import load_catalog
from interconnect_sim.validation.harness import Predictor, score_predictions
from interconnect_sim.validation.measurements import load_measurements

CATALOG = load_catalog()
MEASUREMENTS = load_measurements(catalog=CATALOG)
PREDICTED = Predictor(AnalyticEngine(CATALOG)).predict(MEASUREMENTS)
SCORE = score_predictions(PREDICTED)

KNOWN_MISSES = {
    # (class, op): why the model misses the 10 % busbw target
    (
        "dgx-h100+aws-efa-100g x32",
        "all_reduce",
    ): "held out: p5 run with a 175 us 2-node latency and a non-monotonic 64 MiB-2 GiB ramp",
    (
        "dgx-h200+aws-efa-200g x16",
        "all_reduce",
    ): "held out: one 16 GiB row on EFAv3; the EFA efficiency comes from p4de's EFAv1 only",
    ("dgx-h100", "alltoall"): "one 4-GPU row; p2p efficiency is shared with A100 sendrecv",
    (
        "rtx2080ti-pcie-8x",
        "all_gather",
    ): "host staging: channels kept in phase predict 3.0 GB/s; measured 3.2-3.8 (partial drift)",
}
KNOWN_TIME_MISSES = {
    ("dgx-h100+aws-efa-100g x32", "all_reduce"): "held-out p5 run: 175 us at 8 B on 2 nodes",
}


def _groups() -> pd.DataFrame:
    return SCORE.groups[SCORE.groups["n_busbw"] > 0]


def test_overall_errors_meet_the_targets() -> None:
    assert SCORE.overall["median_abs_pct_error_busbw"] <= 10.0
    assert SCORE.overall["median_abs_pct_error_time"] <= 25.0


@pytest.mark.parametrize(
    "group",
    [g for g in _groups().to_dict("records") if (g["system"], g["op"]) not in KNOWN_MISSES],
    ids=lambda g: f"{g['system']}-{g['op']}-{g['fit_role']}",
)
def test_busbw_median_error_per_class_at_most_10_pct(group: dict[str, object]) -> None:
    assert group["median_abs_pct_error_busbw"] <= 10.0


@pytest.mark.parametrize(
    "group",
    [
        g
        for g in SCORE.groups.to_dict("records")
        if g["n_time"] and (g["system"], g["op"]) not in KNOWN_TIME_MISSES
    ],
    ids=lambda g: f"{g['system']}-{g['op']}-{g['fit_role']}",
)
def test_time_median_error_per_class_at_most_25_pct(group: dict[str, object]) -> None:
    assert group["median_abs_pct_error_time"] <= 25.0


def test_known_misses_are_still_reported_and_still_missed() -> None:
    groups = SCORE.groups.set_index(["system", "op"])
    for key, reason in KNOWN_MISSES.items():
        assert key in groups.index, f"{key} no longer scored ({reason})"
        errors = groups.loc[[key], "median_abs_pct_error_busbw"]
        assert (errors > 10.0).any(), f"{key} now meets the target: remove it from KNOWN_MISSES"


def test_held_out_systems_are_scored_separately_and_generalise() -> None:
    held = SCORE.groups[SCORE.groups["fit_role"] == "holdout"]
    assert {"dgx-a100", "dgx-b200", "dgx-h100"} <= set(held["system"])
    healthy = held[
        [(g, o) not in KNOWN_MISSES for g, o in zip(held["system"], held["op"], strict=True)]
    ]
    assert (healthy["median_abs_pct_error_busbw"].dropna() <= 10.0).all()


def test_every_shipped_row_names_its_source() -> None:
    assert (MEASUREMENTS["source_url"].str.len() > 10).all()
    assert set(MEASUREMENTS["fit_role"]) == {"fit", "holdout"}
