"""Cost of each NCCL algorithm and protocol: a latency and an algorithm bandwidth.

Every (algorithm, protocol) pair reduces to ``time(S) = latency_s + S / algbw_bytes_per_s`` for
a message of ``S`` bytes (nccl-tests' size convention), NCCL's own form
(``ncclTopoGetAlgoTime``). The latencies follow NCCL's tuning model (base latency plus per-step
hardware latency per class, ``docs/design/analytic-model.md``); the bandwidths come from the graph
(:mod:`interconnect_sim.collectives.bandwidth`) times fitted efficiencies. Nothing here knows a
system by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.bandwidth import CommunicatorBandwidths
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.collectives.p2p_channels import net_channels_per_peer, p2p_network_rate
from interconnect_sim.errors import ScenarioError
from interconnect_sim.units import format_rate

__all__ = ["AlgorithmCost", "applicable", "cost"]

P2P_LL_THRESHOLD_BYTES = 16384
"""NCCL_P2P_LL_THRESHOLD default: point-to-point messages up to this size use LL."""


@dataclass(frozen=True, slots=True)
class AlgorithmCost:
    """``time = latency_s + size / algbw_bytes_per_s`` and what limits the bandwidth."""

    algorithm: str
    protocol: str
    latency_s: float
    algbw_bytes_per_s: float
    bottleneck: str


def _tree_factor(node_count: int) -> float:
    """Inter-node share of a double binary tree relative to the node's NICs (SimAI's k(m)/2)."""
    return {2: 1.0, 3: 2.0 / 3.0}.get(node_count, 0.5)


def _ll_cap(bw: CommunicatorBandwidths, cal: Calibration) -> float:
    caps = cal.ll_max_bytes_per_s[cal.arch_class(bw.architecture)]
    return caps[0] if bw.node_count == 1 else caps[1] if bw.node_count == 2 else caps[2]


class _Terms:
    """Bandwidths after efficiencies, and latency helpers, for one communicator."""

    def __init__(self, bw: CommunicatorBandwidths, cal: Calibration) -> None:
        self.bw, self.cal = bw, cal
        self.n, self.m, self.g = bw.rank_count, bw.node_count, bw.gpus_per_node
        self.e_intra = cal.intra_efficiency[bw.intra_tier]
        self.intra = bw.ring_intra_bytes_per_s * self.e_intra
        self.e_net = cal.network_efficiency.get(bw.transport, 0.0)
        self.net = bw.network_per_node_bytes_per_s * self.e_net
        self.klass = "nvlink" if bw.intra_tier == "nvlink" else "pcie"
        self.intra_text = f"{bw.intra_tier}: {bw.intra_bottleneck}"
        self.net_text = (
            f"network: {bw.rail_count} rail(s) x "
            f"{format_rate(bw.network_per_node_bytes_per_s / max(1, bw.rail_count))} per node "
            f"({bw.transport}); {bw.network_bottleneck}"
        )

    def hw(self, klass: str, algo: str, proto: str) -> float:
        return self.cal.hw_latency_s[(klass, algo, proto)]

    def intra_step(self, algo: str, proto: str) -> float:
        """One intra-node step: NCCL's hardware latency plus the fitted extra for this tier."""
        return self.hw(self.klass, algo, proto) + self.cal.intra_latency_s.get(
            self.bw.intra_tier, 0.0
        )

    def inter_step(self, algo: str, proto: str) -> float:
        flush = 2.0 if proto == "simple" else 1.0
        return self.hw("net", algo, proto) + flush * self.cal.network_latency_s.get(
            self.bw.transport, 0.0
        )

    def joint(
        self,
        pattern: str,
        k_intra: float,
        k_net: float,
        intra: float,
        net: float,
        net_text: str | None = None,
    ) -> tuple[float, str]:
        """Rate of a pattern whose intra part alone allows ``intra`` and network part ``net``;
        links both parts cross (PCIe uplinks in PCIe boxes) are shared. ``net_text`` names the
        network limit when it is not the rail ring's."""
        net_text = net_text or self.net_text
        if self.m == 1:
            return intra, self.intra_text
        if self.g == 1:
            return net, net_text
        rate = self.bw.joint_rate(pattern, k_intra, k_net)
        if rate < min(intra, net) * (1 - 1e-9):
            return rate, "shared PCIe: intra-node traffic and NIC traffic cross the same links"
        return (net, net_text) if net <= intra else (intra, self.intra_text)

    def ring_busbw(self, *, chain: bool = False) -> tuple[float, str]:
        intra = self.bw.chain_intra_bytes_per_s * self.e_intra if chain else self.intra
        return self.joint("chain" if chain else "ring", self.e_intra, self.e_net, intra, self.net)

    def protocol(self, busbw: float, proto: str) -> float:
        if proto == "ll128":
            return busbw * self.cal.ll128_bandwidth_factor
        if proto == "ll":
            return min(busbw * self.cal.ll_bandwidth_factor, _ll_cap(self.bw, self.cal))
        return busbw

    def tree_efficiency(self) -> float:
        return self.cal.tree_efficiency.get(self.cal.arch_class(self.bw.architecture), 1.0)

    def nvls_bandwidth(self) -> float:
        arch = self.cal.arch_class(self.bw.architecture)
        return (
            self.bw.nvlink_per_gpu_bytes_per_s
            * self.cal.intra_efficiency["nvlink"]
            * self.cal.nvls_efficiency.get(arch, 0.0)
            * self.cal.nvls_fit_efficiency
        )


def _ring(op: CollectiveOp, t: _Terms, proto: str) -> AlgorithmCost:
    chain = op in (CollectiveOp.BROADCAST, CollectiveOp.REDUCE)
    busbw, text = t.ring_busbw(chain=chain)
    busbw = t.protocol(busbw, proto)
    n, m = t.n, t.m
    base = t.cal.base_latency_s[("ring", proto)]
    intra_step = t.intra_step("ring", proto)
    if op is CollectiveOp.ALL_REDUCE:
        steps, inter, volume = 2 * (n - 1), 2 * (m - 1), 2 * (n - 1) / n
    elif op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER):
        steps, inter, volume = n - 1, m - 1, (n - 1) / n
    else:  # broadcast, reduce: one pipelined pass
        steps, inter, volume = 1, 1 if m > 1 else 0, 1.0
        intra_step = t.intra_step("tree", proto) if proto == "simple" else intra_step
    latency = base + (steps - inter) * intra_step + inter * t.inter_step("ring", proto)
    return AlgorithmCost("ring", proto, latency, busbw / volume, text)


def _tree(t: _Terms, proto: str) -> AlgorithmCost:
    # NCCL: tree busBw = 0.92 x the intra-node graph bandwidth, algBw = busBw / 2.
    k_intra = 0.5 * t.cal.ll128_bandwidth_factor * t.e_intra
    k_net = _tree_factor(t.m) * t.e_net * t.tree_efficiency()
    chain = k_intra * t.bw.ring_intra_bytes_per_s if t.g > 1 else math.inf
    inter = k_net * t.bw.network_per_node_bytes_per_s if t.m > 1 else math.inf
    algbw, text = t.joint("ring", k_intra, k_net, chain, inter)
    if proto == "ll128":
        algbw *= 7.0 / 9.0 if t.m == 1 else 120.0 / 128.0
    elif proto == "ll":
        algbw = min(algbw * 2.0 / 3.8, _ll_cap(t.bw, t.cal) / 2.0)
    latency = t.cal.base_latency_s[("tree", proto)] + 2.0 * (
        (t.g - 1) * t.intra_step("tree", proto) + math.log2(t.m) * t.inter_step("tree", proto)
    )
    return AlgorithmCost("tree", proto, latency, algbw, text)


def _nvls(op: CollectiveOp, t: _Terms) -> AlgorithmCost:
    rate = t.nvls_bandwidth()
    algbw = rate if op is CollectiveOp.ALL_REDUCE else rate * t.n / (t.n - 1)
    latency = t.hw("nvlink", "nvls", "simple")
    text = f"nvswitch multicast: {format_rate(t.bw.nvlink_per_gpu_bytes_per_s)} NVLink per GPU"
    return AlgorithmCost("nvls", "simple", latency, algbw, text)


def _nvlstree(t: _Terms) -> AlgorithmCost:
    intra = t.nvls_bandwidth()
    inter = _tree_factor(t.m) * t.net * t.tree_efficiency()
    algbw, text = (
        (intra, "nvswitch multicast inside nodes") if intra <= inter else (inter, t.net_text)
    )
    latency = t.hw("nvlink", "nvlstree", "simple") + 2.0 * math.log2(t.m) * t.inter_step(
        "nvlstree", "simple"
    )
    return AlgorithmCost("nvlstree", "simple", latency, algbw, text)


def _collnet(t: _Terms) -> AlgorithmCost:
    k_intra = 0.5 * t.cal.ll128_bandwidth_factor * t.e_intra
    chain = k_intra * t.bw.ring_intra_bytes_per_s if t.g > 1 else math.inf
    algbw, text = t.joint("ring", k_intra, t.e_net, chain, t.net)
    if text == t.net_text:
        text += ", in-network reduction"
    latency = (
        t.cal.base_latency_s[("collnet", "simple")]
        + 2.0 * min(1, t.g - 1) * t.intra_step("collnet", "simple")
        + t.inter_step("collnet", "simple")
    )
    return AlgorithmCost("collnet", "simple", latency, algbw, text)


def _pat(t: _Terms) -> AlgorithmCost:
    ring = _ring(CollectiveOp.ALL_GATHER, t, "simple")
    latency = (
        t.cal.base_latency_s[("pat", "simple")]
        + math.log2(t.m) * t.inter_step("pat", "simple") / 3.5
        + 2.8e-6 * t.n
    )
    return AlgorithmCost("pat", "simple", latency, 0.75 * ring.algbw_bytes_per_s, ring.bottleneck)


def _p2p(op: CollectiveOp, t: _Terms, proto: str) -> AlgorithmCost:
    n, g, m = t.n, t.g, t.m
    bw = t.bw
    latency = t.cal.base_latency_s[("ring", proto)] + t.intra_step("ring", proto)
    if m > 1:
        latency += t.inter_step("ring", proto)
    if op is CollectiveOp.ALLTOALL:
        # Per byte of the call, (g-1)/n goes to local peers and (n-g)/n over the network.
        k_intra = t.e_intra * n / (g - 1) if g > 1 else 0.0
        k_net = t.e_net * n / (n - g) if m > 1 else 0.0
        intra = k_intra * bw.alltoall_intra_bytes_per_s if g > 1 else math.inf
        net = k_net * bw.alltoall_network_per_gpu() if m > 1 else math.inf
        net_text = (
            f"network all-to-all ({bw.transport}): {bw.alltoall_network_bottleneck()}"
            if m > 1
            else None
        )
        algbw, text = t.joint("alltoall", k_intra, k_net, intra, net, net_text)
    else:  # sendrecv: rank i sends to rank i+1, all at once
        intra = bw.shift_intra_bytes_per_s * t.e_intra if g > 1 else math.inf
        net = bw.network_per_gpu_bytes_per_s * t.e_net if m > 1 else math.inf
        algbw, text = t.joint("shift", t.e_intra, t.e_net, intra, net)
        if m > 1:
            algbw, text = _p2p_channel_limit(t, algbw, text)
    if proto == "ll":
        algbw = min(algbw * t.cal.ll_bandwidth_factor, _ll_cap(bw, t.cal))
    return AlgorithmCost("p2p", proto, latency, algbw, text)


def _p2p_channel_limit(t: _Terms, algbw: float, text: str) -> tuple[float, str]:
    """A send to another node runs on NCCL's per-peer channels, about 14 GB/s each."""
    limit = p2p_network_rate(t.bw, t.cal) * t.e_net
    if limit >= algbw:
        return algbw, text
    ranks = 2 if t.bw.p2p_pairs else max(t.n, t.bw.comm_size)
    return limit, (
        f"p2p channels: {net_channels_per_peer(t.bw, t.cal)} per network peer x "
        f"{format_rate(t.cal.channels.per_channel_net_bytes_per_s)} "
        f"(NCCL fits {ranks} ranks into one round of its channels)"
    )


def applicable(
    op: CollectiveOp, bw: CommunicatorBandwidths, *, auto: bool
) -> list[tuple[str, str]]:
    """(algorithm, protocol) pairs NCCL would consider for ``op`` on this communicator.

    With ``auto`` the set is NCCL's default (CollNet off unless enabled); otherwise every pair the
    hardware supports, for forcing with ``--algo``/``--proto``.
    """
    protos = ("ll", "ll128", "simple")
    m, g = bw.node_count, bw.gpus_per_node
    if op in (CollectiveOp.ALLTOALL, CollectiveOp.SENDRECV):
        return [("p2p", "ll"), ("p2p", "simple")]
    pairs = [("ring", p) for p in protos]
    if op is CollectiveOp.ALL_REDUCE:
        if m > 1 or not auto:  # inside one node NCCL's tree is a chain that never beats the ring
            pairs += [("tree", p) for p in protos]
        if bw.nvls and m == 1:
            pairs.append(("nvls", "simple"))
        if bw.nvls and m > 1:
            pairs.append(("nvlstree", "simple"))
        if bw.collnet and not auto:
            pairs.append(("collnet", "simple"))
    elif op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER):
        if bw.nvls and m == 1:
            pairs.append(("nvls", "simple"))
        if g == 1 and m > 1:
            pairs.append(("pat", "simple"))
    return pairs


def cost(
    op: CollectiveOp, bw: CommunicatorBandwidths, cal: Calibration, algorithm: str, protocol: str
) -> AlgorithmCost:
    """Latency and algorithm bandwidth of one (algorithm, protocol) for ``op``.

    Raises
    ------
    ScenarioError
        If the pair does not apply (e.g. NVLS without NVSwitch multicast, PAT with more than one
        GPU per node), naming what is allowed.
    """
    if bw.rank_count < 2:
        raise ScenarioError("a collective needs at least 2 ranks")
    allowed = applicable(op, bw, auto=False)
    if (algorithm, protocol) not in allowed:
        options = ", ".join(f"{a}/{p}" for a, p in allowed)
        raise ScenarioError(
            f"{algorithm}/{protocol} does not apply to {op.value} on this communicator "
            f"({bw.node_count} node(s) x {bw.gpus_per_node} GPU(s)); options: {options}"
        )
    terms = _Terms(bw, cal)
    if algorithm == "p2p":
        return _p2p(op, terms, protocol)
    if algorithm == "ring":
        return _ring(op, terms, protocol)
    if algorithm == "tree":
        return _tree(terms, protocol)
    if algorithm == "nvls":
        return _nvls(op, terms)
    if algorithm == "nvlstree":
        return _nvlstree(terms)
    if algorithm == "collnet":
        return _collnet(terms)
    return _pat(terms)
