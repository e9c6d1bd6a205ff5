"""Calibrate one cluster without forgetting the rest: scoped fits, residuals, fitted range.

A user's nccl-tests rows inform a few parameters of *their* system (its NVLink efficiency, its
NIC's efficiency and latency). :func:`fit_scoped` starts from a calibration (the shipped one by
default), fits only the parameters those rows inform, one system (and NIC) at a time, and keeps
the results as :class:`~interconnect_sim.calibration.FitScope` entries: predictions for that
system use them, every other prediction keeps the starting values. :func:`residuals` reports how
far the fitted model still is from the rows, per op and size band.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from interconnect_sim.calibration import Calibration, FitScope, FittedRange
from interconnect_sim.calibration.model import FITTED_TABLES
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import MeasurementError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.validation.crossval import BANDS, row_errors
from interconnect_sim.validation.fit import FitResult, fit_calibration
from interconnect_sim.validation.harness import Predictor

__all__ = ["ScopedFit", "fit_scoped", "residuals"]


@dataclass(frozen=True, slots=True)
class ScopedFit:
    """One cluster's fit: its scope (what changed) and the fit behind it."""

    scope: FitScope
    start: dict[str, float]
    result: FitResult


def _scope_values(parameters: dict[str, float]) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, float]] = {}
    for name, value in parameters.items():
        field, key = name.split(".", 1)
        if field in FITTED_TABLES:
            values.setdefault(field, {})[key] = value
    return values


def _fitted_range(rows: pd.DataFrame) -> FittedRange:
    return FittedRange(
        ops=tuple(sorted(set(rows["op"]))),
        min_bytes=float(rows["bytes"].min()),
        max_bytes=float(rows["bytes"].max()),
        node_counts=tuple(sorted({int(n) for n in rows["nodes"]})),
        gpus_per_node=tuple(sorted({int(n) for n in rows["gpus_per_node"]})),
    )


def fit_scoped(
    catalog: Catalog, start: Calibration, measurements: pd.DataFrame, *, sweeps: int = 3
) -> tuple[Calibration, list[ScopedFit]]:
    """Fit each system (and NIC) of ``measurements`` separately, starting from ``start``.

    Returns ``start`` with one :class:`FitScope` per system/NIC added (replacing any earlier
    scope of the same system/NIC), and the fits. Parameters the rows do not inform keep their
    starting value and are not written into the scope.

    Raises
    ------
    MeasurementError
        If no row has ``fit_role = fit``.
    """
    rows = measurements[measurements["fit_role"] == "fit"]
    if rows.empty:
        raise MeasurementError("calibrate: no rows with fit_role = fit to calibrate on")
    engine = AnalyticEngine(catalog, replace(start, scopes=()))
    predictor = Predictor(engine)
    owners = [
        (bw.system, bw.nic_spec)
        for bw in (predictor.bandwidths_of(row) for _, row in rows.iterrows())
    ]
    scopes: list[FitScope] = []
    fits: list[ScopedFit] = []
    for system, nic in sorted(set(owners)):
        mine = rows[[owner == (system, nic) for owner in owners]]
        engine.calibration = replace(start, scopes=())
        result = fit_calibration(
            engine, mine, sweeps=sweeps, start=engine.calibration, predictor=predictor
        )
        before = {name: _value(start, name) for name in result.parameters}
        scope = FitScope(
            system=system,
            nic=nic,
            values=_scope_values(result.parameters),
            fitted_range=_fitted_range(mine),
            rows=len(mine),
        )
        scopes.append(scope)
        fits.append(ScopedFit(scope, before, result))
    kept = tuple(s for s in start.scopes if not any(s.matches(n.system, n.nic) for n in scopes))
    return replace(start, scopes=(*kept, *scopes)), fits


def _value(calibration: Calibration, name: str) -> float:
    field, key = name.split(".", 1)
    return float(getattr(calibration, field)[key])


def residuals(predicted: pd.DataFrame) -> pd.DataFrame:
    """Per op and size band: rows, median signed and median absolute percent error.

    Time error in the two lower bands, busbw error at >= 64 MiB (as :mod:`crossval`); signed
    errors are ``predicted / measured - 1``, so a positive time error means predicted slower.
    """
    scored = row_errors(predicted)
    time = predicted["pred_time_us"] / predicted["time_us"] - 1
    busbw = (
        predicted["pred_busbw_GBps"] / predicted["busbw_GBps"].where(predicted["busbw_GBps"] > 0)
        - 1
    )
    signed = np.where(scored["band"] == BANDS[2], busbw.loc[scored.index], time.loc[scored.index])
    scored = scored.assign(signed_pct_error=signed * 100.0)
    table = (
        scored.groupby(["op", "band"], sort=True)
        .agg(
            rows=("abs_pct_error", "size"),
            median_signed_pct=("signed_pct_error", "median"),
            median_abs_pct=("abs_pct_error", "median"),
        )
        .reset_index()
    )
    return table.round(2)
