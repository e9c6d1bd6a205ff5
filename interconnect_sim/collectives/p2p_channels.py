"""How many channels NCCL gives a point-to-point transfer across nodes, and what that allows.

A send to a rank on another node runs on ``p2pnChannelsPerPeer`` channels, and NCCL sizes that
number so the network, not the channel count, is the limit *for a pair of nodes*: one channel per
``P2P_PER_CHANNEL_NET_BW`` (14 GB/s) of the GPU's NIC, so four for a 400 Gb/s NIC. On a
multi-node communicator it then halves the count until every peer fits in one round of the
p2p channel pool (``channels x ceil(ranks / 8) <= pool``). With many ranks a single send is left
with one or two channels, about 14 GB/s each, below the NIC: nccl-tests ``sendrecv`` on ten
8-GPU nodes runs at a third of its two-node rate. All-to-all is not limited this way because a
rank sends to many peers at once and their channels add up. Frameworks that send over
PyTorch's per-pair communicators (unbatched ``isend``/``irecv``; Transformer Engine's
context-parallel ring by default) run each send on a 2-rank communicator, which keeps its four
channels (``CommunicatorBandwidths.p2p_pairs``).

The pool is the communicator's collective channel count rounded up to a power of two. For a
multi-node communicator that is one searched ring per NIC rail, doubled by ``ncclTopoPostset``,
and doubled again on Hopper and later while below 16 channels (NCCL's "4 compute channels per
search channel"). The one-ring-per-rail search result is an assumption (NCCL's top inter-node
search speed, 48 GB/s, fits once on a 400 Gb/s NIC); the rules and constants are NCCL's, cited in
the calibration constants file.
"""

from __future__ import annotations

import math

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.collectives.communicator import CommunicatorBandwidths

__all__ = ["collective_channel_count", "net_channels_per_peer", "p2p_network_rate"]


def _pow2_up(value: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1, value))))


def _nic_rate(bw: CommunicatorBandwidths) -> float:
    """Bandwidth of one NIC rail (bytes/s, one direction)."""
    return bw.network_per_node_bytes_per_s / max(1, bw.rail_count)


def collective_channel_count(bw: CommunicatorBandwidths, cal: Calibration) -> int:
    """NCCL's collective channel count for a multi-node communicator.

    One searched ring per rail, times ``postset_duplication``, doubled again on the
    architectures in ``compute_doubling_arch`` while below ``compute_doubling_below`` channels
    if a rail is faster than ``compute_doubling_min_bytes_per_s``.
    """
    rules = cal.channels
    rails = 1 if bw.p2p_pairs else max(1, bw.rail_count)
    channels = rails * rules.postset_duplication
    if (
        cal.arch_class(bw.architecture) in rules.compute_doubling_arch
        and _nic_rate(bw) > rules.compute_doubling_min_bytes_per_s
        and channels < rules.compute_doubling_below
    ):
        channels *= 2
    return channels


def net_channels_per_peer(bw: CommunicatorBandwidths, cal: Calibration) -> int:
    """Channels one send to a rank on another node runs on (``p2pnChannelsPerPeer``).

    Examples: a 400 Gb/s NIC per GPU starts at 4; on 10 nodes x 8 GPUs (80 ranks, a pool of 16)
    it ends at 1, on 2 nodes x 8 GPUs it stays at 4. With ``bw.p2p_pairs`` the communicator is
    the 2-rank pair (one GPU on each of two nodes), which keeps every channel it wants.
    """
    rules = cal.channels
    nic_rate = _nic_rate(bw)
    nics_near_gpu = max(1, bw.rail_count // max(1, bw.gpus_per_node))
    wanted = max(
        nics_near_gpu, math.ceil(nics_near_gpu * nic_rate / rules.per_channel_net_bytes_per_s)
    )
    if bw.gpus_per_node > 1 and not bw.p2p_pairs and bw.intra_tier != "nvlink":
        wanted = min(wanted, rules.local_non_nvlink_channels)
    per_peer = _pow2_up(wanted)
    pool = _pow2_up(collective_channel_count(bw, cal))
    ranks = 2 if bw.p2p_pairs else max(bw.rank_count, bw.comm_size)
    rounds = math.ceil(ranks / rules.peers_per_batch)
    while per_peer * rounds > pool and per_peer > 1:
        per_peer //= 2
    return per_peer


def p2p_network_rate(bw: CommunicatorBandwidths, cal: Calibration) -> float:
    """Most one rank's send to another node can carry on its channels (bytes/s, raw: the
    caller applies the transport efficiency as it does to NIC rates)."""
    return net_channels_per_peer(bw, cal) * cal.channels.per_channel_net_bytes_per_s
