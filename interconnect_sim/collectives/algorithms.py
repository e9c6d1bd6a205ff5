"""Cost of each NCCL algorithm and protocol: a latency and an algorithm bandwidth.

Every (algorithm, protocol) pair reduces to ``time(S) = latency_s + S / algbw_bytes_per_s`` for
a message of ``S`` bytes (nccl-tests' size convention), NCCL's own form
(``ncclTopoGetAlgoTime``), with two of NCCL's size-dependent refinements: Tree's mid-size
bandwidth correction and the multi-node ring's latency "plateau". The latencies follow NCCL's
tuning model (base latency plus per-step hardware latency per class); the bandwidths come from
the graph (:mod:`interconnect_sim.collectives.bandwidth`) at NCCL's link data rates times fitted
efficiencies, limited by what NCCL's kernels reach per channel
(:mod:`interconnect_sim.collectives.nccl_channels`). Nothing here knows a system by name.
"""

from __future__ import annotations

import math

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.cost import AlgorithmCost
from interconnect_sim.collectives.host_staging import host_phase_factor
from interconnect_sim.collectives.nccl_channels import (
    data_fraction,
    nvls_heads,
    nvls_rounds,
    per_channel_cap,
    ring_graph,
)
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.collectives.p2p_channels import net_channels_per_peer, p2p_network_rate
from interconnect_sim.errors import ScenarioError
from interconnect_sim.units import format_rate

__all__ = ["AlgorithmCost", "applicable", "cost", "tree_factor"]

P2P_LL_THRESHOLD_BYTES = 16384
"""NCCL_P2P_LL_THRESHOLD default: point-to-point messages up to this size use LL."""

NVLS_FILL_STAGES = 3
"""Rounds an NVLS pipeline needs to fill: a chunk is copied into the multicast buffer, reduced
(``multimem.ld_reduce``), broadcast (``multimem.st``) and copied out, four stages, as NCCL's
NVLS kernels do for buffers that are not registered (nccl-tests' case). Across nodes the tree
adds two stages (up, down) per level beyond the first."""


def tree_factor(node_count: int) -> float:
    """Inter-node share of a double binary tree relative to the node's NICs (SimAI's k(m)/2)."""
    return {2: 1.0, 3: 2.0 / 3.0}.get(node_count, 0.5)


def _index(node_count: int) -> int:
    return 0 if node_count == 1 else 1 if node_count == 2 else 2


class _Terms:
    """Bandwidths after efficiencies, channel counts and latency helpers for one communicator."""

    def __init__(self, bw: CommunicatorBandwidths, cal: Calibration) -> None:
        cal = cal.resolved(bw.system, bw.nic_spec)
        self.bw, self.cal = bw, cal
        self.n, self.m, self.g = bw.rank_count, bw.node_count, bw.gpus_per_node
        self.klass_arch = cal.arch_class(bw.architecture)
        self.e_intra = cal.intra_efficiency[bw.intra_tier] * data_fraction(bw, cal)
        self.e_p2p = cal.p2p_efficiency[bw.intra_tier] * data_fraction(bw, cal)
        # sendrecv and all-to-all follow their own routes' tier, not the rings' (bandwidth.py)
        self.e_shift = cal.p2p_efficiency[bw.shift_intra_tier or bw.intra_tier] * data_fraction(
            bw, cal
        )
        self.e_alltoall = cal.p2p_efficiency[
            bw.alltoall_intra_tier or bw.intra_tier
        ] * data_fraction(bw, cal)
        self.intra = bw.ring_intra_bytes_per_s * self.e_intra
        self.e_net = cal.network_efficiency.get(bw.transport, 0.0)
        self.net = bw.network_per_node_bytes_per_s * self.e_net
        self.klass = "nvlink" if bw.intra_tier == "nvlink" else "pcie"
        self.graph = ring_graph(bw, cal)
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
        """One inter-node step: NCCL's network latency (Tree's with one GPU per node, where
        nothing hides it) plus the transport's latency, twice with Simple (flush)."""
        table_algo = "tree" if self.g == 1 else algo
        flush = 2.0 if proto == "simple" else 1.0
        return self.hw("net", table_algo, proto) + flush * self.cal.network_latency_s.get(
            self.bw.transport, 0.0
        )

    def net_overhead(self, proto: str) -> float:
        """Least cost of a multi-node ring step: posting to the network (x3 with Simple)."""
        tuning = self.cal.tuning
        overhead = tuning.net_overhead_s.get(self.bw.cpu_vendor, tuning.net_overhead_s["other"])
        return overhead * (tuning.simple_net_overhead_factor if proto == "simple" else 1.0)

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

    def ring_busbw(self, op: CollectiveOp) -> tuple[float, str]:
        chain = op in (CollectiveOp.BROADCAST, CollectiveOp.REDUCE)
        intra = self.bw.chain_intra_bytes_per_s * self.e_intra if chain else self.intra
        phase = 1.0
        if self.bw.intra_tier == "host" and self.g > 1:
            # ranks alternate between send-only and receive-only steps through host memory
            phase = host_phase_factor(op, self.n)
        rate, text = self.joint(
            "chain" if chain else "ring", self.e_intra * phase, self.e_net, intra * phase, self.net
        )
        if phase < 1.0 and text == self.intra_text:
            text += (
                f"; through host memory each rank's first send and last receive run alone "
                f"(x{phase:.2f})"
            )
        return rate, text

    def ll_cap(self) -> float:
        caps = self.cal.ll_max_bytes_per_s[self.klass_arch]
        return caps[_index(self.m)]

    def nvls_busbw(self) -> float:
        """NVLS all-reduce bus bandwidth inside one node (NCCL's model at the link data rate).

        NCCL's NVLS search gives each of ``h`` heads ``bw`` per GPU link, the head twice, so the
        heads share ``h/(h+1)`` of a GPU's NVLink; its model then takes ``2 x NVLS efficiency x
        (h-1)/h`` of that (``tuning.cc``): ``2 eff (h-1)/(h+1)`` of the link data rate.
        """
        h = nvls_heads(self.bw, self.cal)
        eff = self.cal.nvls_efficiency.get(self.klass_arch, 0.0)
        nvlink = self.bw.nvlink_per_gpu_bytes_per_s * self.cal.intra_efficiency["nvlink"]
        return 2.0 * eff * (h - 1) / (h + 1) * nvlink * data_fraction(self.bw, self.cal)

    def capped(self, rate: float, cap: float, text: str, what: str) -> tuple[float, str]:
        if cap < rate:
            return cap, what
        return rate, text


def _ring(op: CollectiveOp, t: _Terms, proto: str) -> AlgorithmCost:
    busbw, text = t.ring_busbw(op)
    n, m = t.n, t.m
    link = busbw
    if proto == "ll128":
        link = busbw * t.cal.ll128_bandwidth_factor
        cap = per_channel_cap(t.bw, t.cal, "ring_ll128", t.graph.channels)
        busbw, text = t.capped(link, cap, text, _cap_text(t, "ring LL128", cap))
    elif proto == "ll":
        link = busbw * t.cal.ll_bandwidth_factor
        busbw, text = t.capped(link, t.ll_cap(), text, "LL protocol cap (NCCL llMaxBw)")
    base = t.cal.base_latency_s[("ring", proto)]
    intra_step = t.intra_step("ring", proto)
    if m > 1:
        intra_step = max(intra_step, t.net_overhead(proto))
    if op is CollectiveOp.ALL_REDUCE:
        steps, inter, volume = 2 * (n - 1), 2 * (m - 1), 2 * (n - 1) / n
    elif op in (CollectiveOp.ALL_GATHER, CollectiveOp.REDUCE_SCATTER):
        steps, inter, volume = n - 1, m - 1, (n - 1) / n
    else:  # broadcast, reduce: one pipelined pass
        steps, inter, volume = 1, 1 if m > 1 else 0, 1.0
        intra_step = t.intra_step("tree", proto) if proto == "simple" else intra_step
    latency = base + (steps - inter) * intra_step + inter * t.inter_step("ring", proto)
    plateau = 1.0
    plateau_from = math.inf
    if m > 1 and proto == "simple" and op is CollectiveOp.ALL_REDUCE:
        before_ampere = t.klass_arch == "volta"
        tuning = t.cal.tuning
        plateau = (
            tuning.ring_plateau_factor_before_ampere
            if before_ampere
            else tuning.ring_plateau_factor
        )
        channels = t.graph.channels * t.cal.channels.postset_duplication
        plateau_from = 64.0 * channels * n
    return AlgorithmCost(
        "ring",
        proto,
        latency,
        busbw / volume,
        text,
        link_algbw_bytes_per_s=link / volume,
        plateau_factor=plateau,
        plateau_from_bytes=plateau_from,
    )


def _cap_text(t: _Terms, what: str, cap: float) -> str:
    return (
        f"NCCL {what} channels: {t.graph.channels} x "
        f"{format_rate(cap / t.graph.channels)} per channel"
    )


def _tree(t: _Terms, proto: str) -> AlgorithmCost:
    # NCCL: tree busBw = 0.92 x the graph bandwidth, algBw = busBw / 2.
    factor = t.cal.tuning.tree_bandwidth_factor
    k_intra = 0.5 * factor * t.e_intra
    k_net = tree_factor(t.m) * t.e_net
    chain = k_intra * t.bw.ring_intra_bytes_per_s if t.g > 1 else math.inf
    inter = k_net * t.bw.network_per_node_bytes_per_s if t.m > 1 else math.inf
    link, text = t.joint("ring", k_intra, k_net, chain, inter)
    cap = 0.5 * per_channel_cap(t.bw, t.cal, "tree", t.graph.channels)
    algbw, text = t.capped(link, cap, text, _cap_text(t, "Tree", 2 * cap))
    if proto == "ll128":
        ll128 = 7.0 / 9.0 if t.m == 1 else 120.0 / 128.0
        link *= ll128
        cap = 0.5 * per_channel_cap(t.bw, t.cal, "tree_ll128", t.graph.channels)
        algbw, text = t.capped(algbw * ll128, cap, text, _cap_text(t, "Tree LL128", 2 * cap))
    elif proto == "ll":
        link /= 3.8
        algbw, text = t.capped(algbw / 3.8, t.ll_cap() / 2.0, text, "LL protocol cap (llMaxBw)")
    latency = t.cal.base_latency_s[("tree", proto)] + 2.0 * (
        (t.g - 1) * t.intra_step("tree", proto) + math.log2(t.m) * t.inter_step("tree", proto)
    )
    correction = t.cal.tuning.tree_correction[proto][:23]
    return AlgorithmCost("tree", proto, latency, algbw, text, link, bandwidth_correction=correction)


def _nvls(op: CollectiveOp, t: _Terms) -> AlgorithmCost:
    busbw = t.nvls_busbw()
    if op is CollectiveOp.ALL_REDUCE:
        algbw = busbw * t.n / (2 * (t.n - 1))
    else:  # NCCL: the same per-channel rate x (ppn-1)/ppn instead of x2, taken as algbw
        algbw = busbw / 2.0 * (t.g - 1) / t.g
    latency = t.hw("nvlink", "nvls", "simple")
    text = (
        f"nvswitch multicast: {format_rate(t.bw.nvlink_per_gpu_bytes_per_s)} NVLink per GPU, "
        f"{nvls_heads(t.bw, t.cal)} NVLS heads"
    )
    rounds = nvls_rounds(t.bw, t.cal, tree=False)
    return AlgorithmCost(
        "nvls",
        "simple",
        latency,
        algbw,
        text,
        algbw,
        fill_stages=NVLS_FILL_STAGES,
        fill_rounds=rounds,
    )


def _nvlstree(t: _Terms) -> AlgorithmCost:
    g, n = t.g, t.n
    intra = t.nvls_busbw() * g / (2 * (g - 1)) if g > 1 else math.inf
    inter = tree_factor(t.m) * t.net
    link, text = (
        (intra, "nvswitch multicast inside nodes") if intra <= inter else (inter, t.net_text)
    )
    heads = nvls_heads(t.bw, t.cal)
    per_channel = t.cal.per_channel_max("nvlstree", t.bw.architecture, t.m)
    cap = heads * per_channel * n / (2 * (n - 1))
    what = f"NCCL NVLSTree channels: {heads} x {format_rate(per_channel)} per channel"
    algbw, text = t.capped(link, cap, text, what)
    latency = t.hw("nvlink", "nvlstree", "simple") + 2.0 * math.log2(t.m) * t.inter_step(
        "nvlstree", "simple"
    )
    correction: tuple[float, ...] = ()
    if t.klass_arch == "blackwell" and t.bw.cpu_vendor in ("intel", "amd"):
        correction = t.cal.tuning.tree_correction["simple"]
    # the NVLS stages, and each level of the tree up and down after the first
    stages = NVLS_FILL_STAGES + 2 * (math.ceil(math.log2(t.m)) - 1)
    rounds = nvls_rounds(t.bw, t.cal, tree=True)
    return AlgorithmCost(
        "nvlstree",
        "simple",
        latency,
        algbw,
        text,
        link,
        correction,
        fill_stages=stages,
        fill_rounds=rounds,
    )


def _collnet(op: CollectiveOp, t: _Terms) -> AlgorithmCost:
    if op is CollectiveOp.ALL_REDUCE:
        k_intra = 0.5 * t.cal.tuning.tree_bandwidth_factor * t.e_intra
        chain = k_intra * t.bw.ring_intra_bytes_per_s if t.g > 1 else math.inf
        algbw, text = t.joint("ring", k_intra, t.e_net, chain, t.net)
    else:  # NCCL: ppn x min(intra, 0.9 x a NIC), every GPU with its own NIC (1:1)
        algbw, text = 0.9 * t.net, t.net_text
    if text == t.net_text:
        text += ", in-network reduction"
    latency = (
        t.cal.base_latency_s[("collnet", "simple")]
        + 2.0 * (min(1, t.g - 1) * t.intra_step("collnet", "simple") + (t.g - 1) * 0.4e-6)
        + t.inter_step("collnet", "simple")
    )
    return AlgorithmCost("collnet", "simple", latency, algbw, text, algbw)


def _pat(t: _Terms) -> AlgorithmCost:
    ring = _ring(CollectiveOp.ALL_GATHER, t, "simple")
    latency = (
        t.cal.base_latency_s[("pat", "simple")]
        + math.log2(t.m) * t.inter_step("pat", "simple") / 3.5
        + 2.8e-6 * t.n
    )
    rate = 0.75 * ring.algbw_bytes_per_s
    return AlgorithmCost("pat", "simple", latency, rate, ring.bottleneck, rate)


def _p2p(op: CollectiveOp, t: _Terms, proto: str) -> AlgorithmCost:
    n, g, m = t.n, t.g, t.m
    bw = t.bw
    latency = t.cal.base_latency_s[("ring", proto)] + t.intra_step("ring", proto)
    if m > 1:
        latency += t.inter_step("ring", proto)
    if op is CollectiveOp.ALLTOALL:
        # Per byte of the call, (g-1)/n goes to local peers and (n-g)/n over the network.
        k_intra = t.e_alltoall * n / (g - 1) if g > 1 else 0.0
        k_net = t.e_net * n / (n - g) if m > 1 else 0.0
        intra = k_intra * bw.alltoall_intra_bytes_per_s if g > 1 else math.inf
        net = k_net * bw.alltoall_network_per_gpu() if m > 1 else math.inf
        net_text = (
            f"network all-to-all ({bw.transport}): {bw.alltoall_network_bottleneck()}"
            if m > 1
            else None
        )
        algbw, text = t.joint("alltoall", k_intra, k_net, intra, net, net_text)
        link = algbw
    else:  # sendrecv: rank i sends to rank i+1, all at once
        intra = bw.shift_intra_bytes_per_s * t.e_shift if g > 1 else math.inf
        net = bw.network_per_gpu_bytes_per_s * t.e_net if m > 1 else math.inf
        algbw, text = t.joint("shift", t.e_shift, t.e_net, intra, net)
        link = algbw
        if m > 1:
            algbw, text = _p2p_channel_limit(t, algbw, text)
    if proto == "ll":
        link *= t.cal.ll_bandwidth_factor
        algbw = min(algbw * t.cal.ll_bandwidth_factor, t.ll_cap())
    return AlgorithmCost("p2p", proto, latency, algbw, text, link)


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
        # CollNet (SHARP) all-gather / reduce-scatter: newer SHARP plugins, 1:1 GPU:NIC
        if bw.collnet and not auto and bw.rail_count >= g:
            pairs.append(("collnet", "simple"))
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
        return _collnet(op, terms)
    return _pat(terms)
