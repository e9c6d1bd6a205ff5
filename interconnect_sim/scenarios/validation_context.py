"""How well the model did on measured systems like the one a scenario describes.

A report states the model's error on the shipped measurements of the same preset system
(nccl-tests rows for collectives, published training runs for training estimates), so a reader
can weigh the prediction; and it puts measured points of the very same configuration on the
busbw plot when there are any.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import pandas as pd

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.scenarios.result import Table
from interconnect_sim.specs.catalog import Catalog, load_catalog
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.validation.harness import Predictor, score_predictions
from interconnect_sim.validation.measurements import load_measurements
from interconnect_sim.validation.training_runs import load_training_runs, map_row
from interconnect_sim.validation.training_score import score_runs

__all__ = ["collective_validation", "measured_points", "training_validation"]

_GROUP_COLUMNS = {
    "system": "system class",
    "op": "op",
    "fit_role": "role",
    "n": "rows",
    "median_abs_pct_error_busbw": "busbw median |error| (%) at >= 64 MiB",
    "max_abs_pct_error_busbw": "busbw max |error| (%)",
    "median_abs_pct_error_time": "time median |error| (%) at <= 64 KiB",
}


def _no_rows(system: str, what: str) -> Table:
    return Table(
        name="validation",
        title=f"Model error on measured {system} systems",
        frame=pd.DataFrame(),
        note=f"No shipped {what} measure a {system}: this prediction is not backed by a "
        "measurement of the same system.",
    )


def collective_validation(catalog: Catalog, engine: AnalyticEngine, system: str) -> Table:
    """The analytic model's busbw and time errors on shipped nccl-tests rows of ``system``."""
    measurements = load_measurements(catalog=catalog)
    rows = measurements[measurements["system"] == system]
    if rows.empty:
        return _no_rows(system, "nccl-tests results")
    score = score_predictions(Predictor(engine).predict(rows))
    frame = score.groups[list(_GROUP_COLUMNS)].rename(columns=_GROUP_COLUMNS)
    runs = rows["run_id"].nunique()
    return Table(
        name="validation",
        title=f"Model error on measured {system} systems (nccl-tests)",
        frame=frame,
        note=f"{len(rows)} shipped nccl-tests rows from {runs} runs on {system}-based clusters "
        "(`interconnect-sim validate`); role 'holdout' = not used to fit the calibration. "
        f"Overall busbw median |error| {score.overall['median_abs_pct_error_busbw']} %.",
    )


def measured_points(
    catalog: Catalog, values: Mapping[str, Any], op: str, gpus_per_node: int
) -> pd.DataFrame:
    """Shipped nccl-tests rows of exactly this configuration (``bytes``, ``busbw_GBps``,
    ``time_us``, ``source``); empty when none match."""
    measurements = load_measurements(catalog=catalog)
    nodes = values.get("nodes") or 1
    match = (
        (measurements["system"] == values["system"])
        & (measurements["nodes"] == nodes)
        & (measurements["gpus_per_node"] == gpus_per_node)
        & (measurements["op"] == op)
        & (measurements["nic"] == (values.get("nic") or ""))
        & (measurements["algo"] == "")
    )
    if values.get("scalable_units") or any(
        values.get(k) for k in ("nvlink_lanes", "switch", "nic_count", "levels", "p2p")
    ):
        match &= False
    rows = measurements[match]
    return pd.DataFrame(
        {
            "bytes": rows["bytes"].astype(float),
            "busbw_GBps": rows["busbw_GBps"].astype(float),
            "time_us": rows["time_us"].astype(float),
            "source": rows["measured_system"].astype(str),
        }
    )


def training_validation(catalog: Catalog, system: str) -> Table:
    """The step model's errors on the shipped published training runs on ``system``."""
    if catalog is load_catalog():  # the shipped catalog: the answer never changes in a process
        return _shipped_training_validation(system)
    return _training_validation(catalog, system)


@cache
def _shipped_training_validation(system: str) -> Table:
    return _training_validation(load_catalog(), system)


def _training_validation(catalog: Catalog, system: str) -> Table:
    frame = load_training_runs()
    keep = []
    for index, row in frame.iterrows():
        try:
            mapped = map_row(row)
        except InterconnectSimError:
            continue
        if mapped.system == system:
            keep.append(index)
    if not keep:
        return _no_rows(system, "published training runs")
    score = score_runs(frame.loc[keep], catalog, load_compute_calibration())
    table = pd.DataFrame(score.rows)
    if table.empty:
        return _no_rows(system, "published training runs")
    shown = table[["row_id", "model", "gpus", "metric", "measured", "predicted", "fit_role"]]
    shown = shown.assign(abs_error_pct=table["abs_pct_error"]).rename(
        columns={"fit_role": "role", "abs_error_pct": "|error| (%)"}
    )
    overall = score.overall
    return Table(
        name="validation",
        title=f"Model error on published training runs on {system}",
        frame=shown,
        note=f"{overall['n']} runs (`interconnect-sim validate-training`): median |error| "
        f"{overall['median_abs_pct_error']:.1f} % (fit rows "
        f"{_pct(overall['median_abs_pct_error_fit'])}, held-out rows "
        f"{_pct(overall['median_abs_pct_error_holdout'])}). Metrics: TFLOP/s per GPU under each "
        "source's FLOP convention, or step time in seconds.",
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"
