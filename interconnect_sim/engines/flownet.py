"""Flows sharing a fabric's links over simulated time (simpy), with max-min fair rates.

:class:`EdgeIndex` numbers a fabric's directed edges and turns flow specs (routed once on a
template node, or globally) into sparse incidences over all nodes. :class:`FlowNetwork` is a simpy
process that owns the active flows: when one starts or finishes it recomputes every rate by
progressive filling (:func:`~interconnect_sim.engines.maxmin.max_min_rates`), advances the
remaining bytes, and sleeps until the next completion. Rates change only at those events, so a
collective on 16,384 GPUs is a handful of events, not one per transfer.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from interconnect_sim.collectives.communicator import CommunicatorPlan
from interconnect_sim.collectives.decomposition import FlowSpec
from interconnect_sim.collectives.paths import Flow
from interconnect_sim.engines.maxmin import Incidence, max_min_rates
from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import Fabric

__all__ = ["ActiveFlow", "EdgeIndex", "FlowNetwork", "UtilisationInterval"]

_DONE_BYTES = 1e-6


class EdgeIndex:
    """Directed edges of a fabric as integers, with their capacities (the fabric's shared
    :class:`~interconnect_sim.topology.edge_numbers.EdgeNumbers`)."""

    def __init__(self, fabric: Fabric) -> None:
        self.numbers = EdgeNumbers.of(fabric)
        self.edges = self.numbers.edges
        self.index = self.numbers.index
        self.capacity = self.numbers.capacity

    def _template(
        self, flow: Flow, template_prefix: str, prefixes: tuple[str, ...]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """A template node's flow repeated on every node of ``prefixes``: numbers, weights."""
        weights = np.fromiter(flow.values(), dtype=float, count=len(flow))
        if not flow or not prefixes:
            return np.zeros(0, np.int64), np.zeros(0)
        numbered = [_node_number(p) for p in prefixes]
        nodes = [n for n in numbered if n is not None]
        template = _node_number(template_prefix)
        if template is not None and len(nodes) == len(numbered):
            local = self.numbers.numbers(list(flow))
            runs = self.numbers.node_runs(local, template, nodes)
            if runs is not None:
                return runs.ravel(), np.tile(weights, len(nodes))
        return self._renamed(flow, template_prefix, prefixes), np.tile(weights, len(prefixes))

    def _renamed(
        self, flow: Flow, template_prefix: str, prefixes: tuple[str, ...]
    ) -> NDArray[np.int64]:
        cut = len(template_prefix)

        def split(node: str) -> tuple[bool, str]:
            local = node.startswith(template_prefix)
            return local, node[cut:] if local else node

        parts = [(*split(u), *split(v)) for u, v in flow]
        edges: list[int] = []
        for prefix in prefixes:
            for u_local, u, v_local, v in parts:
                edges.append(
                    self.index[(prefix + u if u_local else u, prefix + v if v_local else v)]
                )
        return np.asarray(edges, dtype=np.int64)

    def incidence(self, spec: FlowSpec, plan: CommunicatorPlan) -> Incidence:
        """A flow spec over the whole fabric: each node group's template repeated on its
        nodes, plus the global parts; parallel entries on one edge are summed."""
        edges: list[NDArray[np.int64]] = []
        weights: list[NDArray[np.float64]] = []
        for template, group in zip(spec.templates, plan.groups, strict=True):
            group_edges, group_weights = self._template(
                template, group.template_prefix, group.node_prefixes
            )
            edges.append(group_edges)
            weights.append(group_weights)
        for part, scale in spec.global_parts:
            edges.append(part.edges.astype(np.int64))
            weights.append(part.weights * scale)
        idx = np.concatenate(edges) if edges else np.zeros(0, np.int64)
        if not idx.size:
            return Incidence(np.zeros(0, np.int64), np.zeros(0))
        unique, inverse = np.unique(idx, return_inverse=True)
        summed = np.bincount(inverse, weights=np.concatenate(weights))
        return Incidence(unique.astype(np.int64), summed.astype(float), spec.rate_cap_bytes_per_s)


def _node_number(prefix: str) -> int | None:
    """``n12/`` -> 12."""
    digits = prefix[1:-1]
    return int(digits) if prefix[:1] == "n" and prefix[-1:] == "/" and digits.isdigit() else None


@dataclass(slots=True, eq=False)
class ActiveFlow:
    """One flow in progress; ``remaining_bytes`` is as of ``since`` (rates change only at
    events, so progress is settled lazily)."""

    label: str
    incidence: Incidence
    remaining_bytes: float
    done: simpy.Event
    owner: str
    rate: float = 0.0
    delivered_bytes: float = 0.0
    since: float = 0.0
    version: int = 0

    def settle(self, now: float) -> None:
        """Move the flow forward to ``now`` at its current rate."""
        elapsed = now - self.since
        if elapsed > 0 and self.rate > 0:
            moved = min(self.remaining_bytes, self.rate * elapsed)
            self.remaining_bytes -= moved
            self.delivered_bytes += moved
        self.since = now


def _finished(flow: ActiveFlow) -> bool:
    """Done, allowing for floating-point residue relative to the bytes moved."""
    return flow.remaining_bytes <= _DONE_BYTES + 1e-12 * flow.delivered_bytes


@dataclass(frozen=True, slots=True)
class UtilisationInterval:
    """Link loads during one interval of constant rates (bytes/s over raw capacity)."""

    start_s: float
    end_s: float
    edges: NDArray[np.int64]
    utilisation: NDArray[np.float64]


@dataclass(slots=True)
class FlowNetwork:
    """The active flows and their max-min fair rates, driven by a simpy environment.

    Max-min fairness splits over the groups of flows that share links (transitively), so when a
    flow starts or ends only its group is re-solved: a tensor-parallel all-gather inside one
    node does not re-rate data-parallel traffic on the spine. Whether two incidences share a
    link is worked out once per pair (a replay reuses a few hundred incidences many times).
    Completions are kept in a heap.
    """

    env: simpy.Environment
    index: EdgeIndex
    record: bool = True
    active: dict[int, ActiveFlow] = field(default_factory=dict)
    intervals: list[UtilisationInterval] = field(default_factory=list)
    rate_computations: int = 0
    last_started: ActiveFlow | None = None
    _heap: list[tuple[float, int, int]] = field(default_factory=list)
    _dirty: set[int] = field(default_factory=set)
    _serial: int = 0
    _wake: simpy.Event | None = None
    _recorded_until: float = 0.0
    _known: dict[int, NDArray[np.int64]] = field(default_factory=dict)
    _known_weights: dict[int, NDArray[np.float64]] = field(default_factory=dict)
    _unindexed: int | None = None
    _owners: dict[int, list[int]] = field(default_factory=dict)  # edge -> edge arrays
    _overlaps: dict[int, set[int]] = field(default_factory=dict)  # edge array -> those sharing
    _adjacent: dict[int, set[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env.process(self._run())

    def start(
        self, label: str, incidence: Incidence, volume_bytes: float, owner: str
    ) -> simpy.Event:
        """Add a flow; the returned event fires when its last byte is delivered."""
        done = self.env.event()
        if volume_bytes <= _DONE_BYTES or incidence.edges.size == 0:
            done.succeed()
            return done
        if self.record:
            self._record_until_now()
        key = self._serial
        self._serial += 1
        flow = ActiveFlow(label, incidence, volume_bytes, done, owner, since=self.env.now)
        sharing = self._sharing(incidence)
        neighbours = {k for k, f in self.active.items() if id(f.incidence.edges) in sharing}
        self._adjacent[key] = neighbours
        for other in neighbours:
            self._adjacent[other].add(key)
        self.active[key] = flow
        self.last_started = flow
        self._dirty.add(key)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()
        return done

    def _record_until_now(self) -> None:
        now = self.env.now
        if now > self._recorded_until and self.active:
            load = np.zeros(self.index.capacity.size)
            for flow in self.active.values():
                np.add.at(load, flow.incidence.edges, flow.rate * flow.incidence.weights)
            used = np.flatnonzero(load > 0)
            self.intervals.append(
                UtilisationInterval(
                    self._recorded_until, now, used, load[used] / self.index.capacity[used]
                )
            )
        self._recorded_until = now

    def _sharing(self, incidence: Incidence) -> set[int]:
        """Ids of the known edge arrays that cross a link of ``incidence`` (itself included);
        incidences that differ only in their rate cap share one edge array. The first array is
        indexed edge by edge only when a second one arrives (a single collective, as
        :meth:`DiscreteEventEngine.estimate` runs, never needs it)."""
        key = id(incidence.edges)
        if key not in self._overlaps:
            self._known[key] = incidence.edges  # keeps the id unique while the network lives
            self._known_weights[key] = incidence.weights
            if not self._overlaps:
                self._overlaps[key] = {key}
                self._unindexed = key
                return self._overlaps[key]
            if self._unindexed is not None:
                first, self._unindexed = self._unindexed, None
                self._index_owners(first, self._known[first])
            for other in self._index_owners(key, incidence.edges):
                self._overlaps.setdefault(other, set()).add(key)
                self._overlaps[key].add(other)
        return self._overlaps[key]

    def _index_owners(self, key: int, edges: NDArray[np.int64]) -> set[int]:
        """Record ``key`` as an owner of its loaded edges; the keys already owning them."""
        loaded = edges[self._known_weights[key] > 0]
        touching = {key}
        for edge in loaded.tolist():
            owners = self._owners.setdefault(edge, [])
            touching.update(owners)
            owners.append(key)
        self._overlaps.setdefault(key, set()).update(touching)
        return touching

    def _complete_due(self) -> None:
        """Finish every flow whose last byte is delivered by now."""
        now = self.env.now
        heap = self._heap
        while heap and heap[0][0] <= now * (1 + 1e-12) + 1e-15:
            _, version, key = heapq.heappop(heap)
            flow = self.active.get(key)
            if flow is None or flow.version != version:
                continue
            flow.settle(now)
            flow.delivered_bytes += flow.remaining_bytes
            flow.remaining_bytes = 0.0
            del self.active[key]
            self._dirty.discard(key)
            neighbours = self._adjacent.pop(key)
            for other in neighbours:
                self._adjacent[other].discard(key)
            self._dirty.update(neighbours)
            flow.done.succeed()

    def _component(self) -> list[int]:
        """The dirty flows and every flow sharing links with them, transitively."""
        seen = {key for key in self._dirty if key in self.active}
        stack = list(seen)
        while stack:
            for other in self._adjacent[stack.pop()]:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        self._dirty.clear()
        return sorted(seen)

    def _rerate(self) -> None:
        keys = self._component()
        if not keys:
            return
        now = self.env.now
        flows = [self.active[key] for key in keys]
        if len(flows) == 1:  # alone on its links: its bottleneck, or its cap
            incidence = flows[0].incidence
            used = incidence.weights > 0
            limits = self.index.capacity[incidence.edges[used]] / incidence.weights[used]
            rates = [min(float(limits.min(initial=math.inf)), incidence.rate_cap)]
        else:
            rates = max_min_rates(self.index.capacity, [f.incidence for f in flows])[0].tolist()
        self.rate_computations += 1
        for key, flow, rate in zip(keys, flows, rates, strict=True):
            flow.settle(now)
            flow.rate = rate
            flow.version += 1
            if _finished(flow) or rate == math.inf:
                heapq.heappush(self._heap, (now, flow.version, key))
            elif rate > 0:
                heapq.heappush(self._heap, (now + flow.remaining_bytes / rate, flow.version, key))

    def _next_due(self) -> float | None:
        heap = self._heap
        while heap:
            _, version, key = heap[0]
            flow = self.active.get(key)
            if flow is not None and flow.version == version:
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if self.record:
                self._record_until_now()
            self._complete_due()
            if self._dirty:
                self._rerate()
                self._complete_due()
            self._wake = self.env.event()
            due = self._next_due()
            if due is None:
                yield self._wake
            else:
                yield self.env.timeout(max(0.0, due - self.env.now)) | self._wake
