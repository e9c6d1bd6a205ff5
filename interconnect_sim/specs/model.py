"""Frozen value objects for cited hardware facts.

Every quantity is stored in base units with the unit in the attribute name (``_bytes``,
``_bytes_per_s`` per direction, ``_s``, ``_flops_per_s``, ``_w``). Files state values as
published (``"25 GB/s"``); :mod:`interconnect_sim.specs.loader` converts them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MICROSCALING_FORMATS",
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
LinkFamily = Literal[
    "nvlink",
    "nvlink-c2c",
    "infinity-fabric",
    "on-package",
    "pcie",
    "infiniband",
    "ethernet",
    "inter-socket",
]
SwitchRole = Literal["nvswitch", "network"]
SystemTopology = Literal["nvswitch", "nvswitch-two-board", "mesh", "pcie", "nvlink-domain"]
"""Builder families. Files may also say ``hybrid-cube-mesh`` (read as ``mesh``) and ``nvl-rack``
(read as ``nvlink-domain``), the names of earlier versions."""
Status = Literal["available", "announced"]
"""``announced``: a product only announced, not shipping; its figures are the announcement's."""
Origin = Literal["shipped", "user"]
"""Where a spec was read from: the package's data folder, or a user's file or folder."""
Precision = Literal["fp16", "bf16", "fp8", "fp4", "mxfp8", "mxfp4", "nvfp4"]
MICROSCALING_FORMATS = ("mxfp8", "mxfp4", "nvfp4")
"""Block-scaled formats a GPU may run natively, at the rate of their element type."""
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
    status: Status = "available"
    origin: Origin = "shipped"

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
    """A GPU or accelerator: dense tensor throughput, memory, and its links.

    ``nvlink`` / ``nvlink_count`` name the GPU's own GPU-to-GPU (scale-up) link, whatever its
    family: NVLink, AMD Infinity Fabric, or Gaudi's on-chip RoCE ports (files may write them
    ``scale_up_link`` / ``scale_up_link_count``). ``microscaling`` lists the block-scaled
    formats (MXFP8, MXFP4, NVFP4) the tensor cores run natively, at their element type's rate.
    """

    architecture: str
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    pcie: str
    pcie_lanes: int
    tdp_w: float
    dense_fp16_flops_per_s: float
    dense_bf16_flops_per_s: float | None = None
    dense_fp8_flops_per_s: float | None = None
    dense_fp4_flops_per_s: float | None = None
    microscaling: tuple[str, ...] = ()
    nvlink: str | None = None
    nvlink_count: int = 0
    memory_type: str = ""
    form_factor: str = ""
    year: int | None = None

    def dense_flops_per_s(self, precision: Precision) -> float | None:
        """Dense tensor rate for a training or inference precision, or None if not supported.

        MXFP8 runs at the FP8 rate and MXFP4 / NVFP4 at the FP4 rate, on GPUs that list them in
        ``microscaling``; BF16 falls back to the FP16 rate on GPUs without a BF16 figure.

        Examples
        --------
        >>> from interconnect_sim.specs import load_catalog
        >>> gpu = load_catalog().gpu("b200-sxm-180gb")
        >>> gpu.dense_flops_per_s("nvfp4") == gpu.dense_fp4_flops_per_s
        True
        >>> load_catalog().gpu("h100-sxm5-80gb").dense_flops_per_s("mxfp8") is None
        True
        """
        if precision in MICROSCALING_FORMATS and precision not in self.microscaling:
            return None
        rates: dict[str, float | None] = {
            "fp16": self.dense_fp16_flops_per_s,
            "bf16": self.dense_bf16_flops_per_s or self.dense_fp16_flops_per_s,
            "fp8": self.dense_fp8_flops_per_s,
            "mxfp8": self.dense_fp8_flops_per_s,
            "fp4": self.dense_fp4_flops_per_s,
            "mxfp4": self.dense_fp4_flops_per_s,
            "nvfp4": self.dense_fp4_flops_per_s,
        }
        return rates[precision]


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
    ``docs/systems.md``. Counts and wiring are facts with sources like any bandwidth.
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
    nic_attach: Literal["pcie", "gpu"] = "pcie"
    p2p: bool = True
    nvswitch: str | None = None
    nvswitch_count: int = 0
    gpu_links_per_nvswitch: tuple[int, ...] = ()
    link_matrix: tuple[tuple[int, ...], ...] = ()
    mesh_link: str | None = None
    board_count: int = 1
    inter_board_links_per_nvswitch: int = 0
    nvlink_bridge_pairs: tuple[tuple[int, int], ...] = ()
    nvlink_bridge_link_count: int = 0
    gpus_per_host: int = 0
    host_gpu_link: str | None = None
    host_gpu_link_count: int = 0
    gpus_per_nvswitch_group: int = 0
    nvswitch_uplinks: tuple[int, ...] = ()
    spine_nvswitch: str | None = None
    spine_nvswitch_count: int = 0
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
