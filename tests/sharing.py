"""Compare what a fabric's analyses give with sharing between alike nodes and without any.

``outcomes(build, ...)`` builds a fabric and records every number and description the engines
produce for a set of communicators; called once normally and once inside
:func:`~interconnect_sim.topology.structure.no_sharing`, the two records must match (numbers to
1e-9 relative, text exactly).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.topology.structure import no_sharing
from interconnect_sim.workload.trace import TraceCall

_FIELDS = (
    "node_count",
    "gpus_per_node",
    "ring_intra_bytes_per_s",
    "ring_channel_rates_bytes_per_s",
    "chain_intra_bytes_per_s",
    "intra_tier",
    "intra_bottleneck",
    "shift_intra_bytes_per_s",
    "alltoall_intra_bytes_per_s",
    "nvlink_per_gpu_bytes_per_s",
    "network_per_node_bytes_per_s",
    "rail_count",
    "network_bottleneck",
    "transport",
    "nvls",
    "collnet",
)
SIZES = (1e3, 2.0**20, 2.0**30)


def analysis(bw: CommunicatorBandwidths) -> dict[str, Any]:
    """Every number and description of one analysis, joint rates included."""
    record: dict[str, Any] = {name: getattr(bw, name) for name in _FIELDS}
    record["network_flow"] = [[*edge, weight] for edge, weight in bw.plan.network_flow.items()]
    record["alltoall_network"] = bw.alltoall_network_per_gpu()
    record["alltoall_network_bottleneck"] = bw.alltoall_network_bottleneck()
    for pattern in ("ring", "chain", "shift", "alltoall"):
        record[f"joint_{pattern}"] = bw.joint_rate(pattern, 0.8, 0.9)
    return record


def outcomes(
    build: Callable[[], Fabric],
    catalog: Catalog,
    groups: Sequence[Sequence[int]],
    ops: Sequence[CollectiveOp] = (CollectiveOp.ALL_REDUCE, CollectiveOp.ALLTOALL),
) -> dict[str, Any]:
    """Analyses of the whole fabric and of ``groups`` (rank lists), both engines' estimates of
    ``ops`` on the whole fabric, and a replay of every group at once under the DES."""
    fabric = build()
    analytic = AnalyticEngine(catalog)
    des = DiscreteEventEngine(catalog)
    gpus = fabric.gpus
    record: dict[str, Any] = {"world": analysis(analytic.bandwidths(fabric))}
    for i, ranks in enumerate(groups):
        record[f"group{i}"] = analysis(analytic.bandwidths(fabric, gpus=[gpus[r] for r in ranks]))
    for op in ops:
        for engine in (analytic, des):
            sizes = SIZES if engine is analytic else SIZES[-1:]
            estimate = engine.estimate(fabric, op, sizes)
            record[f"{engine.name}:{op.value}"] = (
                estimate.time_s.tolist(),
                estimate.algorithm,
                estimate.protocol,
                estimate.bottleneck,
            )
    calls = [
        TraceCall(id=f"g{i}", op=ops[0], size_bytes=2.0**28, ranks=tuple(ranks), start_s=0.0)
        for i, ranks in enumerate(groups)
        if len(ranks) > 1
    ]
    if calls:
        replay = des.replay(fabric, calls, record_links=False)
        record["replay"] = [
            (c.id, c.start_s, c.end_s, c.algorithm, c.protocol) for c in replay.calls
        ]
    return record


def with_and_without_sharing(
    build: Callable[[], Fabric], catalog: Catalog, groups: Sequence[Sequence[int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`outcomes` with sharing, then without any."""
    shared = outcomes(build, catalog, groups)
    with no_sharing():
        alone = outcomes(build, catalog, groups)
    return shared, alone


def assert_same(shared: Any, alone: Any, path: str = "") -> None:
    """Numbers equal to 1e-9 relative, everything else exactly."""
    if isinstance(shared, dict):
        assert shared.keys() == alone.keys(), path
        for key in shared:
            assert_same(shared[key], alone[key], f"{path}/{key}")
    elif isinstance(shared, list | tuple):
        assert len(shared) == len(alone), path
        for i, (a, b) in enumerate(zip(shared, alone, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(shared, float) and isinstance(alone, float):
        assert math.isclose(shared, alone, rel_tol=1e-9, abs_tol=0.0) or shared == alone, (
            f"{path}: {shared} != {alone}"
        )
    else:
        assert shared == alone, f"{path}: {shared!r} != {alone!r}"
