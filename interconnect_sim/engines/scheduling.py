"""What both engines share when replaying a trace: communicators and call timing rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from interconnect_sim.collectives.bandwidth import CommunicatorBandwidths, analyse_communicator
from interconnect_sim.errors import TraceError
from interconnect_sim.limits import check_message_size, check_time, check_trace_length
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.workload.trace import TraceCall, dependency_order, resolve_ranks

__all__ = ["Communicators", "group_label", "prepare_calls"]


def group_label(call: TraceCall, ranks: tuple[int, ...]) -> str:
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

    def ranks(self, call: TraceCall) -> tuple[int, ...]:
        """The call's ranks on this fabric."""
        return resolve_ranks(call, len(self.gpus), self.gpus_per_node)

    def bandwidths(self, call: TraceCall) -> CommunicatorBandwidths:
        """Graph analysis of the call's communicator (cached by rank set)."""
        ranks = tuple(sorted(self.ranks(call)))
        if len(ranks) < 2:
            raise TraceError(f"{call.where()}: a collective needs at least 2 ranks")
        if ranks not in self._cache:
            try:
                self._cache[ranks] = analyse_communicator(
                    self.fabric, self.catalog, gpus=[self.gpus[r] for r in ranks]
                )
            except Exception as exc:
                raise TraceError(f"{call.where()}: {exc}") from None
        bw = self._cache[ranks]
        return replace(bw, p2p_pairs=True) if call.p2p_comm == "pairs" else bw


def prepare_calls(calls: Sequence[TraceCall], communicators: Communicators) -> list[TraceCall]:
    """Check every call before any is simulated; return them in dependency order.

    Both engines call this first, so a trace that will fail does so before any work, naming the
    call: times and sizes must be finite and within :mod:`interconnect_sim.limits` (calls built
    in code skip :func:`~interconnect_sim.workload.trace.read_trace`), ranks must exist on the
    fabric and form an analysable communicator, ids and dependencies must be consistent.

    Raises
    ------
    TraceError
        Naming the call's file, line and id.
    """
    if not calls:
        raise TraceError("the trace has no calls")
    check_trace_length(len(calls), "the trace", TraceError)
    for call in calls:
        for what, seconds in (("start_s", call.start_s or 0.0), ("compute_s", call.compute_s)):
            check_time(seconds, f"{call.where()}: {what}", TraceError)
        check_message_size(
            call.size_bytes, f"{call.where()}: bytes {call.size_bytes:g}", TraceError
        )
        communicators.bandwidths(call)
    return dependency_order(calls)
