"""What both engines share when replaying a trace: communicators and call timing rules."""

from __future__ import annotations

from dataclasses import replace

from interconnect_sim.collectives.bandwidth import CommunicatorBandwidths, analyse_communicator
from interconnect_sim.errors import TraceError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.workload.trace import TraceCall, resolve_ranks

__all__ = ["Communicators", "group_label"]


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
            raise TraceError(
                f"trace line {call.line} (id {call.id!r}): a collective needs at least 2 ranks"
            )
        if ranks not in self._cache:
            try:
                self._cache[ranks] = analyse_communicator(
                    self.fabric, self.catalog, gpus=[self.gpus[r] for r in ranks]
                )
            except Exception as exc:
                raise TraceError(f"trace line {call.line} (id {call.id!r}): {exc}") from None
        bw = self._cache[ranks]
        return replace(bw, p2p_pairs=True) if call.p2p_comm == "pairs" else bw
