"""What the analysis of a communicator gives (:func:`.bandwidth.analyse_communicator`): its
graph-derived bandwidths per tier and pattern (:class:`CommunicatorBandwidths`, bytes/s per
direction), and the patterns it routed (:class:`CommunicatorPlan`, per kind of node a
:class:`NodeGroup`) for engines that replay them. Plain data, no analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from interconnect_sim.collectives.paths import Flow, IndexedFlow

__all__ = ["CommunicatorBandwidths", "CommunicatorPlan", "NodeGroup"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroup:
    """The communicator's nodes of one kind, and its patterns routed on the kind's template node
    (all flows per unit of rate; engines repeat them on every node of ``node_prefixes``).

    Attributes
    ----------
    template_prefix : str
        ``n<k>/`` of the node the flows below are routed on (not necessarily a member).
    node_prefixes : tuple of str
        ``n<k>/`` of the communicator's nodes of this kind, in rank order.
    ring_channels, chain_channels : tuple of (rate, Flow)
        Intra-node rings / chains and their rates (bytes/s).
    shift_flow : Flow
        Rank-order ring shift (sendrecv).
    alltoall_flow : Flow
        Every ordered pair of (up to 16 sampled) local GPUs, one unit each.
    injection_flow : Flow
        Each local GPU's NVLink edges, one unit per GPU each way (NVLS).
    """

    template_prefix: str
    node_prefixes: tuple[str, ...]
    ring_channels: tuple[tuple[float, Flow], ...]
    chain_channels: tuple[tuple[float, Flow], ...]
    shift_flow: Flow
    alltoall_flow: Flow
    injection_flow: Flow


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunicatorPlan:
    """What the analysis routed, for engines that replay it (all flows per unit of rate).

    Attributes
    ----------
    node_prefixes : tuple of str
        ``n<k>/`` of each node of the communicator, in rank order.
    groups : tuple of NodeGroup
        The nodes by kind, the one that limits the intra-node rates first; one group when the
        nodes are all alike.
    local_gpus : tuple of str
        The communicator's GPUs on its first node.
    alltoall_pair_count : int
        Pairs in each group's ``alltoall_flow``.
    alltoall_gpu_count : int
        GPUs in ``alltoall_flow`` (all local GPUs, or 16 sampled from a larger domain).
    network : IndexedFlow or None
        All rails' inter-node rings over every node, one unit per rail (None on one node).
    nic_pairs : tuple of tuple of (str, str)
        Per node, the (GPU, NIC) pairs in use.
    alltoall_network : callable
        Returns the uniform node-to-node flow of an all-to-all (one unit per NIC), computed on
        first use since it is only needed for all-to-all.
    alltoall_indexed : callable
        The same as an :class:`~interconnect_sim.collectives.paths.IndexedFlow` (None on one
        node).
    """

    node_prefixes: tuple[str, ...]
    groups: tuple[NodeGroup, ...]
    local_gpus: tuple[str, ...]
    alltoall_pair_count: int
    alltoall_gpu_count: int
    network: IndexedFlow | None
    nic_pairs: tuple[tuple[tuple[str, str], ...], ...]
    alltoall_network: Callable[[], Flow]
    alltoall_indexed: Callable[[], IndexedFlow | None]

    @property
    def network_flow(self) -> Flow:
        """``network`` as a dict (empty on one node)."""
        return {} if self.network is None else self.network.as_flow()

    @property
    def template_prefix(self) -> str:
        """The limiting group's template node."""
        return self.groups[0].template_prefix

    @property
    def ring_channels(self) -> tuple[tuple[float, Flow], ...]:
        """The limiting group's rings."""
        return self.groups[0].ring_channels

    @property
    def chain_channels(self) -> tuple[tuple[float, Flow], ...]:
        """The limiting group's chains."""
        return self.groups[0].chain_channels

    @property
    def shift_flow(self) -> Flow:
        """The limiting group's ring shift."""
        return self.groups[0].shift_flow

    @property
    def alltoall_flow(self) -> Flow:
        """The limiting group's all-to-all pairs."""
        return self.groups[0].alltoall_flow

    @property
    def injection_flow(self) -> Flow:
        """The limiting group's NVLink injection."""
        return self.groups[0].injection_flow


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunicatorBandwidths:
    """Graph-derived bandwidths of one communicator (bytes per second, one direction).

    Attributes
    ----------
    node_count, gpus_per_node : int
        Communicator shape; ranks = node_count x gpus_per_node.
    ring_intra_bytes_per_s : float
        Sum of the rates of the intra-node rings (per rank); 0 with one GPU per node.
    ring_channel_rates_bytes_per_s : tuple of float
        Rate of each ring found, in search order.
    chain_intra_bytes_per_s : float
        Same for open chains (broadcast, reduce pipeline along a ring without its last hop).
    intra_tier : str
        ``nvlink`` if the rings run over NVLink only, ``pcie`` if they use PCIe peer-to-peer,
        ``host`` if P2P is off and traffic is staged through host memory.
    intra_bottleneck : str
        Human description of the link limiting the first ring.
    shift_intra_bytes_per_s : float
        Per-rank rate of a rank-order ring shift (sendrecv) inside a node.
    shift_intra_tier, alltoall_intra_tier : str
        Tier of the shift's and the all-to-all's own routes, by the rule of ``intra_tier``: their
        fitted efficiency follows the links they cross, not the rings' (on a DGX-1 the shift
        crosses PCIe and the inter-socket link whatever the NVLink width, while the rings move
        from PCIe to NVLink as lanes are added).
    alltoall_intra_bytes_per_s : float
        Per-GPU send rate when every GPU of a node sends to every other at once.
    nvlink_per_gpu_bytes_per_s : float
        NVLink injection of one GPU (sum of its NVLink out-edges).
    network_per_node_bytes_per_s : float
        Aggregate rate of the rails a node's GPUs use for an inter-node ring.
    network_per_gpu_bytes_per_s : float
        The share of one GPU: the NIC(s) nearest it.
    rail_count : int
        Rails (NICs per node) the communicator uses.
    network_bottleneck : str
        Human description of the limiting network link.
    alltoall_network_per_gpu : callable
        Per-GPU rate of an all-to-all's inter-node traffic (uniform node-to-node pattern, so an
        oversubscribed spine shows); computed on first call.
    alltoall_network_bottleneck : callable
        Human description of the link that limits ``alltoall_network_per_gpu``.
    joint_rate : callable
        ``joint_rate(pattern, k_intra, k_net)``: the rate of a pattern (``ring``, ``chain``,
        ``shift``, ``alltoall``) whose intra-node part runs at ``k_intra`` x its graph rate and
        network part at ``k_net`` x its graph rate, evaluated jointly so links both parts cross
        (a PCIe switch uplink carrying ring hops and NIC traffic) are shared. Rates are per rank
        (ring, chain) or per GPU (shift, alltoall).
    transport : str
        NIC transport (``infiniband``, ``roce``, ``efa``, ``tcpx``, ``tcpxo``) or ``none``.
    nvls : bool
        NVSwitch multicast / in-switch reduction available (NVLS).
    collnet : bool
        In-network reduction on the leaf switches (SHARP) available to IB NICs.
    architecture : str
        GPU architecture (NCCL's protocol caps depend on it).
    system : str
        Preset id of the fabric (``""`` for hand-built fabrics): calibrations fitted on one
        cluster apply by system and NIC.
    nic_spec : str
        Catalog id of the compute NICs the communicator uses (``""`` without NICs).
    nvlink_spec : str
        Link spec of the GPUs' NVLink links (``""`` without NVLink).
    nvlink_link_rate_bytes_per_s : float
        Catalog rate of one such link with all its lanes, one direction (NCCL's data rate
        per link is relative to it; a what-if with fewer lanes keeps the ratio).
    cpu_vendor : str
        ``intel``, ``amd`` or ``other``, from the host CPU model (NCCL's per-step network
        overhead depends on it).
    pcie_spec, pcie_x16_rate_bytes_per_s : str, float
        The GPUs' PCIe generation and the catalog rate of an x16 link of it (peer-to-peer
        over PCIe and host staging are fractions of NCCL's data rate for it).
    p2p_pairs : bool
        Point-to-point calls run on a 2-rank NCCL communicator per peer pair (PyTorch's
        unbatched ``isend``/``irecv``, e.g. Transformer Engine's context-parallel ring) rather
        than on this communicator (nccl-tests, ``batch_isend_irecv``); NCCL sizes per-peer
        channels by the communicator's rank count.
    comm_size : int
        Ranks of the NCCL communicator point-to-point calls run on when it is larger than this
        group (Megatron's pipeline sends between two stages run on the whole pipeline group);
        0: this group.
    plan : CommunicatorPlan
        The routed patterns behind these numbers.
    """

    node_count: int
    gpus_per_node: int
    ring_intra_bytes_per_s: float
    ring_channel_rates_bytes_per_s: tuple[float, ...]
    chain_intra_bytes_per_s: float
    intra_tier: str
    intra_bottleneck: str
    shift_intra_bytes_per_s: float
    alltoall_intra_bytes_per_s: float
    nvlink_per_gpu_bytes_per_s: float
    network_per_node_bytes_per_s: float
    network_per_gpu_bytes_per_s: float
    rail_count: int
    network_bottleneck: str
    transport: str
    nvls: bool
    collnet: bool
    architecture: str
    shift_intra_tier: str = ""
    alltoall_intra_tier: str = ""
    system: str = ""
    nic_spec: str = ""
    nvlink_spec: str = ""
    nvlink_link_rate_bytes_per_s: float = 0.0
    cpu_vendor: str = "other"
    pcie_spec: str = ""
    pcie_x16_rate_bytes_per_s: float = 0.0
    p2p_pairs: bool = False
    comm_size: int = 0
    plan: CommunicatorPlan = field(repr=False, compare=False)
    alltoall_network_per_gpu: Callable[[], float] = field(repr=False, compare=False)
    alltoall_network_bottleneck: Callable[[], str] = field(repr=False, compare=False)
    joint_rate: Callable[[str, float, float], float] = field(repr=False, compare=False)

    @property
    def rank_count(self) -> int:
        """Number of ranks."""
        return self.node_count * self.gpus_per_node
