"""Cross-validation: refit without each group of measurements and predict that group.

In-sample errors say how well the calibration fits the systems it was fitted on; users ask about
systems nobody here measured. ``leave one system out`` refits on every other measured cluster
and predicts the one left out; ``leave one generation out`` does the same for every GPU
generation (all Hopper clusters out at once, and so on), the honest figure for a generation
about to be bought. Rows whose ``fit_role`` is ``holdout`` are never fitted on: they are
predicted by the fit on every other group like the rest.

Errors are reported per size band the way users read nccl-tests: time at <= 64 KiB (latency
bound), time between 64 KiB and 64 MiB, busbw at >= 64 MiB (bandwidth bound); as median,
90th percentile and maximum of the absolute percent error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.calibration import Calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.validation.fit import fit_calibration
from interconnect_sim.validation.harness import (
    BANDWIDTH_BOUND_BYTES,
    LATENCY_BOUND_BYTES,
    Predictor,
)

__all__ = [
    "BANDS",
    "CrossValidation",
    "band_errors",
    "cross_validate",
    "generation_of",
    "row_errors",
]

BANDS = ("<= 64 KiB", "64 KiB-64 MiB", ">= 64 MiB")
"""Size bands: time error in the first two, busbw error in the last."""

GROUPINGS = ("system", "generation")


def generation_of(catalog: Catalog) -> Callable[[pd.Series], str]:
    """Row -> GPU architecture of its system (``hopper``, ``ampere`` ...)."""
    cache: dict[str, str] = {}

    def generation(row: pd.Series) -> str:
        system = str(row["system"])
        if system not in cache:
            cache[system] = catalog.gpu(catalog.system(system).gpu).architecture
        return cache[system]

    return generation


def _group_keys(measurements: pd.DataFrame, by: str, catalog: Catalog) -> pd.Series:
    if by == "generation":
        return measurements.apply(generation_of(catalog), axis=1)
    if by == "system":
        labels = measurements["measured_system"].where(
            measurements["measured_system"] != "", measurements["system"]
        )
        return labels.astype(str)
    raise ScenarioError(f"--cross-validate {by!r}: one of {', '.join(GROUPINGS)}")


def row_errors(predicted: pd.DataFrame) -> pd.DataFrame:
    """Per row: its size band and the absolute percent error that band is scored on."""
    sizes = predicted["bytes"].astype(float)
    band = np.where(
        sizes <= LATENCY_BOUND_BYTES,
        BANDS[0],
        np.where(sizes >= BANDWIDTH_BOUND_BYTES, BANDS[2], BANDS[1]),
    )
    time = (predicted["pred_time_us"].astype(float) / predicted["time_us"].astype(float) - 1).abs()
    busbw = predicted["busbw_GBps"].astype(float)
    bus = (predicted["pred_busbw_GBps"].astype(float) / busbw.where(busbw > 0) - 1).abs()
    error = np.where(band == BANDS[2], bus, time) * 100.0
    out = predicted.assign(band=band, abs_pct_error=error)
    return out[np.isfinite(out["abs_pct_error"])]


def band_errors(scored: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Median, p90 and max absolute percent error per ``by`` and size band (one row each)."""
    records = []
    for keys, group in scored.groupby([*by, "band"], sort=True):
        values = group["abs_pct_error"]
        records.append(
            {
                **dict(zip([*by, "band"], keys, strict=True)),
                "n": len(values),
                "median": round(float(values.median()), 2),
                "p90": round(float(values.quantile(0.9)), 2),
                "max": round(float(values.max()), 2),
            }
        )
    return pd.DataFrame(records)


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Out-of-fold predictions and their errors, beside the in-sample ones.

    Attributes
    ----------
    by : str
        ``system`` or ``generation``.
    predicted : pandas.DataFrame
        Every row, predicted by the fit that did not see its group (``group`` column).
    in_sample : pandas.DataFrame
        Every row, predicted by the fit on all ``fit`` rows.
    fits : dict
        Group -> fitted parameter values of the fit without it.
    """

    by: str
    predicted: pd.DataFrame
    in_sample: pd.DataFrame
    fits: dict[str, dict[str, float]]

    def summary(self, by: list[str]) -> pd.DataFrame:
        """Out-of-fold and in-sample errors side by side, per ``by`` and band."""
        out = band_errors(row_errors(self.predicted), by)
        ins = band_errors(row_errors(self.in_sample), by)
        merged = out.merge(ins, on=[*by, "band"], how="left", suffixes=("", "_in_sample"))
        return merged.drop(columns=["n_in_sample"])

    def overall(self) -> pd.DataFrame:
        """All rows together, per band."""
        scored = row_errors(self.predicted).assign(all="all")
        ins = row_errors(self.in_sample).assign(all="all")
        merged = band_errors(scored, ["all"]).merge(
            band_errors(ins, ["all"]), on=["all", "band"], suffixes=("", "_in_sample")
        )
        return merged.drop(columns=["all", "n_in_sample"])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready tables (records) and the per-fold fitted parameters."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                for r in frame.to_dict(orient="records")
            ]

        return {
            "by": self.by,
            "overall": records(self.overall()),
            "per_group": records(self.summary(["group"])),
            "per_algorithm": records(self.summary(["pred_algo"])),
            "fits": self.fits,
        }


def cross_validate(
    catalog: Catalog,
    calibration: Calibration,
    measurements: pd.DataFrame,
    *,
    by: str,
    sweeps: int = 2,
    progress: Callable[[str], None] | None = None,
) -> CrossValidation:
    """Refit without each group and predict it (see the module docstring).

    Parameters
    ----------
    catalog : Catalog
        The spec catalog.
    calibration : Calibration
        Supplies the NCCL constants; every fit starts from its neutral point.
    measurements : pandas.DataFrame
        Rows from :func:`~interconnect_sim.validation.measurements.load_measurements`.
    by : str
        ``system`` (each measured cluster) or ``generation`` (GPU architecture).
    sweeps : int
        Coordinate-descent passes per fit.
    progress : callable, optional
        Called with each group's name before its fit.
    """
    groups = _group_keys(measurements, by, catalog)
    engine = AnalyticEngine(catalog, calibration)
    predictor = Predictor(engine)
    fit_calibration(engine, measurements, sweeps=sweeps, predictor=predictor)
    in_sample = predictor.predict(measurements).assign(group=groups.to_numpy())
    parts, fits = [], {}
    fit_rows = measurements["fit_role"] == "fit"
    for group in sorted(groups.unique()):
        if progress is not None:
            progress(group)
        inside = (groups == group).to_numpy()
        training = measurements[~inside]
        if not (fit_rows & ~inside).any():
            raise ScenarioError(f"cross-validation: nothing left to fit without {group!r}")
        engine.calibration = calibration
        result = fit_calibration(engine, training, sweeps=sweeps, predictor=predictor)
        fits[group] = {k: round(v, 6) for k, v in result.parameters.items()}
        parts.append(predictor.predict(measurements[inside]).assign(group=group))
    predicted = pd.concat(parts).loc[measurements.index]
    return CrossValidation(by=by, predicted=predicted, in_sample=in_sample, fits=fits)
