"""NVLink domains that span hosts: rack-scale NVL72 and the NVLink Switch System.

One *system* (one fabric "node", ``n<k>/``) is the whole NVLink domain, however many hosts it
has: a GB200/GB300 NVL72 rack is 18 compute trays, an ``h100-nvl256`` is 32 DGX H100, a DGX
GH200 is 256 Grace Hopper superchips. Collectives inside the domain therefore run on NVLink;
only traffic between domains uses the NICs and the fat tree.

* **Hosts** (``gpus_per_host`` GPUs each): superchip hosts whose GPUs reach their Grace CPUs by
  ``host_gpu_link`` (NVLink-C2C), or PCIe hosts built like any server.
* **Level 1**: groups of ``gpus_per_nvswitch_group`` GPUs (default all) share ``nvswitch_count``
  NVSwitch chips (or NVLink switch trays), every GPU wired to every chip of its group with
  ``gpu_links_per_nvswitch`` links (NVL72: one group of 72 GPUs on 18 chips; NVL256: one group
  per DGX H100 on its 4 NVSwitch chips).
* **Level 2** (with ``spine_nvswitch``): chip k of every group sends ``nvswitch_uplinks[k]``
  links up; each of the ``spine_nvswitch_count`` spines takes the same number of links from
  every group, dealt in whole blocks chip by chip. Spines are ``nvswitch`` nodes with ``level``
  2 (``n0/nvspine3``).
"""

from __future__ import annotations

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import LinkSpec, SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.hosts import (
    HostSlice,
    NodeOptions,
    NodePorts,
    add_pcie_host,
    add_superchip_host,
    slower_link,
)
from interconnect_sim.topology.scale_up import (
    add_nvswitch_chips,
    scale_up_link,
    wire_gpus_to_chips,
)

__all__ = ["add_domain"]


def add_domain(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    ports: NodePorts,
    options: NodeOptions,
) -> None:
    """Add one NVLink domain: its hosts, its level-1 switch groups and its spine level."""
    host_count = system.gpu_count // system.gpus_per_host
    if ports.nic_total % host_count:
        raise TopologyError(
            f"{system.id}: {ports.nic_total} NICs do not split over {host_count} hosts"
        )
    nics_per_host = ports.nic_total // host_count
    add_host = add_superchip_host if system.host_gpu_link is not None else add_pcie_host
    for host in range(host_count):
        part = HostSlice(
            host,
            host * system.gpus_per_host,
            system.gpus_per_host,
            host * nics_per_host,
            nics_per_host,
        )
        add_host(fabric, catalog, system, prefix, ports, options, part)
    found = scale_up_link(catalog, system, options)
    if found is None:
        raise TopologyError(f"{system.id}: GPU {system.gpu} has no scale-up link")
    link, lanes = found
    group = system.gpus_per_nvswitch_group or system.gpu_count
    chips_per_group = system.nvswitch_count
    groups: list[list[str]] = []
    for g in range(system.gpu_count // group):
        chips = [f"{prefix}nvsw{g * chips_per_group + k}" for k in range(chips_per_group)]
        add_nvswitch_chips(
            fabric, catalog, system.nvswitch or "", chips, ports.index, group=g, level=1
        )
        members = ports.gpus[g * group : (g + 1) * group]
        wire_gpus_to_chips(fabric, members, chips, system.gpu_links_per_nvswitch, link, lanes)
        groups.append(chips)
    if system.spine_nvswitch is not None:
        _add_spines(fabric, catalog, system, prefix, ports.index, groups, link, lanes)


def _add_spines(
    fabric: Fabric,
    catalog: Catalog,
    system: SystemSpec,
    prefix: str,
    node: int,
    groups: list[list[str]],
    gpu_link: LinkSpec,
    lanes: int | None,
) -> None:
    spine_id = system.spine_nvswitch or ""
    spines = [f"{prefix}nvspine{s}" for s in range(system.spine_nvswitch_count)]
    add_nvswitch_chips(fabric, catalog, spine_id, spines, node, level=2)
    leaf_port = catalog.link(catalog.switch(system.nvswitch or "").port_link)
    uplink = slower_link(leaf_port, catalog.link(catalog.switch(spine_id).port_link))
    uplink_lanes = lanes if uplink.id == gpu_link.id else None
    block = sum(system.nvswitch_uplinks) // len(spines)
    for chips in groups:
        spine = 0
        for chip, count in zip(chips, system.nvswitch_uplinks, strict=True):
            for _ in range(count // block):
                fabric.add_duplex_link(
                    chip, spines[spine], uplink, link_count=block, lane_count=uplink_lanes
                )
                spine += 1
