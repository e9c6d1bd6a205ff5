"""The scale-up side of a system: how GPUs reach each other without the network.

``nvswitch``            every GPU links to every NVSwitch chip (``gpu_links_per_nvswitch``)
``nvswitch-two-board``  DGX-2: two boards of NVSwitch chips, chip k of board 0 wired to chip k
                        of board 1 with ``inter_board_links_per_nvswitch`` links
``mesh``                direct GPU-to-GPU links from a matrix of link counts (``link_matrix``,
                        what ``nvidia-smi topo -m`` shows as NV#) of one link type per system
                        (``mesh_link``, default the GPU's own): DGX-1's hybrid cube-mesh, 4-GPU
                        HGX H100, AMD Infinity Fabric platforms, Gaudi 3's on-chip RoCE mesh
``pcie``                no switch; optional NVLink bridges between ``nvlink_bridge_pairs``

Every GPU-to-GPU or GPU-to-switch link is on the ``nvlink`` (scale-up) tier, whatever its family,
so collectives route over it exactly as over NVLink.
"""

from __future__ import annotations

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import LinkSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.hosts import NodeOptions

__all__ = ["add_nvswitch_chips", "add_scale_up", "scale_up_link", "wire_gpus_to_chips"]


def scale_up_link(
    catalog: Catalog, system: SystemSpec, options: NodeOptions
) -> tuple[LinkSpec, int | None] | None:
    """The GPUs' scale-up link type and the active lanes per link (None = all), if any."""
    gpu = catalog.gpu(system.gpu)
    link_id = system.mesh_link if system.topology == "mesh" and system.mesh_link else gpu.nvlink
    if link_id is None:
        return None
    link = catalog.link(link_id)
    lanes = options.nvlink_lanes_per_link
    if lanes is not None and not 1 <= lanes <= link.lanes_per_direction:
        raise TopologyError(
            f"nvlink_lanes_per_link={lanes} is outside 1..{link.lanes_per_direction} for {link.id}"
        )
    return link, lanes


def add_nvswitch_chips(
    fabric: Fabric,
    catalog: Catalog,
    switch_id: str,
    ids: list[str],
    node: int,
    **attributes: int,
) -> None:
    """NVSwitch chips (or NVLink switch boxes) of one catalog switch spec."""
    spec = catalog.switch(switch_id)
    for chip in ids:
        fabric.add_device(
            chip,
            kind="nvswitch",
            spec=spec.id,
            node=node,
            sharp=spec.sharp,
            multicast=spec.multicast,
            **attributes,
        )


def wire_gpus_to_chips(
    fabric: Fabric,
    gpus: list[str],
    chips: list[str],
    links_per_chip: tuple[int, ...],
    link: LinkSpec,
    lanes: int | None,
) -> None:
    """Every GPU to every chip with ``links_per_chip[k]`` links to chip k."""
    for gpu_id in gpus:
        for chip, count in zip(chips, links_per_chip, strict=True):
            if count:
                fabric.add_duplex_link(gpu_id, chip, link, link_count=count, lane_count=lanes)


def add_scale_up(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    gpus: list[str],
    options: NodeOptions,
) -> None:
    """Add the scale-up links of a single-host system (families other than ``nvlink-domain``)."""
    found = scale_up_link(catalog, system, options)
    if found is None:
        if system.topology != "pcie":
            raise TopologyError(f"{system.id}: GPU {system.gpu} has no scale-up link")
        return
    link, lanes = found
    node = int(fabric.graph.nodes[gpus[0]]["node"])
    if system.topology == "nvswitch":
        chips = [f"{prefix}nvsw{k}" for k in range(system.nvswitch_count)]
        add_nvswitch_chips(fabric, catalog, system.nvswitch or "", chips, node, board=0, level=1)
        wire_gpus_to_chips(fabric, gpus, chips, system.gpu_links_per_nvswitch, link, lanes)
    elif system.topology == "nvswitch-two-board":
        _add_two_board(fabric, catalog, system, prefix, gpus, link, lanes)
    elif system.topology == "mesh":
        _add_mesh(fabric, system, gpus, link, lanes)
    else:
        for a, b in system.nvlink_bridge_pairs:
            fabric.add_duplex_link(
                gpus[a],
                gpus[b],
                link,
                link_count=system.nvlink_bridge_link_count,
                lane_count=lanes,
                tier="nvlink",
            )


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
    per_board = system.nvswitch_count // boards
    gpus_per_board = system.gpu_count // boards
    node = int(fabric.graph.nodes[gpus[0]]["node"])
    board_chips = []
    for board in range(boards):
        chips = [f"{prefix}nvsw{board * per_board + k}" for k in range(per_board)]
        add_nvswitch_chips(fabric, catalog, system.nvswitch or "", chips, node, board=board)
        board_gpus = gpus[board * gpus_per_board : (board + 1) * gpus_per_board]
        wire_gpus_to_chips(fabric, board_gpus, chips, system.gpu_links_per_nvswitch, link, lanes)
        board_chips.append(chips)
    for board in range(boards - 1):
        for a, b in zip(board_chips[board], board_chips[board + 1], strict=True):
            fabric.add_duplex_link(
                a, b, link, link_count=system.inter_board_links_per_nvswitch, lane_count=lanes
            )


def _add_mesh(
    fabric: Fabric, system: SystemSpec, gpus: list[str], link: LinkSpec, lanes: int | None
) -> None:
    matrix = system.link_matrix
    for i, row in enumerate(matrix):
        for j in range(i + 1, len(row)):
            if row[j]:
                fabric.add_duplex_link(
                    gpus[i], gpus[j], link, link_count=row[j], lane_count=lanes, tier="nvlink"
                )
