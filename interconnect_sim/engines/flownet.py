"""Flows sharing a fabric's links over simulated time (simpy), with max-min fair rates.

:class:`EdgeIndex` numbers a fabric's directed edges and turns flow specs (routed once on a
template node, or globally) into sparse incidences over all nodes. :class:`FlowNetwork` is a simpy
process that owns the active flows: when one starts or finishes it recomputes every rate by
progressive filling (:func:`~interconnect_sim.engines.maxmin.max_min_rates`), advances the
remaining bytes, and sleeps until the next completion. Rates change only at those events, so a
collective on 16,384 GPUs is a handful of events, not one per transfer.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from interconnect_sim.collectives.bandwidth import CommunicatorPlan
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
    """One flow in progress."""

    label: str
    incidence: Incidence
    remaining_bytes: float
    done: simpy.Event
    owner: str
    rate: float = 0.0
    delivered_bytes: float = 0.0


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
    """The set of active flows and their max-min fair rates, driven by a simpy environment."""

    env: simpy.Environment
    index: EdgeIndex
    record: bool = True
    active: list[ActiveFlow] = field(default_factory=list)
    intervals: list[UtilisationInterval] = field(default_factory=list)
    rate_computations: int = 0
    _wake: simpy.Event | None = None
    _last: float = 0.0

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
        self._advance()
        self.active.append(ActiveFlow(label, incidence, volume_bytes, done, owner))
        self._poke()
        return done

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def _advance(self) -> None:
        """Move every active flow forward to now at its current rate."""
        elapsed = self.env.now - self._last
        if elapsed > 0 and self.active:
            if self.record:
                self._record(self._last, self.env.now)
            for flow in self.active:
                moved = min(flow.remaining_bytes, flow.rate * elapsed)
                flow.remaining_bytes -= moved
                flow.delivered_bytes += moved
        self._last = self.env.now

    def _record(self, start: float, end: float) -> None:
        load = np.zeros(self.index.capacity.size)
        for flow in self.active:
            np.add.at(load, flow.incidence.edges, flow.rate * flow.incidence.weights)
        used = np.flatnonzero(load > 0)
        self.intervals.append(
            UtilisationInterval(start, end, used, load[used] / self.index.capacity[used])
        )

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self._advance()
            finished = [f for f in self.active if _finished(f)]
            for flow in finished:
                self.active.remove(flow)
                flow.done.succeed()
            self._wake = self.env.event()
            if not self.active:
                yield self._wake
                continue
            rates, _ = max_min_rates(self.index.capacity, [f.incidence for f in self.active])
            self.rate_computations += 1
            for flow, rate in zip(self.active, rates, strict=True):
                flow.rate = float(rate)
            next_done = min(f.remaining_bytes / f.rate for f in self.active if f.rate > 0)
            yield self.env.timeout(next_done) | self._wake
