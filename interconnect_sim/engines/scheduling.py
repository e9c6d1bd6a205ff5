"""What both engines share when replaying a trace: communicators and call timing rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.classes import ClassPart, class_parts
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.errors import TraceError
from interconnect_sim.limits import check_message_size, check_time
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.workload.trace import (
    TraceCall,
    TraceCompute,
    TraceEvent,
    check_copies,
    dependency_order,
    resolve_copies,
    resolve_ranks,
)

__all__ = ["Communicators", "check_events", "group_label"]


def group_label(call: TraceEvent, ranks: tuple[int, ...]) -> str:
    """A short name for the call's communicator (for timelines)."""
    if call.group is not None:
        return call.group
    return f"ranks {ranks[0]}-{ranks[-1]}" if len(ranks) > 2 else f"ranks {ranks}"


class Communicators:
    """Rank sets of a fabric, analysed once each."""

    def __init__(self, fabric: Fabric, catalog: Catalog) -> None:
        self.fabric = fabric
        self.catalog = catalog
        self.gpus = fabric.gpus
        nodes = {fabric.graph.nodes[g]["node"] for g in self.gpus}
        self.gpus_per_node = len(self.gpus) // len(nodes)
        self._cache: dict[tuple[int, ...], CommunicatorBandwidths] = {}
        self._parts: dict[tuple[object, ...], list[ClassPart]] = {}
        # keyed by the call's ranks (or group) and copies as written

    def ranks(self, call: TraceEvent) -> tuple[int, ...]:
        """The call's ranks on this fabric (its first copy's)."""
        return resolve_ranks(call, len(self.gpus), self.gpus_per_node)

    def copies(self, call: TraceEvent) -> list[tuple[int, ...]]:
        """The ranks of every copy of the call."""
        return resolve_copies(call, len(self.gpus), self.gpus_per_node)

    def check_copies(self, call: TraceEvent) -> None:
        """Raise if the call or a copy of it reaches past the fabric (copies not listed)."""
        check_copies(call, len(self.gpus), self.gpus_per_node)

    def _analyse(self, call: TraceCall, ranks: tuple[int, ...]) -> CommunicatorBandwidths:
        ranks = tuple(sorted(ranks))
        if len(ranks) < 2:
            raise TraceError(f"{call.where()}: a collective needs at least 2 ranks")
        if ranks not in self._cache:
            try:
                self._cache[ranks] = analyse_communicator(
                    self.fabric, self.catalog, gpus=[self.gpus[r] for r in ranks]
                )
            except Exception as exc:
                raise TraceError(f"{call.where()}: {exc}") from None
        return self._cache[ranks]

    def bandwidths(self, call: TraceCall) -> CommunicatorBandwidths:
        """Graph analysis of the call's communicator (its first copy; cached by rank set)."""
        return _as_called(call, self._analyse(call, self.ranks(call)))

    def parts(self, call: TraceCall, *, merge: bool) -> list[ClassPart]:
        """The call's copies as parts to time: identical copies merged into one part
        (:func:`~interconnect_sim.collectives.classes.class_parts`), or one part per copy."""
        key = (call.ranks or call.group, call.copies, merge)
        if key not in self._parts:
            copies = self.copies(call)
            if len(copies) == 1 or not merge:
                parts = [ClassPart(self._analyse(call, ranks), 1) for ranks in copies]
            else:
                self._analyse(call, copies[0])  # the errors of a bad group, by line
                parts = class_parts(
                    self.fabric,
                    self.catalog,
                    [[self.gpus[r] for r in sorted(ranks)] for ranks in copies],
                )
            self._parts[key] = parts
        return [ClassPart(_as_called(call, p.bandwidths), p.copies) for p in self._parts[key]]


def _as_called(call: TraceCall, bw: CommunicatorBandwidths) -> CommunicatorBandwidths:
    """The analysis with the call's point-to-point communicator (per pair, or a larger one)."""
    if call.p2p_comm == "pairs":
        return replace(bw, p2p_pairs=True)
    if call.comm_size:
        return replace(bw, comm_size=call.comm_size)
    return bw


def check_events(events: Sequence[TraceEvent], communicators: Communicators) -> None:
    """Check every event before any is simulated.

    Both engines call this first, so a trace that will fail does so before any work, naming the
    event: times and sizes must be finite and within :mod:`interconnect_sim.limits` (events built
    in code skip :func:`~interconnect_sim.workload.trace.read_trace`; their count is not bounded
    here, since a training step's own trace runs to 100,000s of events), ranks and copies must
    exist on the fabric and form an analysable communicator, ids and dependencies must be
    consistent (no cycle, which would otherwise never finish).

    Raises
    ------
    TraceError
        Naming the event's line and id.
    """
    if not events:
        raise TraceError("the trace has no calls")
    for event in events:
        where = event.where()
        times = [("start_s", event.start_s or 0.0)]
        if isinstance(event, TraceCompute):
            times.append(("duration_s", event.duration_s))
        else:
            times.append(("compute_s", event.compute_s))
            check_message_size(event.size_bytes, f"{where}: bytes {event.size_bytes:g}", TraceError)
        for what, seconds in times:
            check_time(seconds, f"{where}: {what}", TraceError)
        communicators.check_copies(event)
        if isinstance(event, TraceCall):
            communicators.bandwidths(event)
    dependency_order(events)
