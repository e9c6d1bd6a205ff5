"""The analytic engine: closed-form collective times on a fabric, vectorised over sizes.

For a communicator it derives bandwidths from the graph once
(:func:`~interconnect_sim.collectives.bandwidth.analyse_communicator`), prices every applicable
NCCL (algorithm, protocol) as ``latency + size / bandwidth``
(:mod:`~interconnect_sim.collectives.algorithms`), and, like NCCL's tuner, picks the cheapest at
each size unless an algorithm or protocol is forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.collectives.algorithms import (
    P2P_LL_THRESHOLD_BYTES,
    AlgorithmCost,
    applicable,
    cost,
)
from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.records import CallRecord, CollectiveEstimate, ReplayResult
from interconnect_sim.engines.scheduling import Communicators, check_events, group_label
from interconnect_sim.errors import ScenarioError
from interconnect_sim.limits import check_message_size, check_size_count
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.whatif import network_modified
from interconnect_sim.workload.events import copy_count
from interconnect_sim.workload.trace import TraceCompute, TraceEvent

__all__ = ["AnalyticEngine"]

_ALGORITHM_NAMES = ("ring", "tree", "nvls", "nvlstree", "collnet", "pat", "p2p")
_PROTOCOL_NAMES = ("ll", "ll128", "simple")


class AnalyticEngine:
    """Closed-form collective model (NCCL's structure, bandwidths from the graph).

    Parameters
    ----------
    catalog : Catalog
        Spec catalog the fabrics were built from.
    calibration : Calibration, optional
        Fitted efficiencies and NCCL constants; default the shipped calibration.

    Examples
    --------
    >>> import interconnect_sim as ics
    >>> from interconnect_sim.collectives.ops import CollectiveOp
    >>> catalog = ics.load_catalog()
    >>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100"))
    >>> estimate = AnalyticEngine(catalog).estimate(fabric, CollectiveOp.ALL_REDUCE, [2**30])
    >>> bool(300e9 < estimate.busbw_bytes_per_s[0] < 500e9)
    True
    """

    name = "analytic"

    def __init__(self, catalog: Catalog, calibration: Calibration | None = None) -> None:
        self.catalog = catalog
        self.calibration = calibration if calibration is not None else load_calibration()

    def bandwidths(
        self,
        fabric: Fabric,
        *,
        node_count: int | None = None,
        gpus_per_node: int | None = None,
        gpus: Sequence[str] | None = None,
    ) -> CommunicatorBandwidths:
        """The graph-derived bandwidths of a communicator (first ``gpus_per_node`` GPUs of the
        first ``node_count`` nodes, or explicit ``gpus``)."""
        return analyse_communicator(
            fabric, self.catalog, node_count=node_count, gpus_per_node=gpus_per_node, gpus=gpus
        )

    def replay(self, fabric: Fabric, calls: Sequence[TraceEvent]) -> ReplayResult:
        """Time a trace event by event, honouring start times and dependencies, without
        contention.

        Each call takes its idle-fabric time (``repeat`` times; with copies, that of the slowest
        distinct copy), each compute event its duration; concurrent calls do not slow each other
        (use the discrete-event engine for that), so the makespan is the trace's longest
        dependency path. Same output as
        :meth:`~interconnect_sim.engines.discrete_event.DiscreteEventEngine.replay`.
        """
        communicators = Communicators(fabric, self.catalog)
        check_events(calls, communicators)  # every event checked before any is timed
        merge = not network_modified(fabric)
        by_id = {call.id: call for call in calls}
        ends: dict[str, float] = {}
        records: dict[str, CallRecord] = {}

        def finish(call: TraceEvent) -> float:
            # iterative over dependencies: a training step's chains run thousands deep
            stack = [call]
            while stack:
                top = stack[-1]
                waiting = [by_id[d] for d in top.after if d not in ends]
                if waiting:
                    stack.extend(waiting)
                    continue
                stack.pop()
                if top.id not in ends:
                    ready = max((ends[d] for d in top.after), default=top.start_s or 0.0)
                    records[top.id] = self._record(communicators, top, ready, merge)
                    ends[top.id] = records[top.id].end_s
            return ends[call.id]

        for call in calls:
            finish(call)
        ordered = tuple(records[call.id] for call in calls)
        return ReplayResult(
            engine=self.name, calls=ordered, makespan_s=max(r.end_s for r in ordered)
        )

    def _record(
        self, communicators: Communicators, event: TraceEvent, ready: float, merge: bool
    ) -> CallRecord:
        ranks = communicators.ranks(event)
        compute = CallRecord(
            id=event.id,
            op="compute",
            size_bytes=0.0,
            rank_count=len(ranks),
            group=group_label(event, ranks),
            start_s=ready,
            end_s=ready,
            algorithm="",
            protocol="",
            tag=event.tag or "",
            copies=copy_count(event.copies),
        )
        if isinstance(event, TraceCompute):
            return replace(compute, end_s=ready + event.duration_s)
        start = ready + event.compute_s
        estimates = [
            self.estimate(
                fabric=None,
                op=event.op,
                sizes_bytes=[event.size_bytes],
                algorithm=event.algorithm,
                protocol=event.protocol,
                bandwidths=part.bandwidths,
            )
            for part in communicators.parts(event, merge=merge)
        ]
        slowest = max(estimates, key=lambda e: float(e.time_s[0]))
        return replace(
            compute,
            op=event.op.value,
            size_bytes=event.size_bytes * event.repeat,
            start_s=start,
            end_s=start + event.repeat * float(slowest.time_s[0]),
            algorithm=slowest.algorithm[0],
            protocol=slowest.protocol[0],
        )

    def choose(
        self,
        op: CollectiveOp,
        bw: CommunicatorBandwidths,
        size_bytes: float,
        algorithm: str | None,
        protocol: str | None,
    ) -> tuple[str, str]:
        """The (algorithm, protocol) the tuner picks at one size, as NCCL would."""
        est = self.estimate(
            None,
            op,
            [size_bytes],
            algorithm=algorithm,
            protocol=protocol,
            bandwidths=bw,
        )
        return est.algorithm[0], est.protocol[0]

    def estimate(
        self,
        fabric: Fabric | None,
        op: CollectiveOp,
        sizes_bytes: ArrayLike,
        *,
        node_count: int | None = None,
        gpus_per_node: int | None = None,
        algorithm: str | None = None,
        protocol: str | None = None,
        bandwidths: CommunicatorBandwidths | None = None,
    ) -> CollectiveEstimate:
        """Predict ``op`` at each size.

        Parameters
        ----------
        fabric : Fabric
            The fabric; the communicator is the first ``gpus_per_node`` GPUs of the first
            ``node_count`` nodes (default: all).
        op : CollectiveOp
            The collective.
        sizes_bytes : array_like
            Message sizes in bytes, nccl-tests' convention for ``op``.
        algorithm, protocol : str, optional
            Force a choice like ``NCCL_ALGO`` / ``NCCL_PROTO`` (``ring``, ``tree``, ``nvls``,
            ``nvlstree``, ``collnet``, ``pat``; ``ll``, ``ll128``, ``simple``).
        bandwidths : CommunicatorBandwidths, optional
            Reuse an earlier analysis of the same communicator.

        Raises
        ------
        ScenarioError
            Unknown or inapplicable algorithm/protocol, fewer than 2 ranks, bad sizes.
        """
        sizes = np.atleast_1d(np.asarray(sizes_bytes, dtype=float))
        if sizes.size == 0 or not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
            raise ScenarioError("message sizes must be positive finite numbers of bytes")
        check_size_count(sizes.size, "the request")
        check_message_size(float(sizes.max()), f"a message of {sizes.max():.4g} bytes")
        for value, names, what in (
            (algorithm, _ALGORITHM_NAMES, "algorithm (--algo)"),
            (protocol, _PROTOCOL_NAMES, "protocol (--proto)"),
        ):
            if value is not None and value not in names:
                raise ScenarioError(f"unknown {what} {value!r}; one of {', '.join(names)}")
        if bandwidths is None and fabric is None:
            raise ScenarioError("estimate needs a fabric or its analysed bandwidths")
        bw = bandwidths or self.bandwidths(
            fabric,  # type: ignore[arg-type]
            node_count=node_count,
            gpus_per_node=gpus_per_node,
        )
        if bw.rank_count < 2:
            raise ScenarioError("a collective needs at least 2 ranks")
        candidates = [
            (a, p)
            for a, p in applicable(op, bw, auto=algorithm is None and protocol is None)
            if (algorithm is None or a == algorithm) and (protocol is None or p == protocol)
        ]
        if not candidates:
            options = ", ".join(f"{a}/{p}" for a, p in applicable(op, bw, auto=False))
            raise ScenarioError(
                f"{algorithm or '*'}/{protocol or '*'} does not apply to {op.value} on "
                f"{bw.node_count} node(s) x {bw.gpus_per_node} GPU(s); options: {options}"
            )
        costs = [cost(op, bw, self.calibration, a, p) for a, p in candidates]
        times = np.vstack([c.times_s(sizes) for c in costs])
        if op in (CollectiveOp.ALLTOALL, CollectiveOp.SENDRECV) and protocol is None:
            per_peer = sizes / (bw.rank_count if op is CollectiveOp.ALLTOALL else 1)
            times = _mask_p2p(times, costs, per_peer)
        best = np.argmin(times, axis=0)
        chosen = [costs[i] for i in best]
        bottleneck = tuple(_label(c, s) for c, s in zip(chosen, sizes, strict=True))
        return CollectiveEstimate(
            op=op,
            rank_count=bw.rank_count,
            node_count=bw.node_count,
            gpus_per_node=bw.gpus_per_node,
            size_bytes=sizes,
            time_s=times[best, np.arange(sizes.size)],
            algorithm=tuple(c.algorithm for c in chosen),
            protocol=tuple(c.protocol for c in chosen),
            bottleneck=bottleneck,
            engine=self.name,
        )


def _label(chosen_cost: AlgorithmCost, size: float) -> str:
    rate = float(chosen_cost.algbw_at([size])[0])
    latency = float(chosen_cost.times_s([size])[0]) - size / rate
    if latency >= size / rate:
        return f"latency ({latency * 1e6:.1f} us per call)"
    if rate < chosen_cost.algbw_bytes_per_s * (1 - 1e-9):
        factor = rate / chosen_cost.algbw_bytes_per_s
        return f"{chosen_cost.bottleneck}; NCCL's mid-size tree correction x{factor:.2f}"
    return chosen_cost.bottleneck


def _mask_p2p(
    times: np.ndarray, costs: Sequence[AlgorithmCost], per_peer: np.ndarray
) -> np.ndarray:
    """NCCL sends point-to-point messages up to 16 KiB per peer with LL, larger with Simple."""
    masked = times.copy()
    for i, c in enumerate(costs):
        use = (
            per_peer <= P2P_LL_THRESHOLD_BYTES
            if c.protocol == "ll"
            else (per_peer > P2P_LL_THRESHOLD_BYTES)
        )
        masked[i, ~use] = np.inf
    return masked
