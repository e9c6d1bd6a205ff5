"""Build the inside of one system (a DGX, an HGX box, a PCIe server, an NVL72 rack).

Every number comes from the catalog: link rates from link specs, counts and wiring from the
system spec. Node ids are prefixed with ``n<index>/`` so several systems can share one fabric.

The host part (CPU sockets, PCIe switches, NICs) is common to all families; the NVLink part is
chosen by the system's ``topology``:

``nvswitch``            every GPU links to every NVSwitch chip (``gpu_links_per_nvswitch``)
``nvswitch-two-board``  DGX-2: two boards of NVSwitch chips, chip k of board 0 wired to chip k
                        of board 1 with ``inter_board_links_per_nvswitch`` links
``hybrid-cube-mesh``    DGX-1: direct GPU-GPU links from ``nvlink_matrix``
``pcie``                no NVSwitch; optional NVLink bridges between ``nvlink_bridge_pairs``
``nvl-rack``            GB200 NVL72: hosts of ``gpus_per_host`` GPUs attached to Grace CPUs by
                        ``host_gpu_link``; every GPU links to every NVLink switch chip
"""

from __future__ import annotations

from dataclasses import dataclass, field

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import LinkSpec, NicSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric

__all__ = ["NodeOptions", "NodePorts", "add_system", "slower_link"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOptions:
    """What-if choices applied while building a system.

    Attributes
    ----------
    nic : str, optional
        Catalog id of a NIC replacing the system's compute NICs (same count).
    nic_count : int, optional
        Number of compute NICs replacing the system's count (cloud shapes: 32 x 100G EFA).
    nvlink_lanes_per_link : int, optional
        Active lanes per NVLink link, e.g. half of the spec's to model the "half the lanes"
        misconfiguration. Default: all lanes.
    """

    nic: str | None = None
    nic_count: int | None = None
    nvlink_lanes_per_link: int | None = None


@dataclass(slots=True)
class NodePorts:
    """Handles to one built system, for wiring it into a larger fabric."""

    index: int
    gpus: list[str] = field(default_factory=list)
    nics: list[str] = field(default_factory=list)
    nic_rails: list[int] = field(default_factory=list)


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


def _nvlink_lanes(link: LinkSpec, options: NodeOptions) -> int | None:
    lanes = options.nvlink_lanes_per_link
    if lanes is None:
        return None
    if not 1 <= lanes <= link.lanes_per_direction:
        raise TopologyError(
            f"nvlink_lanes_per_link={lanes} is outside 1..{link.lanes_per_direction} for {link.id}"
        )
    return lanes


def add_system(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    *,
    index: int = 0,
    options: NodeOptions | None = None,
) -> NodePorts:
    """Add one system's devices and internal links to ``fabric``.

    Parameters
    ----------
    fabric : Fabric
        Fabric to add to.
    catalog : Catalog
        Spec catalog the system's ids refer to.
    system : SystemSpec
        The system to build.
    index : int
        Node index; ids are prefixed ``n<index>/`` and GPUs get rank ``index * gpu_count + i``.
    options : NodeOptions, optional
        What-if choices (NIC swap, NVLink lanes).

    Returns
    -------
    NodePorts
        GPU and NIC ids (with each NIC's rail) for wiring to a scale-out network.
    """
    options = options or NodeOptions()
    prefix = f"n{index}/"
    ports = NodePorts(index=index)
    if system.topology == "nvlink-domain":
        _add_rack_hosts(fabric, catalog, system, prefix, ports, options)
    else:
        _add_host(fabric, catalog, system, prefix, ports, options)
    _add_nvlink(fabric, catalog, system, prefix, ports, options)
    return ports


# -- host side: CPUs, PCIe switches, GPUs and NICs on the PCIe tree -----------------------------


def _nic_spec(catalog: Catalog, system: SystemSpec, options: NodeOptions) -> NicSpec | None:
    nic_id = options.nic or system.nic
    return None if nic_id is None else catalog.nic(nic_id)


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
    fabric: Fabric,
    nic: NicSpec,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    j: int,
    nic_count: int,
) -> str:
    nic_id = f"{prefix}nic{j}"
    rails = system.rail_count if nic_count == system.nic_count else nic_count
    rail = j % rails if rails else j
    fabric.add_device(nic_id, kind="nic", spec=nic.id, node=ports.index, rail=rail)
    ports.nics.append(nic_id)
    ports.nic_rails.append(rail)
    return nic_id


def _add_host(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
) -> None:
    cpu_pcie = catalog.link(system.cpu_pcie)
    cpus = [f"{prefix}cpu{s}" for s in range(system.cpu_socket_count)]
    for socket, cpu in enumerate(cpus):
        fabric.add_device(cpu, kind="cpu", model=system.cpu_model, node=ports.index, socket=socket)
    _link_sockets(fabric, catalog, system, cpus)

    # PCIe attachment points: switches spread evenly over sockets, or the sockets themselves.
    if system.pcie_switch_count:
        attach = [f"{prefix}pcisw{k}" for k in range(system.pcie_switch_count)]
        for k, switch in enumerate(attach):
            cpu = cpus[k * len(cpus) // len(attach)]
            fabric.add_device(switch, kind="pcie_switch", node=ports.index)
            fabric.add_duplex_link(
                switch, cpu, cpu_pcie, lane_count=system.pcie_switch_uplink_lanes
            )
    else:
        attach = cpus

    gpu = catalog.gpu(system.gpu)
    gpu_pcie = slower_link(catalog.link(gpu.pcie), cpu_pcie)
    for i in range(system.gpu_count):
        gpu_id = _add_gpu(fabric, system, prefix, ports, i)
        fabric.add_duplex_link(
            gpu_id, attach[i * len(attach) // system.gpu_count], gpu_pcie, lane_count=gpu.pcie_lanes
        )

    nic = _nic_spec(catalog, system, options)
    nic_count = system.nic_count if options.nic_count is None else options.nic_count
    if nic is None or not nic_count:
        return
    nic_pcie = slower_link(catalog.link(nic.host_link), cpu_pcie)
    for j in range(nic_count):
        nic_id = _add_nic(fabric, nic, system, prefix, ports, j, nic_count)
        fabric.add_duplex_link(
            nic_id, attach[j * len(attach) // nic_count], nic_pcie, lane_count=nic.host_lanes
        )


def _link_sockets(fabric: Fabric, catalog: Catalog, system: SystemSpec, cpus: list[str]) -> None:
    if len(cpus) < 2:
        return
    if len(cpus) != 2:
        raise TopologyError(f"{system.id}: only 1 or 2 CPU sockets per host are modelled")
    fabric.add_duplex_link(
        cpus[0],
        cpus[1],
        catalog.link(system.inter_socket_link),
        link_count=system.inter_socket_link_count,
    )


def _add_rack_hosts(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
) -> None:
    """NVL72-style racks: each host (compute tray) has its own CPUs, GPUs hang off the CPUs."""
    if not system.gpus_per_host or system.host_gpu_link is None:
        raise TopologyError(f"{system.id}: nvl-rack systems need gpus_per_host and host_gpu_link")
    if system.gpu_count % system.gpus_per_host:
        raise TopologyError(f"{system.id}: gpu_count is not a multiple of gpus_per_host")
    host_count = system.gpu_count // system.gpus_per_host
    c2c = catalog.link(system.host_gpu_link)
    cpu_pcie = catalog.link(system.cpu_pcie)
    nic = _nic_spec(catalog, system, options)
    nics_per_host = system.nic_count // host_count if nic is not None else 0
    gpus_per_cpu = system.gpus_per_host // system.cpu_socket_count
    for host in range(host_count):
        cpus = [
            f"{prefix}cpu{host * system.cpu_socket_count + s}"
            for s in range(system.cpu_socket_count)
        ]
        for socket, cpu in enumerate(cpus):
            fabric.add_device(
                cpu, kind="cpu", model=system.cpu_model, node=ports.index, host=host, socket=socket
            )
        _link_sockets(fabric, catalog, system, cpus)
        for local in range(system.gpus_per_host):
            i = host * system.gpus_per_host + local
            gpu_id = _add_gpu(fabric, system, prefix, ports, i)
            fabric.add_duplex_link(
                gpu_id, cpus[local // gpus_per_cpu], c2c, link_count=system.host_gpu_link_count or 1
            )
        if nic is None:
            continue
        nic_pcie = slower_link(catalog.link(nic.host_link), cpu_pcie)
        for local in range(nics_per_host):
            j = host * nics_per_host + local
            nic_id = _add_nic(fabric, nic, system, prefix, ports, j, system.nic_count)
            cpu = cpus[local * len(cpus) // nics_per_host]
            fabric.add_duplex_link(nic_id, cpu, nic_pcie, lane_count=nic.host_lanes)


# -- NVLink side ---------------------------------------------------------------------------------


def _add_nvlink(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
) -> None:
    gpu = catalog.gpu(system.gpu)
    if gpu.nvlink is None:
        if system.topology not in ("pcie",):
            raise TopologyError(f"{system.id}: GPU {gpu.id} has no NVLink for {system.topology}")
        return
    link = catalog.link(gpu.nvlink)
    lanes = _nvlink_lanes(link, options)
    if system.topology in ("nvswitch", "nvlink-domain"):
        _add_switched(fabric, catalog, system, prefix, ports.gpus, link, lanes)
    elif system.topology == "nvswitch-two-board":
        _add_two_board(fabric, catalog, system, prefix, ports.gpus, link, lanes)
    elif system.topology == "mesh":
        _add_mesh(fabric, system, ports.gpus, link, lanes)
    elif system.topology == "pcie":
        for a, b in system.nvlink_bridge_pairs:
            fabric.add_duplex_link(
                ports.gpus[a],
                ports.gpus[b],
                link,
                link_count=system.nvlink_bridge_link_count,
                lane_count=lanes,
            )


def _add_nvswitch_chips(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    count: int,
    ports_index: int,
    board: int = 0,
) -> list[str]:
    if system.nvswitch is None:
        raise TopologyError(f"{system.id}: topology {system.topology} needs an nvswitch id")
    spec = catalog.switch(system.nvswitch)
    chips = []
    for k in range(count):
        chip = f"{prefix}nvsw{board * count + k}"
        fabric.add_device(
            chip,
            kind="nvswitch",
            spec=spec.id,
            node=ports_index,
            sharp=spec.sharp,
            multicast=spec.multicast,
            board=board,
        )
        chips.append(chip)
    return chips


def _check_links_per_switch(system: SystemSpec, count: int) -> None:
    if len(system.gpu_links_per_nvswitch) != count:
        raise TopologyError(
            f"{system.id}: gpu_links_per_nvswitch has {len(system.gpu_links_per_nvswitch)} "
            f"entries for {count} NVSwitch chips"
        )


def _add_switched(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    gpus: list[str],
    link: LinkSpec,
    lanes: int | None,
) -> None:
    _check_links_per_switch(system, system.nvswitch_count)
    index = int(fabric.graph.nodes[gpus[0]]["node"])
    chips = _add_nvswitch_chips(fabric, catalog, system, prefix, system.nvswitch_count, index)
    for gpu_id in gpus:
        for chip, count in zip(chips, system.gpu_links_per_nvswitch, strict=True):
            if count:
                fabric.add_duplex_link(gpu_id, chip, link, link_count=count, lane_count=lanes)


def _add_two_board(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    gpus: list[str],
    link: LinkSpec,
    lanes: int | None,
) -> None:
    boards = system.board_count
    if boards < 2 or system.nvswitch_count % boards or system.gpu_count % boards:
        raise TopologyError(f"{system.id}: GPUs and NVSwitch chips must split over the boards")
    per_board = system.nvswitch_count // boards
    _check_links_per_switch(system, per_board)
    gpus_per_board = system.gpu_count // boards
    index = int(fabric.graph.nodes[gpus[0]]["node"])
    board_chips = [
        _add_nvswitch_chips(fabric, catalog, system, prefix, per_board, index, board)
        for board in range(boards)
    ]
    for i, gpu_id in enumerate(gpus):
        chips = board_chips[i // gpus_per_board]
        for chip, count in zip(chips, system.gpu_links_per_nvswitch, strict=True):
            if count:
                fabric.add_duplex_link(gpu_id, chip, link, link_count=count, lane_count=lanes)
    for board in range(boards - 1):
        for k in range(per_board):
            fabric.add_duplex_link(
                board_chips[board][k],
                board_chips[board + 1][k],
                link,
                link_count=system.inter_board_links_per_nvswitch,
                lane_count=lanes,
            )


def _add_mesh(
    fabric: Fabric, system: SystemSpec, gpus: list[str], link: LinkSpec, lanes: int | None
) -> None:
    matrix = system.link_matrix
    n = system.gpu_count
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise TopologyError(f"{system.id}: link_matrix must be {n} x {n}")
    for i in range(n):
        for j in range(n):
            if matrix[i][j] != matrix[j][i]:
                raise TopologyError(f"{system.id}: link_matrix is not symmetric at [{i}][{j}]")
            if j > i and matrix[i][j]:
                fabric.add_duplex_link(
                    gpus[i], gpus[j], link, link_count=matrix[i][j], lane_count=lanes
                )
