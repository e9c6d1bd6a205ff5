"""Calibration: NCCL's published tuning constants plus efficiencies fitted to measurements.

Vendor peaks live in the spec catalog; how much of them NCCL achieves, and how long its steps
take, live here, each with the measurements or source code they came from. Two TOML files:

* the **constants** file (``nccl-2.30.toml``): values transcribed from NCCL's source, each table
  citing its file and line: base and per-step latencies per algorithm and protocol, LL
  bandwidth caps, NVLS efficiency, the NVLink data rate per link generation, what one channel
  of NCCL's kernels reaches, the speeds its topology search tries, refinements of its cost
  model, and its point-to-point channel rules. Nothing in it is fitted.
* the **fitted** file (``nccl-tests.toml``, written by ``interconnect-sim calibrate``): the
  fractions of link rates NCCL's kernels reach and the extra latencies per step, fitted on
  healthy nccl-tests rows listed in ``[fit]``; optionally ``[[scoped]]`` values fitted on one
  user's cluster, which apply only to that system (and NIC) so every other prediction keeps the
  shipped values.

Times in the files are microseconds (``_us`` keys, as NCCL writes them) and bandwidths GB/s
(``_GBps``); they are converted to seconds and bytes/s once, on load
(:mod:`interconnect_sim.calibration.loader`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError

__all__ = [
    "ALGORITHMS",
    "ARCH_CLASSES",
    "DEFAULT_CALIBRATION",
    "FITTED_TABLES",
    "INTRA_TIERS",
    "PROTOCOLS",
    "TRANSPORTS",
    "Calibration",
    "ChannelRules",
    "FitScope",
    "FittedRange",
    "NvlsRules",
    "SearchRules",
    "TuningRules",
]

ALGORITHMS = ("ring", "tree", "nvls", "nvlstree", "collnet", "pat")
PROTOCOLS = ("ll", "ll128", "simple")
LATENCY_CLASSES = ("nvlink", "pcie", "net")
TRANSPORTS = ("infiniband", "roce", "efa", "tcpx", "tcpxo")
INTRA_TIERS = ("nvlink", "pcie", "host")
ARCH_CLASSES = ("volta", "ampere", "hopper", "blackwell")
PER_CHANNEL_KINDS = ("ring_ll128", "tree_ll128", "tree", "nvlstree")
DEFAULT_CALIBRATION = Path(__file__).parent / "data" / "nccl-tests.toml"

FITTED_TABLES = {
    "intra_efficiency": ("intra_efficiency", INTRA_TIERS, 1.0),
    "p2p_efficiency": ("p2p_efficiency", INTRA_TIERS, 1.0),
    "network_efficiency": ("network_efficiency", TRANSPORTS, 1.0),
    "network_latency_s": ("network_latency_us", TRANSPORTS, 1e-6),
    "intra_latency_s": ("intra_latency_us", INTRA_TIERS, 1e-6),
}
"""Fitted fields of :class:`Calibration` -> (file table name, keys, file-to-SI scale)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelRules:
    """NCCL's channel-count rules for point-to-point traffic across nodes (``[nccl.p2p]`` and
    ``[nccl.channels]`` of the constants file; see
    :mod:`interconnect_sim.collectives.p2p_channels`).

    Attributes
    ----------
    per_channel_net_bytes_per_s : float
        Network bandwidth NCCL expects one p2p channel to carry (``P2P_PER_CHANNEL_NET_BW``).
    peers_per_batch : int
        Peers one channel serves per round (``NCCL_MAX_DEV_WORK_P2P_PER_BATCH``).
    local_non_nvlink_channels : int
        Channels per local peer reached without NVLink.
    postset_duplication : int
        Factor applied to the searched rings (``ncclTopoPostset``).
    compute_doubling_arch : tuple of str
        Architecture classes that double channels again on multi-node communicators ...
    compute_doubling_min_bytes_per_s : float
        ... when the ring's per-channel speed exceeds this ...
    compute_doubling_below : int
        ... and the channel count is below this.
    """

    per_channel_net_bytes_per_s: float
    peers_per_batch: int
    local_non_nvlink_channels: int
    postset_duplication: int
    compute_doubling_arch: tuple[str, ...]
    compute_doubling_min_bytes_per_s: float
    compute_doubling_below: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchRules:
    """NCCL's topology search, as far as it sets channel counts (``[nccl.search]``).

    Speeds stay in GB/s, as NCCL's arrays write them; see
    :mod:`interconnect_sim.collectives.nccl_channels` for how they are used.
    """

    speeds_intra_gb_per_s: dict[str, tuple[float, ...]]
    speeds_inter_gb_per_s: dict[str, tuple[float, ...]]
    speed_floor_ratio: float
    max_ring_channels: int
    max_nvls_heads: int
    dup_min_gb_per_s: float
    dup_skip_below_gb_per_s: float
    dup_skip_above_channels: int
    dup_skip_arch: tuple[str, ...]

    def speeds(self, arch_class: str, *, inter: bool) -> tuple[float, ...]:
        """Speeds NCCL tries for an architecture class, fastest first."""
        table = self.speeds_inter_gb_per_s if inter else self.speeds_intra_gb_per_s
        return table.get(arch_class, table["default"])


@dataclass(frozen=True, slots=True, kw_only=True)
class TuningRules:
    """Refinements of NCCL's cost model (``[nccl.tuning]``).

    Attributes
    ----------
    tree_bandwidth_factor : float
        Tree all-reduce bus bandwidth relative to its graph bandwidth (0.92).
    ring_plateau_factor, ring_plateau_factor_before_ampere : float
        Latency multiplier of a multi-node ring all-reduce with Simple.
    simple_net_overhead_factor : float
        The network post overhead is paid this many times per step with Simple.
    net_overhead_s : dict
        ``cpu vendor -> s``: least cost of one multi-node ring step.
    tree_correction : dict
        ``protocol -> factors`` for sizes 64 B x 2**i (Tree all-reduce bandwidth).
    """

    tree_bandwidth_factor: float
    ring_plateau_factor: float
    ring_plateau_factor_before_ampere: float
    simple_net_overhead_factor: float
    net_overhead_s: dict[str, float]
    tree_correction: dict[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class NvlsRules:
    """NCCL's NVLS pipelining (``[nccl.nvls]``): CTAs and chunk sizes.

    Attributes
    ----------
    chunk_bytes : float
        Largest NVLS chunk per head and step (``NCCL_NVLS_CHUNKSIZE``).
    channels : dict
        ``class -> (1 node, 2 nodes, more)``: NVLS CTAs.
    tree_max_chunk_bytes : dict
        ``class -> (2 nodes, more)``: NVLSTree chunk ceiling.
    """

    chunk_bytes: float
    channels: dict[str, tuple[int, int, int]]
    tree_max_chunk_bytes: dict[str, tuple[float, float]]

    def channel_count(self, arch_class: str, node_count: int) -> int:
        """NVLS CTAs for an architecture class (16 if the class is not listed)."""
        values = self.channels.get(arch_class, (16, 16, 16))
        return values[min(node_count, 3) - 1]

    def tree_max_chunk(self, arch_class: str, node_count: int) -> float:
        """NVLSTree's chunk ceiling (the NVLS chunk if the class is not listed)."""
        values = self.tree_max_chunk_bytes.get(arch_class)
        if values is None:
            return self.chunk_bytes
        return values[0] if node_count <= 2 else values[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class FittedRange:
    """What a scoped fit saw: predictions outside it are extrapolations."""

    ops: tuple[str, ...]
    min_bytes: float
    max_bytes: float
    node_counts: tuple[int, ...]
    gpus_per_node: tuple[int, ...]

    def outside(
        self, op: str, min_bytes: float, max_bytes: float, nodes: int, gpn: int
    ) -> list[str]:
        """Why a prediction falls outside this range (empty when it does not)."""
        reasons = []
        if op not in self.ops:
            reasons.append(f"op {op} was not measured (fitted: {', '.join(self.ops)})")
        if min_bytes < self.min_bytes * 0.999 or max_bytes > self.max_bytes * 1.001:
            reasons.append(f"sizes beyond the measured {self.min_bytes:.0f}-{self.max_bytes:.0f} B")
        if nodes not in self.node_counts:
            shown = ", ".join(str(n) for n in self.node_counts)
            reasons.append(f"{nodes} node(s) not measured (fitted on {shown})")
        if gpn not in self.gpus_per_node:
            shown = ", ".join(str(n) for n in self.gpus_per_node)
            reasons.append(f"{gpn} GPU(s) per node not measured (fitted on {shown})")
        return reasons


@dataclass(frozen=True, slots=True, kw_only=True)
class FitScope:
    """Fitted values that apply to one system (and NIC) only: a user's own cluster.

    ``values`` maps a fitted field of :class:`Calibration` (``intra_efficiency`` ...) to the keys
    the cluster's rows informed, in SI units; everything else keeps the global value.
    """

    system: str
    nic: str
    values: dict[str, dict[str, float]]
    fitted_range: FittedRange
    rows: int = 0

    def matches(self, system: str, nic: str) -> bool:
        """Whether this scope covers a communicator on ``system`` with compute NIC ``nic``."""
        return self.system == system and (not self.nic or self.nic == nic)


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Constants of the analytic model, in seconds and bytes/s.

    Attributes
    ----------
    base_latency_s : dict
        ``(algorithm, protocol) -> s``: NCCL's fixed cost per collective.
    hw_latency_s : dict
        ``(class, algorithm, protocol) -> s`` per step, class ``nvlink``, ``pcie`` or ``net``.
    ll_max_bytes_per_s : dict
        ``architecture class -> (1 node, 2 nodes, >= 4 nodes)`` caps of the LL protocol.
    nvls_efficiency : dict
        ``architecture class -> fraction`` (NCCL's NVLS efficiency).
    architecture_class : dict
        GPU architecture -> NCCL's class (``volta``, ``ampere``, ``hopper``, ``blackwell``).
    ll128_bandwidth_factor, ll_bandwidth_factor : float
        NCCL's ring bandwidth factors of LL128 and LL relative to Simple.
    nvlink_data_rate_bytes_per_s : dict
        NVLink link spec id -> data rate NCCL assumes per link (after packet overheads).
    pcie_data_rate_bytes_per_s : dict
        PCIe link spec id -> data rate NCCL assumes for an x16 link.
    per_channel_max_bytes_per_s : dict
        ``kind -> class -> (1 node, 2 nodes, >= 4 nodes)``: what one channel of NCCL's kernels
        reaches (``ring_ll128``, ``tree_ll128``, ``tree``, ``nvlstree``).
    search : SearchRules
        NCCL's topology-search speeds and channel duplication.
    tuning : TuningRules
        Refinements of NCCL's cost model.
    nvls : NvlsRules
        NVLS CTAs and chunk sizes (pipeline fill).
    intra_efficiency : dict
        Fitted fraction of the link data rate NCCL's collective kernels (rings, trees, NVLS)
        reach inside a node, per tier
        (``nvlink`` = of NCCL's NVLink data rate, ``pcie`` = P2P over PCIe, ``host`` = staged
        through host memory).
    p2p_efficiency : dict
        Fitted fraction of the link data rate NCCL's point-to-point kernels (sendrecv,
        all-to-all) reach inside a node, per tier.
    network_efficiency : dict
        Fitted fraction of NIC bandwidth reached, per transport.
    network_latency_s : dict
        Fitted latency per inter-node step, per transport (NCCL's ``latencyInter``, which the
        network plugin reports).
    intra_latency_s : dict
        Fitted extra latency per intra-node step, per tier (host staging through shared memory
        costs more than NCCL's peer-to-peer latency table assumes).
    channels : ChannelRules
        NCCL's p2p channel rules (constants, not fitted).
    scopes : tuple of FitScope
        Values fitted on one user's cluster, applied only there.
    fit : dict
        What the global fit used (rows, systems, held-out systems, errors).
    prior_classes : frozenset of str
        Architecture classes whose constants are neutral priors, not published by their
        library (``[nccl.priors]``; RCCL and HCCL classes).
    """

    base_latency_s: dict[tuple[str, str], float]
    hw_latency_s: dict[tuple[str, str, str], float]
    ll_max_bytes_per_s: dict[str, tuple[float, float, float]]
    nvls_efficiency: dict[str, float]
    architecture_class: dict[str, str]
    ll128_bandwidth_factor: float
    ll_bandwidth_factor: float
    nvlink_data_rate_bytes_per_s: dict[str, float]
    pcie_data_rate_bytes_per_s: dict[str, float]
    per_channel_max_bytes_per_s: dict[str, dict[str, tuple[float, float, float]]]
    search: SearchRules
    tuning: TuningRules
    nvls: NvlsRules
    intra_efficiency: dict[str, float]
    p2p_efficiency: dict[str, float]
    network_efficiency: dict[str, float]
    network_latency_s: dict[str, float]
    intra_latency_s: dict[str, float]
    channels: ChannelRules
    scopes: tuple[FitScope, ...] = ()
    fit: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    prior_classes: frozenset[str] = frozenset()
    _resolved: dict[tuple[str, str], Calibration] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def arch_class(self, architecture: str) -> str:
        """NCCL's architecture class of a GPU architecture name."""
        try:
            return self.architecture_class[architecture]
        except KeyError:
            raise SpecError(
                f"calibration has no architecture class for {architecture!r}; "
                f"known: {', '.join(sorted(self.architecture_class))}"
            ) from None

    def nvlink_data_fraction(self, link_spec: str, raw_rate_bytes_per_s: float) -> float:
        """NCCL's data rate of one link of ``link_spec`` over its raw rate (1 if not listed)."""
        data = self.nvlink_data_rate_bytes_per_s.get(link_spec)
        if data is None or raw_rate_bytes_per_s <= 0:
            return 1.0
        return data / raw_rate_bytes_per_s

    def pcie_data_fraction(self, link_spec: str, raw_x16_bytes_per_s: float) -> float:
        """NCCL's x16 data rate of a PCIe generation over its raw rate (1 if not listed)."""
        data = self.pcie_data_rate_bytes_per_s.get(link_spec)
        if data is None or raw_x16_bytes_per_s <= 0:
            return 1.0
        return data / raw_x16_bytes_per_s

    def per_channel_max(self, kind: str, architecture: str, node_count: int) -> float:
        """What one channel reaches for ``kind`` (bytes/s of bus bandwidth; inf if unknown)."""
        caps = self.per_channel_max_bytes_per_s[kind].get(self.arch_class(architecture))
        if caps is None:
            return float("inf")
        value = caps[min(node_count, 3) - 1]
        return value if value > 0 else float("inf")

    def with_fitted(self, **fitted: Any) -> Calibration:
        """A copy with some fitted fields replaced."""
        return replace(self, **fitted)

    def scope_for(self, system: str, nic: str) -> FitScope | None:
        """The scoped fit covering ``system`` with compute NIC ``nic``, if any."""
        return next((s for s in self.scopes if s.matches(system, nic)), None)

    def resolved(self, system: str, nic: str) -> Calibration:
        """This calibration with the scoped values of ``system``/``nic`` applied (cached)."""
        if not self.scopes:
            return self
        key = (system, nic)
        if key not in self._resolved:
            scope = self.scope_for(system, nic)
            if scope is None:
                self._resolved[key] = self
            else:
                updates: dict[str, Any] = {
                    name: {**getattr(self, name), **values} for name, values in scope.values.items()
                }
                self._resolved[key] = replace(self, scopes=(), **updates)
        return self._resolved[key]
