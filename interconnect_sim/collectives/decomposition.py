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
from dataclasses import dataclass

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.algorithms import _tree_factor, cost
from interconnect_sim.collectives.bandwidth import CommunicatorBandwidths, CommunicatorPlan
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.collectives.p2p_channels import p2p_network_rate
from interconnect_sim.collectives.paths import Flow, add_flow

__all__ = ["Decomposition", "FlowSpec", "decompose"]


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """One concurrent part of a collective.

    ``template`` flows are routed on the communicator's first node and repeat on every node;
    ``global_flow`` is already routed over the whole fabric (network rings, all-to-all).
    ``rate_cap_bytes_per_s`` bounds the flow's rate whatever the links allow (NCCL's per-peer
    channels for a send across nodes).
    """

    label: str
    template: Flow
    global_flow: Flow
    volume_bytes: float
    rate_cap_bytes_per_s: float = math.inf


@dataclass(frozen=True, slots=True)
class Decomposition:
    """Latency, then flows that all run at once; the call ends when the last one finishes."""

    algorithm: str
    protocol: str
    latency_s: float
    flows: tuple[FlowSpec, ...]
    plan: CommunicatorPlan


def _scaled(flow: Flow, factor: float) -> Flow:
    return {edge: weight * factor for edge, weight in flow.items()}


def _channels(channels: tuple[tuple[float, Flow], ...], efficiency: float) -> Flow:
    """Intra-node rings sharing one rank's traffic in proportion to their rates."""
    total = sum(rate for rate, _ in channels)
    flow: Flow = {}
    for rate, channel in channels:
        add_flow(flow, channel, (rate / total) / efficiency)
    return flow


def _protocol_factor(
    op: CollectiveOp,
    bw: CommunicatorBandwidths,
    cal: Calibration,
    algorithm: str,
    protocol: str,
) -> float:
    """Bandwidth of ``protocol`` relative to Simple for the same algorithm, caps included.

    Taken from the shared cost function, so both engines apply the same LL/LL128 factors and
    NCCL's LL bandwidth caps.
    """
    if protocol == "simple":
        return 1.0
    simple = cost(op, bw, cal, algorithm, "simple").algbw_bytes_per_s
    return cost(op, bw, cal, algorithm, protocol).algbw_bytes_per_s / simple


def decompose(
    op: CollectiveOp,
    bw: CommunicatorBandwidths,
    cal: Calibration,
    algorithm: str,
    protocol: str,
    size_bytes: float,
) -> Decomposition:
    """Flows and latency of ``op`` with one (algorithm, protocol) at one size.

    The analytic cost is evaluated first: its latency is used as is, and the flows are scaled
    so their idle-fabric rate reproduces its bandwidth (including protocol caps such as LL's).
    """
    analytic = cost(op, bw, cal, algorithm, protocol)
    plan = bw.plan
    n, m, g = bw.rank_count, bw.node_count, bw.gpus_per_node
    e_intra = cal.intra_efficiency[bw.intra_tier]
    e_net = cal.network_efficiency.get(bw.transport, 1.0)
    tree_eff = cal.tree_efficiency.get(cal.arch_class(bw.architecture), 1.0)
    rails = max(1, bw.rail_count)
    p = _protocol_factor(op, bw, cal, algorithm, protocol)
    flows: list[FlowSpec] = []

    def network(per_unit: float) -> Flow:
        return _scaled(plan.network_flow, 1.0 / (rails * per_unit))

    if algorithm in ("ring", "pat"):
        chain = op in (CollectiveOp.BROADCAST, CollectiveOp.REDUCE)
        volume = {
            CollectiveOp.ALL_REDUCE: 2 * (n - 1) / n,
            CollectiveOp.ALL_GATHER: (n - 1) / n,
            CollectiveOp.REDUCE_SCATTER: (n - 1) / n,
        }.get(op, 1.0)
        factor = p * (0.75 if algorithm == "pat" else 1.0)
        channels = plan.chain_channels if chain else plan.ring_channels
        template = _channels(channels, e_intra * factor) if g > 1 and channels else {}
        global_flow = network(e_net * factor) if m > 1 else {}
        flows.append(FlowSpec("ring", template, global_flow, volume * size_bytes))
    elif algorithm in ("tree", "collnet"):
        intra_factor = 0.5 * cal.ll128_bandwidth_factor * e_intra * p
        template = _channels(plan.ring_channels, intra_factor) if g > 1 else {}
        inter = e_net * p * (_tree_factor(m) * tree_eff if algorithm == "tree" else 1.0)
        flows.append(FlowSpec(algorithm, template, network(inter) if m > 1 else {}, size_bytes))
    elif algorithm in ("nvls", "nvlstree"):
        arch = cal.arch_class(bw.architecture)
        e_nvls = (
            cal.intra_efficiency["nvlink"]
            * cal.nvls_efficiency.get(arch, 0.0)
            * (cal.nvls_fit_efficiency)
        )
        template = _scaled(plan.injection_flow, 1.0 / e_nvls)
        volume = size_bytes if op is CollectiveOp.ALL_REDUCE else size_bytes * (n - 1) / n
        global_flow = network(_tree_factor(m) * e_net * tree_eff) if m > 1 else {}
        flows.append(FlowSpec(algorithm, template, global_flow, volume))
    elif op is CollectiveOp.ALLTOALL:
        # One combined flow per byte of the call: (g-1)/n to local peers, (n-g)/n over the
        # network (a GPU's rate r puts g/rails x r on each NIC).
        template, global_flow = {}, {}
        if g > 1:
            peers = plan.alltoall_gpu_count - 1
            e_a2a = cal.intra_efficiency[bw.alltoall_intra_tier]
            template = _scaled(plan.alltoall_flow, (g - 1) / n / (peers * e_a2a * p))
        if m > 1:
            global_flow = _scaled(plan.alltoall_network(), (n - g) / n * g / (rails * e_net * p))
        flows.append(FlowSpec("alltoall", template, global_flow, size_bytes))
    else:  # sendrecv: the intra-node shift and the one hop per node boundary, in lock-step
        e_shift = cal.intra_efficiency[bw.shift_intra_tier]
        template = _scaled(plan.shift_flow, 1.0 / (e_shift * p)) if g > 1 else {}
        global_flow = _scaled(plan.network_flow, g / (rails * e_net * p)) if m > 1 else {}
        # NCCL's per-peer channels cap a send to another node below the NIC on big communicators
        cap = p2p_network_rate(bw, cal) * e_net * p if m > 1 else math.inf
        flows.append(FlowSpec("sendrecv", template, global_flow, size_bytes, cap))
    return Decomposition(algorithm, protocol, analytic.latency_s, tuple(flows), plan)
