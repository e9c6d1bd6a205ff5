"""Calibrating one cluster leaves every other prediction alone (issue #16, item 2)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.calibration.writer import write_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import MeasurementError
from interconnect_sim.specs import Catalog
from interconnect_sim.validation.calibrate import fit_scoped, residuals
from interconnect_sim.validation.harness import Predictor
from interconnect_sim.validation.measurements import load_measurements

SYSTEM_RUN = "dstack-lambda-b200-2n"  # held out of the shipped fit: 29 sizes, 8 B-2 GiB


def _split(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = load_measurements(catalog=catalog)
    mine = rows[rows["run_id"] == SYSTEM_RUN].sort_values("bytes")
    fit = mine.iloc[::2].assign(fit_role="fit")  # every other size
    check = mine.iloc[1::2]
    return fit, check, rows[rows["run_id"] != SYSTEM_RUN]


def _log_error(predicted: pd.DataFrame) -> float:
    """Median absolute log error of time (all sizes) and busbw (where measured)."""
    time = np.abs(np.log(predicted["pred_time_us"] / predicted["time_us"]))
    return float(np.median(time))


@pytest.fixture(scope="module")
def scoped(catalog: Catalog):  # type: ignore[no-untyped-def]
    fit, check, others = _split(catalog)
    shipped = load_calibration()
    calibration, fits = fit_scoped(catalog, shipped, fit, sweeps=2)
    return shipped, calibration, fits, fit, check, others


def test_calibrated_cluster_beats_the_shipped_calibration_on_sizes_it_did_not_see(
    scoped, catalog: Catalog
) -> None:  # type: ignore[no-untyped-def]
    shipped, calibration, fits, _, check, _ = scoped
    before = Predictor(AnalyticEngine(catalog, shipped)).predict(check)
    after = Predictor(AnalyticEngine(catalog, calibration)).predict(check)
    assert _log_error(after) < _log_error(before)
    (fit,) = fits
    assert (fit.scope.system, fit.scope.nic) == ("dgx-b200", "connectx-7")
    assert fit.scope.fitted_range.node_counts == (2,)


def test_other_systems_keep_their_shipped_predictions(scoped, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    shipped, calibration, _, _, _, others = scoped
    before = Predictor(AnalyticEngine(catalog, shipped)).predict(others)
    after = Predictor(AnalyticEngine(catalog, calibration)).predict(others)
    np.testing.assert_allclose(after["pred_time_us"], before["pred_time_us"], rtol=0)


def test_only_informed_parameters_are_scoped(scoped) -> None:  # type: ignore[no-untyped-def]
    shipped, calibration, fits, _, _, _ = scoped
    values = fits[0].scope.values
    # a 2-node B200 IB run informs NVLink, InfiniBand; never EFA, TCPX or host staging
    assert set(values["network_efficiency"]) == {"infiniband"}
    assert "host" not in values.get("intra_efficiency", {})
    assert calibration.network_efficiency == shipped.network_efficiency  # global unchanged


def test_scoped_file_round_trips_through_tomli_w(scoped, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, calibration, _, _, _, _ = scoped
    out = tmp_path / "mine.toml"
    fit_info = {"rows": 15, "note": 'a "quoted" path C:\\x'}
    write_calibration(out, calibration, constants="nccl-2.30", fit=fit_info, sources=[
        {"kind": "measurement", "title": "t", "url": "u", "locator": "l", "quote": "q",
         "grade": "measured"},
    ])  # fmt: skip
    raw = tomllib.loads(out.read_text())
    assert raw["fit"] == fit_info  # integers stay integers, strings keep their escapes
    loaded = load_calibration(out)
    (scope,) = loaded.scopes
    expected = calibration.scopes[0]
    assert scope.values.keys() == expected.values.keys()
    for name, table in expected.values.items():
        assert scope.values[name] == pytest.approx(table, rel=1e-5)
    assert scope.fitted_range == expected.fitted_range


def test_residuals_per_op_and_band(scoped, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    _, calibration, _, fit, _, _ = scoped
    table = residuals(Predictor(AnalyticEngine(catalog, calibration)).predict(fit))
    assert set(table["op"]) == {"all_reduce"}
    assert table["rows"].sum() == len(fit)
    assert (table["median_abs_pct"] >= table["median_signed_pct"].abs() - 1e-9).all()


def test_nothing_to_fit_is_one_clear_error(catalog: Catalog) -> None:
    fit, _, _ = _split(catalog)
    with pytest.raises(MeasurementError, match="no rows with fit_role = fit"):
        fit_scoped(catalog, load_calibration(), fit.assign(fit_role="holdout"))
