"""The discrete-event engine: collectives as flows sharing links over simulated time (simpy).

Each call waits for its start time or dependencies (plus any compute gap), pays its latency, then
starts the flows of its decomposition
(:func:`~interconnect_sim.collectives.decomposition.decompose`: the same rings, rails and NVLS
groups the analytic engine prices) on a :class:`~interconnect_sim.engines.flownet.FlowNetwork`,
which shares link capacity between all active flows by max-min fairness and recomputes rates only
when a flow starts or ends. The call ends when its last flow does. The algorithm and protocol
are the ones NCCL's tuner (the analytic engine) picks for that size, unless forced.

On an idle fabric the result equals the analytic engine's by construction; when calls overlap
(tensor-parallel all-reduces inside nodes while data-parallel traffic crosses the spine, two jobs
on one pod) the flows slow each other down as the shared links dictate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import simpy
from numpy.typing import ArrayLike

from interconnect_sim.calibration import Calibration, load_calibration
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.decomposition import Decomposition, decompose
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.flownet import EdgeIndex, FlowNetwork
from interconnect_sim.engines.maxmin import Incidence
from interconnect_sim.engines.records import CollectiveEstimate, LinkLoad, ReplayResult
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.whatif import network_modified
from interconnect_sim.workload.trace import TraceEvent

__all__ = ["DiscreteEventEngine"]

ProgressCallback = Callable[[int, int], None]


class DiscreteEventEngine:
    """Flow-level discrete-event simulation of collective traffic with contention.

    Parameters
    ----------
    catalog : Catalog
        Spec catalog the fabrics were built from.
    calibration : Calibration, optional
        Same calibration as the analytic engine (default the shipped one).

    Examples
    --------
    >>> import interconnect_sim as ics
    >>> catalog = ics.load_catalog()
    >>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100"))
    >>> des = DiscreteEventEngine(catalog)
    >>> ana = AnalyticEngine(catalog)
    >>> t_des = des.estimate(fabric, CollectiveOp.ALL_REDUCE, [2**30]).time_s[0]
    >>> t_ana = ana.estimate(fabric, CollectiveOp.ALL_REDUCE, [2**30]).time_s[0]
    >>> bool(abs(t_des / t_ana - 1) < 1e-6)
    True
    """

    name = "des"

    def __init__(self, catalog: Catalog, calibration: Calibration | None = None) -> None:
        self.catalog = catalog
        self.calibration = calibration if calibration is not None else load_calibration()
        self.analytic = AnalyticEngine(catalog, self.calibration)
        self._shared: dict[tuple[Any, ...], Any] = {}

    # -- one collective, many sizes (same interface as the analytic engine) ---------------------

    def estimate(
        self,
        fabric: Fabric,
        op: CollectiveOp,
        sizes_bytes: ArrayLike,
        *,
        node_count: int | None = None,
        gpus_per_node: int | None = None,
        algorithm: str | None = None,
        protocol: str | None = None,
        bandwidths: CommunicatorBandwidths | None = None,
    ) -> CollectiveEstimate:
        """Simulate ``op`` alone on ``fabric`` at each size (one simulation per size)."""
        choice = self.analytic.estimate(
            fabric,
            op,
            sizes_bytes,
            node_count=node_count,
            gpus_per_node=gpus_per_node,
            algorithm=algorithm,
            protocol=protocol,
            bandwidths=bandwidths,
        )
        bw = bandwidths or self.analytic.bandwidths(
            fabric, node_count=node_count, gpus_per_node=gpus_per_node
        )
        index = EdgeIndex(fabric)
        times = []
        cache: dict[Any, Any] = {}
        for size, algo, proto in zip(
            choice.size_bytes, choice.algorithm, choice.protocol, strict=True
        ):
            latency, flows = self.flows_of(index, op, bw, algo, proto, float(size), cache)
            env = simpy.Environment()
            network = FlowNetwork(env, index, record=False)
            finished: list[float] = []

            def run(
                latency: float = latency,
                flows: Any = flows,
                network: FlowNetwork = network,
                env: simpy.Environment = env,
                finished: list[float] = finished,
            ) -> Any:
                yield env.timeout(latency)
                yield env.all_of(
                    [network.start(label, inc, vol, "call") for label, inc, vol in flows]
                )
                finished.append(env.now)

            env.process(run())
            env.run()
            times.append(finished[0])
        return CollectiveEstimate(
            op=op,
            rank_count=choice.rank_count,
            node_count=choice.node_count,
            gpus_per_node=choice.gpus_per_node,
            size_bytes=choice.size_bytes,
            time_s=np.array(times),
            algorithm=choice.algorithm,
            protocol=choice.protocol,
            bottleneck=choice.bottleneck,
            engine=self.name,
        )

    def flows_of(
        self,
        index: EdgeIndex,
        op: CollectiveOp,
        bw: CommunicatorBandwidths,
        algorithm: str,
        protocol: str,
        size: float,
        cache: dict[Any, Any],
    ) -> tuple[float, list[tuple[str, Incidence, float]]]:
        """Latency and (label, incidence, volume) per flow of one call. The links a flow crosses
        are cached per (algorithm, protocol), the whole answer per size (its rate cap, NCCL's
        per-size limits, is the one at this size) in ``cache`` (one per communicator)."""
        answer = cache.get((algorithm, protocol, size))
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        decomposition = self._decompose(op, bw, algorithm, protocol, size)
        key = (algorithm, protocol)
        if key not in cache:
            plan = bw.plan
            cache[key] = [(spec.label, index.incidence(spec, plan)) for spec in decomposition.flows]
        flows = [
            (label, replace(incidence, rate_cap=spec.rate_cap_bytes_per_s), spec.volume_bytes)
            for (label, incidence), spec in zip(cache[key], decomposition.flows, strict=True)
        ]
        cache[(algorithm, protocol, size)] = (decomposition.latency_s, flows)
        return decomposition.latency_s, flows

    def _decompose(
        self,
        op: CollectiveOp,
        bw: CommunicatorBandwidths,
        algorithm: str,
        protocol: str,
        size: float,
    ) -> Decomposition:
        """:func:`decompose`, shared by the calls of every one-node communicator renamed from one
        analysis (every tensor-parallel group of a kind: same numbers, same template flows)."""
        if bw.plan.network is not None:
            return decompose(op, bw, self.calibration, algorithm, protocol, size)
        key = (bw.joint_rate, bw.p2p_pairs, op, algorithm, protocol, size)
        if key not in self._shared:
            self._shared[key] = decompose(op, bw, self.calibration, algorithm, protocol, size)
        found: Decomposition = self._shared[key]
        return found

    def _choose(
        self,
        op: CollectiveOp,
        bw: CommunicatorBandwidths,
        size: float,
        algorithm: str | None,
        protocol: str | None,
    ) -> tuple[str, str]:
        """The tuner's choice, computed once per analysis (renamed copies share it)."""
        key = ("choice", bw.joint_rate, bw.p2p_pairs, op, size, algorithm, protocol)
        if key not in self._shared:
            self._shared[key] = self.analytic.choose(op, bw, size, algorithm, protocol)
        choice: tuple[str, str] = self._shared[key]
        return choice

    # -- traces ------------------------------------------------------------------------------

    def replay(
        self,
        fabric: Fabric,
        calls: Sequence[TraceEvent],
        *,
        progress: ProgressCallback | None = None,
        record_links: bool = True,
        merge_copies: bool | None = None,
    ) -> ReplayResult:
        """Replay a trace with contention between concurrent calls.

        Parameters
        ----------
        fabric : Fabric
            The fabric; ranks are numbered node by node.
        calls : sequence of TraceCall or TraceCompute
            Validated events (:func:`~interconnect_sim.workload.trace.read_trace`).
        progress : callable, optional
            Called as ``progress(done, total)`` after each event ends.
        record_links : bool
            Keep per-interval link loads (for ``links.csv`` and heatmaps).
        merge_copies : bool, optional
            Give the identical copies of a call one flow (exact when they are symmetric on the
            fabric). Default: yes, unless a what-if changed the network
            (:func:`~interconnect_sim.topology.whatif.network_modified`), where each copy
            gets its own flows and its own rate.
        """
        from interconnect_sim.engines.des_replay import TraceReplay

        merge = not network_modified(fabric) if merge_copies is None else merge_copies
        self._shared = {}  # choices and decompositions by analysis, for this replay
        replay = TraceReplay(
            self,
            fabric,
            calls,
            merge_copies=merge,
            record_links=record_links,
            progress=progress,
        )
        events = replay.run()
        network = replay.network
        ordered = tuple(replay.records[call.id] for call in calls)
        makespan = max(record.end_s for record in ordered)
        return ReplayResult(
            engine=self.name,
            calls=ordered,
            makespan_s=makespan,
            links=_link_loads(replay.index, network, makespan),
            intervals=tuple(network.intervals),
            edges=tuple(replay.index.edges),
            events=events,
            rate_computations=network.rate_computations,
        )


def _link_loads(index: EdgeIndex, network: FlowNetwork, makespan: float) -> tuple[LinkLoad, ...]:
    """Time-averaged utilisation per link over the replay, most loaded first."""
    if not network.intervals or makespan <= 0:
        return ()
    busy = np.zeros(index.capacity.size)
    weighted = np.zeros(index.capacity.size)
    for interval in network.intervals:
        length = interval.end_s - interval.start_s
        np.add.at(weighted, interval.edges, interval.utilisation * length)
        np.add.at(busy, interval.edges, length)
    order = np.argsort(-weighted)[:50]
    return tuple(
        LinkLoad(
            src=index.edges[i][0],
            dst=index.edges[i][1],
            utilisation=float(weighted[i] / makespan),
            busy_s=float(busy[i]),
        )
        for i in order
        if weighted[i] > 0
    )
