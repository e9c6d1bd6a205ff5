"""A collective over a size sweep, like nccl-tests prints it: what ``collective`` and collective
scenarios run."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.ops import CollectiveOp, parse_op
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric

__all__ = ["MAX_SIZES", "CollectivePrediction", "predict_collective", "size_sweep"]

MAX_SIZES = 10_000
"""Most message sizes one sweep may have (nccl-tests' ``-f 2`` from 1 B to 8 GiB is 34)."""

TYPE_BYTES = 4
"""nccl-tests' default data type, float: ``count`` = bytes / 4."""


def size_sweep(min_bytes: float, max_bytes: float, step_factor: float) -> NDArray[np.float64]:
    """Sizes ``min, min x f, min x f^2 ...`` up to ``max`` (nccl-tests ``-b -e -f``), in bytes.

    Examples
    --------
    >>> size_sweep(8, 64, 2).tolist()
    [8.0, 16.0, 32.0, 64.0]
    """
    if not (0 < min_bytes <= max_bytes < math.inf):
        raise ScenarioError("--min-bytes must be positive and not above --max-bytes")
    if not 1.0 < step_factor < math.inf:
        raise ScenarioError(f"--step-factor must be above 1, got {step_factor}")
    count = math.floor(math.log(max_bytes / min_bytes) / math.log(step_factor) + 1e-9) + 1
    if count > MAX_SIZES:
        raise ScenarioError(
            f"--step-factor {step_factor} gives {count} sizes from --min-bytes to --max-bytes; "
            f"at most {MAX_SIZES} (use a larger factor)"
        )
    sizes = [min_bytes]
    while sizes[-1] * step_factor <= max_bytes * (1 + 1e-12):
        sizes.append(sizes[-1] * step_factor)
    result: NDArray[np.float64] = np.floor(np.array(sizes, dtype=float))
    return result


@dataclass(frozen=True, slots=True)
class CollectivePrediction:
    """One collective over a size sweep, with one or both engines."""

    op: CollectiveOp
    estimate: CollectiveEstimate
    des: CollectiveEstimate | None

    def rows(self) -> list[dict[str, Any]]:
        """nccl-tests columns (``bytes``, ``time_us``, ``algbw_GBps``, ``busbw_GBps`` ...), with
        ``des_time_us``, ``des_busbw_GBps`` and ``des_vs_analytic`` when both engines ran."""
        rows = self.estimate.rows()
        if self.des is not None:
            for row, des_row in zip(rows, self.des.rows(), strict=True):
                row["des_time_us"] = des_row["time_us"]
                row["des_busbw_GBps"] = des_row["busbw_GBps"]
                row["des_vs_analytic"] = des_row["time_us"] / row["time_us"] - 1.0
        return rows


def predict_collective(
    fabric: Fabric,
    values: Mapping[str, Any],
    catalog: Catalog,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CollectivePrediction:
    """Predict the collective that option ``values`` (dests of ``add_collective_options``)
    describe on ``fabric``."""
    op = parse_op(str(values["op"]))
    sizes = size_sweep(
        float(values.get("min_bytes") or 8.0),
        float(values.get("max_bytes") or 2.0**33),
        float(values.get("step_factor") or 2.0),
    )
    calibration = load_calibration(values.get("calibration"))
    engine_name = values.get("engine") or "analytic"
    algorithm = str(values["algo"]).lower() if values.get("algo") else None
    protocol = str(values["proto"]).lower() if values.get("proto") else None
    analytic = AnalyticEngine(catalog, calibration)
    bw = analytic.bandwidths(fabric, gpus_per_node=values.get("gpus_per_node"))
    estimate = analytic.estimate(
        fabric, op, sizes, bandwidths=bw, algorithm=algorithm, protocol=protocol
    )
    if engine_name == "analytic":
        return CollectivePrediction(op, estimate, None)
    des = DiscreteEventEngine(catalog, calibration)
    chunks = []
    for index in range(len(sizes)):
        size = sizes[index : index + 1]
        chunks.append(
            des.estimate(fabric, op, size, bandwidths=bw, algorithm=algorithm, protocol=protocol)
        )
        if progress is not None:
            progress(index + 1, len(sizes))
    des_estimate = _concatenate(chunks)
    if engine_name == "des":
        return CollectivePrediction(op, des_estimate, None)
    return CollectivePrediction(op, estimate, des_estimate)


def _concatenate(parts: list[CollectiveEstimate]) -> CollectiveEstimate:
    first = parts[0]
    return CollectiveEstimate(
        op=first.op,
        rank_count=first.rank_count,
        node_count=first.node_count,
        gpus_per_node=first.gpus_per_node,
        size_bytes=np.concatenate([p.size_bytes for p in parts]),
        time_s=np.concatenate([p.time_s for p in parts]),
        algorithm=tuple(a for p in parts for a in p.algorithm),
        protocol=tuple(a for p in parts for a in p.protocol),
        bottleneck=tuple(a for p in parts for a in p.bottleneck),
        engine=first.engine,
    )
