"""Frozen value objects for cited hardware facts.

Every quantity is stored in base units with the unit in the attribute name (``_bytes``,
``_bytes_per_s`` per direction, ``_s``, ``_flops_per_s``, ``_w``). Files state values as
published (``"25 GB/s"``); :mod:`interconnect_sim.specs.loader` converts them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Check",
    "GpuSpec",
    "LinkSpec",
    "NicSpec",
    "ReferenceRow",
    "Source",
    "Spec",
    "SuperPodSpec",
    "SwitchSpec",
    "SystemSpec",
    "TransceiverSpec",
]

Transport = Literal["infiniband", "roce", "efa", "tcpx", "tcpxo"]
"""How a NIC moves collective traffic: IB verbs, RoCE, AWS EFA (SRD), GPUDirect-TCPX or -TCPXO."""
SourceGrade = Literal["primary", "secondary", "measured", "derived"]
LinkFamily = Literal["nvlink", "nvlink-c2c", "pcie", "infiniband", "ethernet", "inter-socket"]
SwitchRole = Literal["nvswitch", "network"]
SystemTopology = Literal["nvswitch", "hybrid-cube-mesh", "nvswitch-two-board", "pcie", "nvl-rack"]
CableMedia = Literal["dac", "acc", "aoc", "multimode", "singlemode"]
"""How a network link is carried: passive copper (DAC), active copper (ACC, also linear active
copper), active optical cable (AOC), or pluggable transceivers on multimode or single-mode fibre."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a fact comes from: a document, the place in it, and the sentence quoted."""

    title: str
    url: str
    locator: str
    quote: str
    grade: SourceGrade
    kind: str = ""
    read_via: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A published headline that a derived quantity of the spec must reproduce.

    ``derived quantity x multiplier`` must equal ``expected`` within ``rel_tol``; e.g. an H100's
    NVLink bandwidth per direction times 2 equals the "900 GB/s" headline.
    """

    claim: str
    quantity: str
    multiplier: float
    expected: float
    rel_tol: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """Fields every spec file carries."""

    id: str
    name: str
    sources: tuple[Source, ...]
    checks: tuple[Check, ...] = ()
    inferred: tuple[tuple[str, str], ...] = ()
    notes: str = ""

    def inferred_fields(self) -> dict[str, str]:
        """Fields that no public document gives, mapped to the reasoning behind their value."""
        return dict(self.inferred)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec(Spec):
    """One physical link type: NVLink generation, PCIe generation, IB or Ethernet port rate.

    ``data_rate_per_direction_bytes_per_s`` is the effective data rate of *one link* of
    ``lanes_per_direction`` lanes in *one direction* (an NVLink link, a PCIe x16 link, an IB 4x
    port, an Ethernet port).
    """

    family: LinkFamily
    generation: str
    data_rate_per_direction_bytes_per_s: float
    lanes_per_direction: int
    signalling_rate_per_lane_bits_per_s: float | None = None
    encoding: str = ""
    latency_s: float | None = None
    year: int | None = None

    def rate_for_lanes_bytes_per_s(self, lane_count: int) -> float:
        """Data rate per direction of a link with ``lane_count`` active lanes (x8 PCIe, ...)."""
        return self.data_rate_per_direction_bytes_per_s * lane_count / self.lanes_per_direction


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuSpec(Spec):
    """A GPU model: dense tensor throughput, memory, and its links."""

    architecture: str
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    pcie: str
    pcie_lanes: int
    tdp_w: float
    dense_fp16_flops_per_s: float
    dense_bf16_flops_per_s: float | None = None
    dense_fp8_flops_per_s: float | None = None
    nvlink: str | None = None
    nvlink_count: int = 0
    memory_type: str = ""
    form_factor: str = ""
    year: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NicSpec(Spec):
    """A network adapter (HCA, SuperNIC or DPU) and its host interface."""

    port_link: str
    port_count: int
    host_link: str
    host_lanes: int
    transport: Transport = "infiniband"
    supported_links: tuple[str, ...] = ()
    latency_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SwitchSpec(Spec):
    """A switch chip or box: NVSwitch generations and IB/Ethernet switches."""

    role: SwitchRole
    port_link: str
    port_count: int
    sharp: bool = False
    multicast: bool = False
    latency_s: float | None = None
    form_factor: str = ""
    power_w: float | None = None
    ports_per_cage: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TransceiverSpec(Spec):
    """One way to carry a network link: a transceiver (one end) or a copper/AOC cable.

    ``ports`` is the number of links one end carries (2 for a twin-port OSFP transceiver or a
    1:2 split cable); ``power_w`` is the power of one end, ``max_reach_m`` the longest link.
    """

    link: str
    media: CableMedia
    ports: int
    max_reach_m: float
    power_w: float
    form_factor: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemSpec(Spec):
    """One server or rack-scale system: what is inside and how it is wired.

    The ``topology`` names the builder family; the fields it needs are documented in
    ``docs/specs.md``. Counts and wiring are facts with sources like any bandwidth.
    """

    topology: SystemTopology
    gpu: str
    gpu_count: int
    cpu_model: str
    cpu_socket_count: int
    cpu_pcie: str
    inter_socket_link: str
    inter_socket_link_count: int
    pcie_switch_count: int
    pcie_switch_uplink_lanes: int
    nic: str | None = None
    nic_count: int = 0
    rail_count: int = 0
    p2p: bool = True
    nvswitch: str | None = None
    nvswitch_count: int = 0
    gpu_links_per_nvswitch: tuple[int, ...] = ()
    nvlink_matrix: tuple[tuple[int, ...], ...] = ()
    board_count: int = 1
    inter_board_links_per_nvswitch: int = 0
    nvlink_bridge_pairs: tuple[tuple[int, int], ...] = ()
    nvlink_bridge_link_count: int = 0
    gpus_per_host: int = 0
    host_gpu_link: str | None = None
    host_gpu_link_count: int = 0
    superpod: str | None = None
    year: int | None = None
    power_w: float | None = None
    nic_ports_per_cage: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceRow:
    """One row of a reference-architecture table: what the vendor builds at this size."""

    scalable_unit_count: int
    node_count: int
    gpu_count: int
    leaf_count: int
    spine_count: int
    core_count: int = 0
    node_leaf_cables: int = 0
    leaf_spine_cables: int = 0
    spine_core_cables: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SuperPodSpec(Spec):
    """A multi-node reference design: scalable unit size, switch models and published tables."""

    system: str
    nodes_per_scalable_unit: int
    leaf_switch: str
    spine_switch: str
    core_switch: str
    spine_layout: Literal["shared", "per-rail-groups"] = "shared"
    spine_group_size: int = 0
    reference_rows: tuple[ReferenceRow, ...] = field(default_factory=tuple)
    fabric_management_ports: int = 0
    nodes_per_rack: int = 0
