"""How many channels NCCL's topology search opens, and what its kernels reach per channel.

NCCL searches the node's topology for rings (and trees) at a per-channel speed taken from a
fixed list, fastest first (``src/graph/search.cc``): as many channels as fit at that speed,
then slower speeds while they carry more in total, down to 49 % of the best speed so far. A
graph whose channels run at >= 25 GB/s is then duplicated (twice the channels at half the
speed), except on Hopper and later when below 50 GB/s with more than 4 channels. Across nodes
each channel also needs a NIC at the same speed, so a 400 Gb/s NIC (50 GB/s) carries one
channel at 48 GB/s.

Its cost model (``src/graph/tuning.cc``) then limits a collective to ``channels x`` what one
channel of its kernels reaches: Tree at 36 GB/s per channel on Hopper and 24 GB/s on
Blackwell from 4 nodes, NVLSTree at 45.5 / 80 GB/s, LL128 rings at 36.7 / 40 GB/s. These are
NVIDIA's per-channel kernel throughputs; with 8 channels they make forced Tree on a Blackwell
cluster half as fast as NVLSTree on the same network.

Link rates here are NCCL's *data* rates: an NVLink link carries what NCCL assumes after packet
overheads (20.6 of 25 GB/s on NVLink 4, 40.1 of 50 on NVLink 5; the constants file cites
``topo.h``). Everything is GB/s, as NCCL writes it, and the constants come from the calibration's
constants file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.communicator import CommunicatorBandwidths

__all__ = [
    "GraphChannels",
    "data_fraction",
    "nvls_heads",
    "nvls_rounds",
    "per_channel_cap",
    "ring_graph",
]

_GB = 1e9


@dataclass(frozen=True, slots=True)
class GraphChannels:
    """A searched graph: channels after duplication and their per-channel speed (GB/s)."""

    channels: int
    speed_gb_per_s: float


def data_fraction(bw: CommunicatorBandwidths, cal: Calibration) -> float:
    """NCCL's data rate over the raw rate of the intra-node links the rings use (NVLink, or
    the GPUs' PCIe generation for peer-to-peer over PCIe and host staging)."""
    if bw.intra_tier == "nvlink":
        if not bw.nvlink_spec:
            return 1.0
        return cal.nvlink_data_fraction(bw.nvlink_spec, bw.nvlink_link_rate_bytes_per_s)
    return cal.pcie_data_fraction(bw.pcie_spec, bw.pcie_x16_rate_bytes_per_s)


def _best(
    speeds: tuple[float, ...], floor_ratio: float, fits: dict[float, int], total: float
) -> tuple[int, float]:
    """NCCL's pass 1: the speed carrying most in total (first wins ties), going slower while
    the next speed is above ``floor_ratio`` of the best one found."""
    best_n, best_s = 0, 0.0
    for speed in speeds:
        if best_n and speed / best_s <= floor_ratio:
            break
        n = fits[speed]
        if n and n * speed > best_n * best_s + 1e-9:
            best_n, best_s = n, speed
        if best_n and best_n * best_s >= total - 1e-9:
            break
    return best_n, best_s


def ring_graph(bw: CommunicatorBandwidths, cal: Calibration) -> GraphChannels:
    """Channels and speeds of NCCL's ring graph (the tree graph has as many channels).

    Inside one node each searched ring (our greedy rings, at NCCL's link data rates) holds
    ``floor(rate / speed)`` channels; across nodes each NIC holds ``floor(NIC / speed)`` and
    the rings inside the node must carry them too.
    """
    rules = cal.search
    klass = cal.arch_class(bw.architecture)
    frac = data_fraction(bw, cal)
    rings = [r * frac / _GB for r in bw.ring_channel_rates_bytes_per_s]
    intra_total = sum(rings)
    inter = bw.node_count > 1
    speeds = rules.speeds(klass, inter=inter)
    if inter:
        nic = bw.network_per_node_bytes_per_s / max(1, bw.rail_count) / _GB
        ceiling = nic
        total = max(intra_total, nic * bw.rail_count)
    else:
        ceiling = max(rings, default=0.0)
        total = intra_total
    candidates = [s for s in speeds if s <= ceiling + 1e-9] or [speeds[-1]]
    fits = {}
    # across nodes a channel enters and leaves the node through NICs: an open chain, which
    # loads each GPU's links (g-1)/g of a closed ring on average
    open_chain = bw.gpus_per_node / (bw.gpus_per_node - 1) if inter and bw.gpus_per_node > 1 else 1
    for speed in candidates:
        intra_fit = (
            sum(math.floor(r * open_chain / speed + 1e-9) for r in rings) if rings else 10**6
        )
        if inter:
            net_fit = bw.rail_count * max(0, math.floor(nic / speed + 1e-9))
            fits[speed] = min(net_fit, intra_fit)
        else:
            fits[speed] = intra_fit
        fits[speed] = min(fits[speed], rules.max_ring_channels)
    n, speed = _best(tuple(candidates), rules.speed_floor_ratio, fits, total)
    if n == 0:
        return GraphChannels(1, candidates[-1])
    skip = (
        klass in rules.dup_skip_arch
        and speed < rules.dup_skip_below_gb_per_s
        and n > rules.dup_skip_above_channels
    )
    if speed >= rules.dup_min_gb_per_s and not skip:
        doubled = min(2 * n, rules.max_ring_channels)
        speed /= math.ceil(doubled / n)
        n = doubled
    return GraphChannels(n, speed)


def nvls_heads(bw: CommunicatorBandwidths, cal: Calibration) -> int:
    """NVLS channels (heads) of the NVLS graph: one per GPU of the NVLink domain up to
    NCCL's arity limit; across nodes a head also needs a NIC, so at most one per rail."""
    heads = min(bw.gpus_per_node, cal.search.max_nvls_heads)
    if bw.node_count > 1:
        heads = min(heads, max(1, bw.rail_count))
    return max(1, heads)


def per_channel_cap(
    bw: CommunicatorBandwidths, cal: Calibration, kind: str, channels: int
) -> float:
    """``channels x`` what one channel reaches for ``kind`` (bytes/s of bus bandwidth)."""
    return channels * cal.per_channel_max(kind, bw.architecture, bw.node_count)


_KIB = 1024.0


def _nvls_chunk(size: float, concurrent: int, chunk: float) -> float:
    """NCCL's NVLS chunk for a message of ``size`` bytes (``calcCollChunking``)."""
    for factor, floor in ((64, 64 * _KIB), (8, 32 * _KIB), (2, 16 * _KIB)):
        if size < factor * concurrent * chunk and chunk > floor:
            chunk = floor
    return chunk


def _nvlstree_chunk(size: float, concurrent: int, chunk: float) -> float:
    """NCCL's NVLSTree chunk for a message of ``size`` bytes (``calcCollChunking``)."""
    for factor, floor in ((32, 256 * _KIB), (16, 128 * _KIB), (4, 64 * _KIB), (1, 32 * _KIB)):
        if size < factor * concurrent * chunk and chunk > floor:
            chunk = floor
    return chunk


def nvls_rounds(
    bw: CommunicatorBandwidths, cal: Calibration, *, tree: bool
) -> tuple[tuple[float, float], ...]:
    """``(from_bytes, round_bytes)``: bytes NVLS (or NVLSTree) moves per pipeline round as the
    message grows; a round is one chunk per head on every NVLS CTA."""
    klass = cal.arch_class(bw.architecture)
    rules = cal.nvls
    concurrent = rules.channel_count(klass, bw.node_count) * nvls_heads(bw, cal)
    top = rules.chunk_bytes
    rule = _nvls_chunk
    if tree:
        top = min(top, rules.tree_max_chunk(klass, bw.node_count))
        rule = _nvlstree_chunk
    floors = (256, 128, 64, 32, 16)
    breaks = {0.0}
    for chunk in (top, *(f * _KIB for f in floors)):
        for factor in (64, 32, 16, 8, 4, 2, 1):
            breaks.add(float(factor * concurrent * chunk))
    rounds: list[tuple[float, float]] = []
    for start in sorted(breaks):
        size = concurrent * rule(start, concurrent, top)
        if not rounds or size != rounds[-1][1]:
            rounds.append((start, size))
    return tuple(rounds)
