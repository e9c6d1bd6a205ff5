"""Build one system (a DGX, an HGX box, a PCIe server, an AMD or Gaudi platform, an NVLink domain).

Every number comes from the catalog: link rates from link specs, counts and wiring from the
system spec, which the catalog has already checked (:mod:`interconnect_sim.specs.system_checks`).
Node ids are prefixed with ``n<index>/`` so several systems can share one fabric.

The host side (CPU sockets, PCIe switches, NICs) is :mod:`~interconnect_sim.topology.hosts`; the
scale-up side is chosen by the system's ``topology``: ``nvswitch``, ``nvswitch-two-board``,
``mesh`` and ``pcie`` in :mod:`~interconnect_sim.topology.scale_up`, ``nvlink-domain`` (NVLink
across hosts, one or two switch levels) in :mod:`~interconnect_sim.topology.domain`.
"""

from __future__ import annotations

from interconnect_sim.errors import SpecError, TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import SystemSpec
from interconnect_sim.specs.system_checks import check_system
from interconnect_sim.topology.domain import add_domain
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.hosts import (
    HostSlice,
    NodeOptions,
    NodePorts,
    add_pcie_host,
    nic_count_of,
    slower_link,
)
from interconnect_sim.topology.scale_up import add_scale_up

__all__ = ["NodeOptions", "NodePorts", "add_system", "check_buildable", "slower_link"]


def check_buildable(catalog: Catalog, system: SystemSpec) -> None:
    """Check a system built in code (not read from a file) the way the catalog checks files.

    Raises
    ------
    TopologyError
        Naming the system, the key and the value that cannot be built.
    """
    try:
        check_system(catalog, system)
    except SpecError as exc:
        raise TopologyError(f"{system.id}: {exc}") from None


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
        The system to build (checked by the catalog, or with :func:`check_buildable`).
    index : int
        Node index; ids are prefixed ``n<index>/`` and GPUs get rank ``index * gpu_count + i``.
    options : NodeOptions, optional
        What-if choices (NIC swap and count, scale-up lanes).

    Returns
    -------
    NodePorts
        GPU and NIC ids (with each NIC's rail) for wiring to a scale-out network.
    """
    options = options or NodeOptions()
    prefix = f"n{index}/"
    ports = NodePorts(index=index, nic_total=nic_count_of(system, options))
    if ports.nic_total < 0:
        raise TopologyError(f"{system.id}: NIC count must not be negative")
    if system.topology == "nvlink-domain":
        add_domain(fabric, catalog, system, prefix, ports, options)
    else:
        part = HostSlice(0, 0, system.gpu_count, 0, ports.nic_total)
        add_pcie_host(fabric, catalog, system, prefix, ports, options, part)
        add_scale_up(fabric, catalog, system, prefix, ports.gpus, options)
    return ports
