"""A collective as concurrent flows over the fabric, for engines that share links between calls.

Each (algorithm, protocol) of :mod:`~interconnect_sim.collectives.algorithms` becomes a few
*flow specs*: which links a pattern crosses per byte of progress (its incidence) and how many
bytes of progress finish it. A pipelined ring channel moves at its slowest hop, so a whole ring
(every hop, every node, every rail) is one flow whose incidence counts its crossings of each link;
an all-to-all is one flow over its local pairs and its node-to-node network pattern.

Incidences are divided by the fitted efficiency of the part they describe (efficiency as protocol
overhead), so on an idle fabric a flow's bottleneck rate equals the analytic engine's bandwidth
for the same (algorithm, protocol), and the two engines agree by construction; under contention
the flows share raw link capacity by max-min fairness. Latency comes from the same cost function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.algorithms import cost, tree_factor
from interconnect_sim.collectives.communicator import (
    CommunicatorBandwidths,
    CommunicatorPlan,
    NodeGroup,
)
from interconnect_sim.collectives.nccl_channels import data_fraction, nvls_heads
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.collectives.paths import Flow, IndexedFlow, add_flow

__all__ = ["Decomposition", "FlowSpec", "decompose"]


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """One concurrent part of a collective.

    ``templates`` holds one flow per node group of the plan
    (:attr:`~interconnect_sim.collectives.communicator.CommunicatorPlan.groups`), routed on the
    group's template node and repeated on each of its nodes; ``global_parts`` are flows already
    routed over the whole fabric (network rings, all-to-all), each with its scale.
    ``rate_cap_bytes_per_s`` bounds the flow's rate whatever the links allow (NCCL's per-peer
    channels for a send across nodes).
    """

    label: str
    templates: tuple[Flow, ...]
    global_parts: tuple[tuple[IndexedFlow, float], ...]
    volume_bytes: float
    rate_cap_bytes_per_s: float = math.inf

    @property
    def global_flow(self) -> Flow:
        """The global parts, scaled and summed, as a dict."""
        flow: Flow = {}
        for part, scale in self.global_parts:
            add_flow(flow, {e: w * scale for e, w in part.as_flow().items()})
        return flow

    @property
    def template(self) -> Flow:
        """The first (limiting) group's template flow."""
        return self.templates[0] if self.templates else {}


@dataclass(frozen=True, slots=True)
class Decomposition:
    """Latency, then flows that all run at once; the call ends when the last one finishes."""

    algorithm: str
    protocol: str
    latency_s: float
    flows: tuple[FlowSpec, ...]
    plan: CommunicatorPlan


Parts = tuple[tuple[IndexedFlow, float], ...]


def _part(flow: IndexedFlow | None, scale: float) -> Parts:
    return () if flow is None else ((flow, scale),)


def _scaled(flow: Flow, factor: float) -> Flow:
    return {edge: weight * factor for edge, weight in flow.items()}


def _channels(channels: tuple[tuple[float, Flow], ...], efficiency: float) -> Flow:
    """Intra-node rings sharing one rank's traffic in proportion to their rates."""
    total = sum(rate for rate, _ in channels)
    flow: Flow = {}
    for rate, channel in channels:
        add_flow(flow, channel, (rate / total) / efficiency)
    return flow


def _link_factor(
    op: CollectiveOp,
    bw: CommunicatorBandwidths,
    cal: Calibration,
    algorithm: str,
    protocol: str,
) -> float:
    """What the links allow with ``protocol`` relative to Simple for the same algorithm.

    Taken from the shared cost function, so both engines apply the same LL/LL128 overheads.
    NCCL's caps (per-channel kernel limits, LL's bandwidth cap, p2p channels) are rate caps on
    the flow instead: they do not load the links.
    """
    if protocol == "simple":
        return 1.0
    simple = cost(op, bw, cal, algorithm, "simple").link_algbw_bytes_per_s
    return cost(op, bw, cal, algorithm, protocol).link_algbw_bytes_per_s / simple


def decompose(
    op: CollectiveOp,
    bw: CommunicatorBandwidths,
    cal: Calibration,
    algorithm: str,
    protocol: str,
    size_bytes: float,
) -> Decomposition:
    """Flows and latency of ``op`` with one (algorithm, protocol) at one size.

    The analytic cost is evaluated first: its latency at this size is used as is, the flows are
    scaled so their idle-fabric link rate reproduces its link bandwidth, and the flow carries a
    rate cap at its bandwidth at this size (NCCL's per-channel limits and corrections).
    """
    analytic = cost(op, bw, cal, algorithm, protocol)
    cal = cal.resolved(bw.system, bw.nic_spec)
    plan = bw.plan
    n, m, g = bw.rank_count, bw.node_count, bw.gpus_per_node
    e_intra = cal.intra_efficiency[bw.intra_tier] * data_fraction(bw, cal)
    # sendrecv and all-to-all follow their own routes' tier, not the rings' (bandwidth.py)
    e_shift = cal.p2p_efficiency[bw.shift_intra_tier or bw.intra_tier] * data_fraction(bw, cal)
    e_a2a = cal.p2p_efficiency[bw.alltoall_intra_tier or bw.intra_tier] * data_fraction(bw, cal)
    e_net = cal.network_efficiency.get(bw.transport, 1.0)
    rails = max(1, bw.rail_count)
    p = _link_factor(op, bw, cal, algorithm, protocol)
    algbw = float(analytic.algbw_at([size_bytes])[0])
    latency = float(analytic.times_s([size_bytes])[0]) - size_bytes / algbw

    def network(per_unit: float) -> Parts:
        return _part(plan.network, 1.0 / (rails * per_unit))

    def spec(
        label: str, template: Callable[[NodeGroup], Flow], global_parts: Parts, volume: float
    ) -> FlowSpec:
        templates = tuple(template(group) for group in plan.groups)
        return FlowSpec(label, templates, global_parts, volume, algbw * volume / size_bytes)

    def nothing(_: NodeGroup) -> Flow:
        return {}

    if algorithm in ("ring", "pat"):
        chain = op in (CollectiveOp.BROADCAST, CollectiveOp.REDUCE)
        volume = {
            CollectiveOp.ALL_REDUCE: 2 * (n - 1) / n,
            CollectiveOp.ALL_GATHER: (n - 1) / n,
            CollectiveOp.REDUCE_SCATTER: (n - 1) / n,
        }.get(op, 1.0)
        factor = p * (0.75 if algorithm == "pat" else 1.0)

        def rings(group: NodeGroup) -> Flow:
            channels = group.chain_channels if chain else group.ring_channels
            return _channels(channels, e_intra * factor) if g > 1 and channels else {}

        global_parts = network(e_net * factor) if m > 1 else ()
        flow = spec("ring", rings, global_parts, volume * size_bytes)
    elif algorithm == "tree" or (algorithm == "collnet" and op is CollectiveOp.ALL_REDUCE):
        intra_factor = 0.5 * cal.tuning.tree_bandwidth_factor * e_intra * p

        def tree(group: NodeGroup) -> Flow:
            return _channels(group.ring_channels, intra_factor) if g > 1 else {}

        inter = e_net * p * (tree_factor(m) if algorithm == "tree" else 1.0)
        flow = spec(algorithm, tree, network(inter) if m > 1 else (), size_bytes)
    elif algorithm == "collnet":  # all-gather / reduce-scatter: every GPU through its NIC
        flow = spec(algorithm, nothing, network(0.9 * e_net) if m > 1 else (), size_bytes)
    elif algorithm in ("nvls", "nvlstree"):
        nvls_rate = _nvls_algbw_per_injection(op, bw, cal)

        def injection(group: NodeGroup) -> Flow:
            return _scaled(group.injection_flow, 1.0 / nvls_rate)

        volume = size_bytes if op is CollectiveOp.ALL_REDUCE else size_bytes * (n - 1) / n
        global_parts = network(tree_factor(m) * e_net) if m > 1 else ()
        flow = spec(algorithm, injection, global_parts, volume)
    elif op is CollectiveOp.ALLTOALL:
        # One combined flow per byte of the call: (g-1)/n to local peers, (n-g)/n over the
        # network (a GPU's rate r puts g/rails x r on each NIC).
        peers = plan.alltoall_gpu_count - 1

        def pairs(group: NodeGroup) -> Flow:
            if g == 1:
                return {}
            return _scaled(group.alltoall_flow, (g - 1) / n / (peers * e_a2a * p))

        spread = (n - g) / n * g / (rails * e_net * p)
        global_parts = _part(plan.alltoall_indexed(), spread) if m > 1 else ()
        flow = spec("alltoall", pairs, global_parts, size_bytes)
    else:  # sendrecv: the intra-node shift and the one hop per node boundary, in lock-step

        def shift(group: NodeGroup) -> Flow:
            return _scaled(group.shift_flow, 1.0 / (e_shift * p)) if g > 1 else {}

        global_parts = _part(plan.network, g / (rails * e_net * p)) if m > 1 else ()
        flow = spec("sendrecv", shift, global_parts, size_bytes)
    return Decomposition(algorithm, protocol, latency, (flow,), plan)


def _nvls_algbw_per_injection(
    op: CollectiveOp, bw: CommunicatorBandwidths, cal: Calibration
) -> float:
    """NVLS progress (bytes of the volume per s) per byte/s of NVLink injection per GPU."""
    h = nvls_heads(bw, cal)
    eff = cal.nvls_efficiency.get(cal.arch_class(bw.architecture), 0.0)
    g = bw.gpus_per_node
    busbw_per_injection = (
        2.0 * eff * (h - 1) / (h + 1) * cal.intra_efficiency["nvlink"] * data_fraction(bw, cal)
    )
    # the flow's volume is the size (all-reduce) or (n-1)/n of it (all-gather, reduce-scatter)
    if op is CollectiveOp.ALL_REDUCE:
        return busbw_per_injection * g / (2 * (g - 1))
    n = bw.rank_count
    return busbw_per_injection / 2.0 * (g - 1) / g * (n - 1) / n
