"""The host side of a system: CPU sockets, PCIe switches, GPUs on PCIe or C2C, and NICs.

A system has one host (a DGX, an HGX server, a PCIe box) or, for NVLink domains spanning hosts,
many (the 18 compute trays of an NVL72 rack, the 32 DGX H100 of an NVLink Switch System). Each
host is built from a :class:`HostSlice`: which GPUs and NICs of the system it holds. Node ids
keep one numbering per system: ``cpu{host * sockets + s}``, ``pcisw{host * switches + k}``,
``gpu{i}``, ``nic{j}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import LinkSpec, NicSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.units import format_rate

__all__ = [
    "HostSlice",
    "NodeOptions",
    "NodePorts",
    "add_pcie_host",
    "add_superchip_host",
    "nic_count_of",
    "nic_spec_of",
    "slower_link",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOptions:
    """What-if choices applied while building a system.

    Attributes
    ----------
    nic : str, optional
        Catalog id of a NIC replacing the system's compute NICs (same count).
    nic_count : int, optional
        Number of compute NICs per system replacing the system's count (cloud shapes: 32 x
        100G EFA); each NIC is then its own rail.
    nvlink_lanes_per_link : int, optional
        Active lanes per scale-up link, e.g. half of the spec's to model the "half the lanes"
        misconfiguration. Default: all lanes.
    """

    nic: str | None = None
    nic_count: int | None = None
    nvlink_lanes_per_link: int | None = None


@dataclass(slots=True)
class NodePorts:
    """Handles to one built system, for wiring it into a larger fabric (``nic_total``: the NICs
    it is built with)."""

    index: int
    gpus: list[str] = field(default_factory=list)
    nics: list[str] = field(default_factory=list)
    nic_rails: list[int] = field(default_factory=list)
    nic_total: int = 0


@dataclass(frozen=True, slots=True)
class HostSlice:
    """The GPUs and NICs of one host of a system (system-wide indices)."""

    host: int
    first_gpu: int
    gpu_count: int
    first_nic: int
    nic_count: int


def slower_link(a: LinkSpec, b: LinkSpec) -> LinkSpec:
    """Of two link types that must interoperate (a Gen4 card in a Gen5 slot), the slower per lane.

    Examples
    --------
    >>> from interconnect_sim.specs import load_catalog
    >>> c = load_catalog()
    >>> slower_link(c.link("pcie-5"), c.link("pcie-4")).id
    'pcie-4'
    """
    rate_a = a.data_rate_per_direction_bytes_per_s / a.lanes_per_direction
    rate_b = b.data_rate_per_direction_bytes_per_s / b.lanes_per_direction
    return a if rate_a <= rate_b else b


def nic_spec_of(catalog: Catalog, system: SystemSpec, options: NodeOptions) -> NicSpec | None:
    """The compute NIC of a system after the what-if swap, if it has one."""
    nic_id = options.nic or system.nic
    return None if nic_id is None else catalog.nic(nic_id)


def nic_count_of(system: SystemSpec, options: NodeOptions) -> int:
    """Compute NICs per system after the what-if count."""
    return system.nic_count if options.nic_count is None else options.nic_count


def _add_gpu(fabric: Fabric, system: SystemSpec, prefix: str, ports: NodePorts, i: int) -> str:
    gpu_id = f"{prefix}gpu{i}"
    fabric.add_device(
        gpu_id,
        kind="gpu",
        spec=system.gpu,
        node=ports.index,
        local_rank=i,
        rank=ports.index * system.gpu_count + i,
    )
    ports.gpus.append(gpu_id)
    return gpu_id


def _add_nic(
    fabric: Fabric, nic: NicSpec, system: SystemSpec, prefix: str, ports: NodePorts, j: int
) -> str:
    nic_id = f"{prefix}nic{j}"
    # The system's rails when built with its own NIC count; each NIC its own rail otherwise.
    rails = system.rail_count if ports.nic_total == system.nic_count else ports.nic_total
    rail = j % rails if rails else j
    fabric.add_device(nic_id, kind="nic", spec=nic.id, node=ports.index, rail=rail)
    ports.nics.append(nic_id)
    ports.nic_rails.append(rail)
    return nic_id


def _host_link_note(fabric: Fabric, nic: NicSpec, link: LinkSpec, lanes: int, port: float) -> None:
    rate = link.rate_for_lanes_bytes_per_s(lanes)
    if rate < port * 0.99:
        fabric.warn(
            f"{nic.id} NICs ({format_rate(port)} per direction) sit on {link.id} x{lanes} host "
            f"links ({format_rate(rate)}): the host link limits each NIC to {format_rate(rate)}"
        )


def _attach_nics(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    part: HostSlice,
    nic: NicSpec,
    attach: list[str],
) -> None:
    """NICs on the host's PCIe attachment points, or directly on their GPUs (``nic_attach``)."""
    port = catalog.link(nic.port_link).data_rate_per_direction_bytes_per_s * nic.port_count
    if system.nic_attach == "gpu":
        link = catalog.link(nic.host_link)
    else:
        link = slower_link(catalog.link(nic.host_link), catalog.link(system.cpu_pcie))
    _host_link_note(fabric, nic, link, nic.host_lanes, port)
    for local in range(part.nic_count):
        nic_id = _add_nic(fabric, nic, system, prefix, ports, part.first_nic + local)
        if system.nic_attach == "gpu":
            gpu = part.first_gpu + local * part.gpu_count // part.nic_count
            target = f"{prefix}gpu{gpu}"
        else:
            target = attach[local * len(attach) // part.nic_count]
        fabric.add_duplex_link(nic_id, target, link, lane_count=nic.host_lanes)


def _add_cpus(
    fabric: Fabric, catalog: Catalog, system: SystemSpec, prefix: str, index: int, host: int
) -> list[str]:
    sockets = system.cpu_socket_count
    cpus = [f"{prefix}cpu{host * sockets + s}" for s in range(sockets)]
    for socket, cpu in enumerate(cpus):
        fabric.add_device(
            cpu, kind="cpu", model=system.cpu_model, node=index, host=host, socket=socket
        )
    if len(cpus) == 2:
        fabric.add_duplex_link(
            cpus[0],
            cpus[1],
            catalog.link(system.inter_socket_link),
            link_count=system.inter_socket_link_count,
        )
    elif len(cpus) > 2:
        raise TopologyError(f"{system.id}: only 1 or 2 CPU sockets per host are modelled")
    return cpus


def add_pcie_host(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
    part: HostSlice,
) -> None:
    """A host whose GPUs and NICs hang off PCIe switches (or the CPU root ports)."""
    cpus = _add_cpus(fabric, catalog, system, prefix, ports.index, part.host)
    cpu_pcie = catalog.link(system.cpu_pcie)
    if system.pcie_switch_count:
        count = system.pcie_switch_count
        attach = [f"{prefix}pcisw{part.host * count + k}" for k in range(count)]
        for k, switch in enumerate(attach):
            fabric.add_device(switch, kind="pcie_switch", node=ports.index, host=part.host)
            fabric.add_duplex_link(
                switch,
                cpus[k * len(cpus) // count],
                cpu_pcie,
                lane_count=system.pcie_switch_uplink_lanes,
            )
    else:
        attach = cpus
    gpu = catalog.gpu(system.gpu)
    gpu_pcie = slower_link(catalog.link(gpu.pcie), cpu_pcie)
    for local in range(part.gpu_count):
        gpu_id = _add_gpu(fabric, system, prefix, ports, part.first_gpu + local)
        fabric.add_duplex_link(
            gpu_id,
            attach[local * len(attach) // part.gpu_count],
            gpu_pcie,
            lane_count=gpu.pcie_lanes,
        )
    nic = nic_spec_of(catalog, system, options)
    if nic is not None and part.nic_count:
        _attach_nics(fabric, catalog, system, prefix, ports, part, nic, attach)


def add_superchip_host(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
    part: HostSlice,
) -> None:
    """A host of Grace-class CPUs with GPUs attached by a chip-to-chip link (NVLink-C2C)."""
    if system.host_gpu_link is None:
        raise TopologyError(f"{system.id}: superchip hosts need host_gpu_link")
    cpus = _add_cpus(fabric, catalog, system, prefix, ports.index, part.host)
    c2c = catalog.link(system.host_gpu_link)
    per_cpu = part.gpu_count // len(cpus)
    for local in range(part.gpu_count):
        gpu_id = _add_gpu(fabric, system, prefix, ports, part.first_gpu + local)
        fabric.add_duplex_link(
            gpu_id, cpus[local // per_cpu], c2c, link_count=system.host_gpu_link_count or 1
        )
    nic = nic_spec_of(catalog, system, options)
    if nic is not None and part.nic_count:
        _attach_nics(fabric, catalog, system, prefix, ports, part, nic, cpus)
