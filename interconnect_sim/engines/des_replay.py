"""Replaying a trace on the discrete-event engine: events wait for their dependencies, compute
takes its duration, collectives become flows that share links.

Events are driven by callbacks rather than one simpy process each: an event starts when its
last dependency ends (plus its gap), a compute event ends ``duration_s`` later, a call pays
``repeat`` latencies and then moves ``repeat x`` its bytes as the flows of its decomposition. A
call with copies gives its identical copies one flow per flow spec (their incidences summed,
:mod:`~interconnect_sim.collectives.classes`) unless the copies are to be kept apart (a fabric
what-if or a second job breaks their symmetry); it ends when its last copy does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from interconnect_sim.engines.flownet import EdgeIndex, FlowNetwork
from interconnect_sim.engines.maxmin import Incidence
from interconnect_sim.engines.records import CallRecord
from interconnect_sim.engines.scheduling import Communicators, group_label
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.workload.events import copy_count
from interconnect_sim.workload.trace import TraceCall, TraceCompute, TraceEvent

if TYPE_CHECKING:
    from interconnect_sim.engines.discrete_event import DiscreteEventEngine

__all__ = ["TraceReplay"]

ProgressCallback = Callable[[int, int], None]
_Plan = tuple[float, list[tuple[str, Incidence, float]], str, str]
"""Latency, (label, incidence, volume) per flow, algorithm and protocol of a call."""


class TraceReplay:
    """One replay of ``events`` on ``fabric`` (run it with :meth:`run`)."""

    def __init__(
        self,
        engine: DiscreteEventEngine,
        fabric: Fabric,
        events: Sequence[TraceEvent],
        *,
        merge_copies: bool,
        record_links: bool,
        progress: ProgressCallback | None,
    ) -> None:
        self.engine = engine
        self.events = events
        self.merge = merge_copies
        self.progress = progress
        self.communicators = Communicators(fabric, engine.catalog)
        self.index = EdgeIndex(fabric)
        self.env = simpy.Environment()
        self.network = FlowNetwork(self.env, self.index, record=record_links)
        self.records: dict[str, CallRecord] = {}
        self._plans: dict[tuple[object, ...], _Plan] = {}
        self._caches: dict[tuple[object, ...], dict[Any, Any]] = {}
        self._dependents: dict[str, list[TraceEvent]] = defaultdict(list)
        self._pending: dict[str, int] = {}
        for event in events:
            self._pending[event.id] = len(event.after)
            for dep in event.after:
                self._dependents[dep].append(event)

    def run(self) -> int:
        """Replay every event; return the number of simulation events processed."""
        for event in self.events:
            if not event.after:
                self._after(event.start_s or 0.0, self._readier(event))
        count = 0
        env = self.env
        while True:
            try:
                env.step()
            except simpy.core.EmptySchedule:
                return count
            count += 1

    def _readier(self, event: TraceEvent) -> Callable[[], None]:
        return lambda: self._ready(event)

    def _after(self, delay: float, then: Callable[[], None]) -> None:
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _: then())

    def _ready(self, event: TraceEvent) -> None:
        gap = event.compute_s if isinstance(event, TraceCall) else 0.0
        if gap:
            self._after(gap, lambda: self._begin(event))
        else:
            self._begin(event)

    def _begin(self, event: TraceEvent) -> None:
        start = self.env.now
        if isinstance(event, TraceCompute):
            self._after(event.duration_s, lambda: self._finish(event, start, "", ""))
            return
        latency, flows, algo, proto = self._plan(event)

        def move() -> None:
            remaining = [len(flows)]

            def one_done(_: Any) -> None:
                remaining[0] -= 1
                if remaining[0] == 0:
                    self._finish(event, start, algo, proto)

            if not flows:
                self._finish(event, start, algo, proto)
            for label, incidence, volume in flows:
                done = self.network.start(label, incidence, volume * event.repeat, event.id)
                done.callbacks.append(one_done)

        self._after(latency * event.repeat, move)

    def _plan(self, event: TraceCall) -> _Plan:
        """Latency, flows, algorithm and protocol of a call (cached per call shape)."""
        shape = (
            event.ranks or event.group,
            event.copies,
            event.p2p_comm,
            event.comm_size,
            event.op,
            event.size_bytes,
            event.algorithm,
            event.protocol,
        )
        if shape not in self._plans:
            parts = self.communicators.parts(event, merge=self.merge)
            algo, proto = self.engine.analytic.choose(
                event.op, parts[0].bandwidths, event.size_bytes, event.algorithm, event.protocol
            )
            flows: list[tuple[str, Incidence, float]] = []
            latency = 0.0
            for number, part in enumerate(parts):
                cache = self._caches.setdefault((*shape[:4], number), {})
                part_latency, part_flows = self.engine.flows_of(
                    self.index, event.op, part.bandwidths, algo, proto, event.size_bytes, cache
                )
                latency = max(latency, part_latency)
                flows.extend(part_flows)
            self._plans[shape] = (latency, flows, algo, proto)
        return self._plans[shape]

    def _finish(self, event: TraceEvent, start: float, algo: str, proto: str) -> None:
        ranks = self.communicators.ranks(event)
        if isinstance(event, TraceCall):
            op, size = event.op.value, event.size_bytes * event.repeat
        else:
            op, size = "compute", 0.0
        self.records[event.id] = CallRecord(
            id=event.id,
            op=op,
            size_bytes=size,
            rank_count=len(ranks),
            group=group_label(event, ranks),
            start_s=start,
            end_s=self.env.now,
            algorithm=algo,
            protocol=proto,
            tag=event.tag or "",
            copies=copy_count(event.copies),
        )
        if self.progress is not None:
            self.progress(len(self.records), len(self.events))
        for dependent in self._dependents.get(event.id, ()):
            self._pending[dependent.id] -= 1
            if self._pending[dependent.id] == 0:
                self._ready(dependent)
