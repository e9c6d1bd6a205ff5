"""Cross-validation: a left-out group is predicted by a fit that never saw it (issue #12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.specs import Catalog
from interconnect_sim.validation.crossval import BANDS, band_errors, cross_validate, row_errors
from interconnect_sim.validation.measurements import load_measurements


def test_band_errors_are_median_p90_and_max_per_band() -> None:
    frame = pd.DataFrame(
        {
            "bytes": [1024.0] * 10 + [2.0**27] * 2,
            "time_us": [10.0] * 10 + [100.0] * 2,
            "pred_time_us": [10.0 + k for k in range(10)] + [100.0, 100.0],
            "busbw_GBps": [0.0] * 10 + [100.0, 200.0],
            "pred_busbw_GBps": [0.0] * 10 + [110.0, 150.0],
            "key": ["a"] * 12,
        }
    )
    table = band_errors(row_errors(frame), ["key"]).set_index("band")
    small = table.loc[BANDS[0]]  # time errors 0, 10, ..., 90 %
    assert (small["n"], small["median"], small["max"]) == (10, 45.0, 90.0)
    assert small["p90"] == pytest.approx(np.quantile(np.arange(10) * 10.0, 0.9))
    big = table.loc[BANDS[2]]  # busbw errors 10 % and 25 %
    assert (big["median"], big["max"]) == (17.5, 25.0)


@pytest.fixture(scope="module")
def two_transports(catalog: Catalog) -> pd.DataFrame:
    """An InfiniBand cluster and a RoCE cluster, each the only user of its transport."""
    rows = load_measurements(catalog=catalog)
    chosen = rows[rows["run_id"].isin(["qoofyk-2node", "oci-oke-a100-2n-readme-2025"])]
    return chosen.assign(fit_role="fit")


def test_left_out_system_is_predicted_without_its_rows(
    two_transports: pd.DataFrame, catalog: Catalog
) -> None:
    cv = cross_validate(catalog, load_calibration(), two_transports, by="system", sweeps=1)
    assert set(cv.fits) == set(two_transports["measured_system"])
    assert len(cv.predicted) == len(two_transports)
    for system, fitted in cv.fits.items():
        left_out = two_transports[two_transports["measured_system"] == system]
        transport = "roce" if left_out["nic"].iloc[0] else "infiniband"
        # the left-out cluster's transport was informed by no other row: it keeps the prior
        assert f"network_efficiency.{transport}" not in fitted
        other = "infiniband" if transport == "roce" else "roce"
        assert f"network_efficiency.{other}" in fitted
    # out of fold it is predicted with NCCL's assumption for a NIC, in sample with its fit
    roce = cv.predicted[cv.predicted["nic"] != ""]
    insample = cv.in_sample[cv.in_sample["nic"] != ""]
    assert not np.allclose(roce["pred_busbw_GBps"], insample["pred_busbw_GBps"])
    summary = cv.summary(["group"])
    assert {"median", "p90", "max", "median_in_sample", "p90_in_sample"} <= set(summary.columns)
    assert set(summary["band"]) == set(BANDS)


def test_leave_one_generation_out_groups_by_gpu_architecture(
    catalog: Catalog,
) -> None:
    rows = load_measurements(catalog=catalog)
    chosen = rows[rows["run_id"].isin(["qoofyk-2node", "azure-aks-ndmv4-2vm"])]
    cv = cross_validate(catalog, load_calibration(), chosen, by="generation", sweeps=1)
    assert set(cv.fits) == {"ampere", "hopper"}
    assert set(cv.predicted["group"]) == {"ampere", "hopper"}
    payload = cv.to_json()
    assert payload["by"] == "generation"
    assert {r["band"] for r in payload["overall"]} == set(BANDS)
