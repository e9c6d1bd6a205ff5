"""Score an engine against measured nccl-tests rows.

Errors are reported the way users read nccl-tests: absolute percentage error of **busbw** at
bandwidth-bound sizes (>= 64 MiB) and of **time** at latency-bound sizes (<= 64 KiB), per
system class and op, plus overall medians.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.validation.measurements import fabric_request

__all__ = [
    "BANDWIDTH_BOUND_BYTES",
    "LATENCY_BOUND_BYTES",
    "SMALLEST_BUSBW_GBPS",
    "Predictor",
    "Score",
    "class_label",
    "score_predictions",
]

BANDWIDTH_BOUND_BYTES = 64 * 2**20
LATENCY_BOUND_BYTES = 64 * 2**10
SMALLEST_BUSBW_GBPS = 0.01
"""nccl-tests prints busbw with two decimals: a smaller measured value is 0.00 rounded (or not a
measurement) and gives no relative error, so such rows are not scored on busbw."""


def class_label(row: pd.Series) -> str:
    """A system class: the preset plus what was overridden (e.g. ``dgx-h100+aws-efa-100g x32``)."""
    label = str(row["system"])
    if row["nic"]:
        label += f"+{row['nic']}"
        if str(row["nic_count"]):
            label += f" x{row['nic_count']}"
    if row["p2p"]:
        label += f" p2p-{row['p2p']}"
    return label


class Predictor:
    """Predicts measurement rows with one engine, caching fabrics and graph analyses."""

    def __init__(self, engine: AnalyticEngine) -> None:
        self.engine = engine
        self._fabrics: dict[tuple[Any, ...], Fabric] = {}
        self._bandwidths: dict[tuple[Any, ...], CommunicatorBandwidths] = {}

    def _analysis(self, row: pd.Series) -> tuple[Fabric, CommunicatorBandwidths]:
        request = fabric_request(row)
        key = (request.system, request.node_count, request.nic, request.nic_count, request.p2p)
        if key not in self._fabrics:
            self._fabrics[key] = build_fabric(self.engine.catalog, request)
        fabric = self._fabrics[key]
        bw_key = (*key, int(row["gpus_per_node"]))
        if bw_key not in self._bandwidths:
            self._bandwidths[bw_key] = self.engine.bandwidths(
                fabric, gpus_per_node=int(row["gpus_per_node"])
            )
        return fabric, self._bandwidths[bw_key]

    def bandwidths_of(self, row: pd.Series) -> CommunicatorBandwidths:
        """The graph analysis of the communicator one measurement row ran on."""
        return self._analysis(row)[1]

    def analyses(
        self, rows: pd.DataFrame | None = None
    ) -> dict[tuple[Any, ...], CommunicatorBandwidths]:
        """The graph analyses of ``rows`` (default: all made so far), by (fabric key, GPUs per
        node)."""
        if rows is None:
            return dict(self._bandwidths)
        out = {}
        for _, row in rows.drop_duplicates(
            ["system", "nodes", "gpus_per_node", "nic", "nic_count", "p2p"]
        ).iterrows():
            _, bw = self._analysis(row)
            request = fabric_request(row)
            key = (request.system, request.node_count, request.nic, request.nic_count, request.p2p)
            out[(*key, int(row["gpus_per_node"]))] = bw
        return out

    def predict(
        self,
        measurements: pd.DataFrame,
        progress: Callable[[int, int], None] | None = None,
    ) -> pd.DataFrame:
        """``measurements`` with ``pred_time_us``, ``pred_busbw_GBps``, ``pred_algo``,
        ``pred_proto`` and ``bottleneck`` added; ``progress(done, total)`` is called after each
        group of rows that share a fabric, op and algorithm."""
        out = measurements.copy()
        columns: dict[str, list[Any]] = {
            k: [None] * len(out)
            for k in ("pred_time_us", "pred_busbw_GBps", "pred_algo", "pred_proto", "bottleneck")
        }
        keys = [
            "system",
            "nodes",
            "gpus_per_node",
            "nic",
            "nic_count",
            "p2p",
            "op",
            "algo",
            "proto",
        ]
        groups = out.groupby(keys, sort=False)
        for done, (_, group) in enumerate(groups, start=1):
            first = group.iloc[0]
            try:
                fabric, bw = self._analysis(first)
            except InterconnectSimError as exc:
                raise _row_error(measurements, group.index[0], exc) from None
            op = CollectiveOp(first["op"])
            # NCCL_ALGO/NCCL_PROTO do not apply to grouped point-to-point (alltoall, sendrecv).
            p2p = op in (CollectiveOp.ALLTOALL, CollectiveOp.SENDRECV)
            try:
                estimate = self.engine.estimate(
                    fabric,
                    op,
                    group["bytes"].to_numpy(dtype=float),
                    algorithm=None if p2p else first["algo"] or None,
                    protocol=None if p2p else first["proto"] or None,
                    bandwidths=bw,
                )
            except InterconnectSimError as exc:
                raise _row_error(measurements, group.index[0], exc) from None
            positions = [out.index.get_loc(i) for i in group.index]
            for pos, t, bus, algo, proto, neck in zip(
                positions,
                estimate.time_s,
                estimate.busbw_bytes_per_s,
                estimate.algorithm,
                estimate.protocol,
                estimate.bottleneck,
                strict=True,
            ):
                columns["pred_time_us"][pos] = t * 1e6
                columns["pred_busbw_GBps"][pos] = bus / 1e9
                columns["pred_algo"][pos] = algo
                columns["pred_proto"][pos] = proto
                columns["bottleneck"][pos] = neck
            if progress is not None:
                progress(done, groups.ngroups)
        for name, values in columns.items():
            out[name] = values
        out["class"] = [class_label(row) for _, row in out.iterrows()]
        return out


def _row_error(frame: pd.DataFrame, index: Any, exc: Exception) -> MeasurementError:
    """``exc`` as an error naming the file and row (1-based) of the first row it concerns."""
    source = frame.attrs.get("source", "measurements")
    return MeasurementError(f"{source}: row {frame.index.get_loc(index) + 1}: {exc}")


@dataclass(frozen=True, slots=True)
class Score:
    """Errors per (class, op) group and overall."""

    groups: pd.DataFrame
    overall: dict[str, float | int | None]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with ``groups`` and ``overall``."""
        records = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
            for record in self.groups.to_dict(orient="records")
        ]
        return {"groups": records, "overall": self.overall}


def _abs_pct(predicted: pd.Series, measured: pd.Series) -> pd.Series:
    return (predicted.astype(float) / measured.astype(float) - 1.0).abs() * 100.0


def _errors(frame: pd.DataFrame) -> dict[str, float | int | None]:
    big = frame[
        (frame["bytes"] >= BANDWIDTH_BOUND_BYTES) & (frame["busbw_GBps"] >= SMALLEST_BUSBW_GBPS)
    ]
    small = frame[frame["bytes"] <= LATENCY_BOUND_BYTES]
    busbw = _abs_pct(big["pred_busbw_GBps"], big["busbw_GBps"])
    time = _abs_pct(small["pred_time_us"], small["time_us"])

    def stat(series: pd.Series, fn: str) -> float | None:
        return None if series.empty else round(float(getattr(series, fn)()), 2)

    return {
        "n": len(frame),
        "n_busbw": len(big),
        "n_time": len(small),
        "median_abs_pct_error_busbw": stat(busbw, "median"),
        "max_abs_pct_error_busbw": stat(busbw, "max"),
        "median_abs_pct_error_time": stat(time, "median"),
        "max_abs_pct_error_time": stat(time, "max"),
    }


def score_predictions(predicted: pd.DataFrame) -> Score:
    """Group errors by system class and op; ``system`` in the output is the class label."""
    rows = []
    for (klass, op, role), group in predicted.groupby(["class", "op", "fit_role"], sort=True):
        rows.append({"system": klass, "op": op, "fit_role": role, **_errors(group)})
    return Score(pd.DataFrame(rows), _errors(predicted))
