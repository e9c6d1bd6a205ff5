"""Checks that a system spec can be built: references resolve, counts add up, wiring fits.

Run by the catalog on every system it loads (shipped presets, ``--catalog`` folders, a system
file given on the command line), so a bad file fails on load with one line naming the file, the
key, the value and what is allowed, before any fabric is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from interconnect_sim.errors import SpecError
from interconnect_sim.limits import LIMITS
from interconnect_sim.specs.model import GpuSpec, SystemSpec

if TYPE_CHECKING:
    from interconnect_sim.specs.catalog import Catalog

__all__ = ["check_system"]

_SCALE_UP_FAMILIES = ("nvswitch", "nvswitch-two-board", "nvlink-domain")


def _fail(key: str, message: str) -> SpecError:
    return SpecError(f"{key}: {message}")


def _ref(key: str, lookup: Callable[[], Any]) -> Any:
    """Resolve a reference, naming the key that holds it when it is unknown."""
    try:
        return lookup()
    except SpecError as exc:
        raise _fail(key, str(exc)) from None


def check_system(catalog: Catalog, system: SystemSpec) -> None:
    """Raise :class:`SpecError` (``key: what is wrong``) if ``system`` cannot be built."""
    gpu = _ref("gpu", lambda: catalog.gpu(system.gpu))
    _ref("cpu_pcie", lambda: catalog.link(system.cpu_pcie))
    _ref("inter_socket_link", lambda: catalog.link(system.inter_socket_link))
    if system.gpu_count < 1:
        raise _fail("gpu_count", f"is {system.gpu_count}; a system needs at least 1 GPU")
    if not 1 <= system.cpu_socket_count <= 2:
        raise _fail("cpu_socket_count", f"is {system.cpu_socket_count}; 1 or 2 are modelled")
    _check_counts(system)
    _check_nics(catalog, system)
    if system.topology in _SCALE_UP_FAMILIES and gpu.nvlink is None:
        raise _fail(
            "topology",
            f"{system.topology!r} wires GPUs to switches over their scale-up link, but GPU "
            f"{gpu.id!r} has none (use topology 'pcie')",
        )
    if system.topology == "nvswitch":
        _check_switch_links(catalog, system, gpu, system.gpu_count)
    elif system.topology == "nvswitch-two-board":
        _check_two_board(catalog, system, gpu)
    elif system.topology == "mesh":
        _check_mesh(catalog, system, gpu)
    elif system.topology == "pcie":
        _check_bridges(system, gpu)
    else:
        _check_domain(catalog, system, gpu)


_COUNTS = (
    "gpu_count",
    "inter_socket_link_count",
    "pcie_switch_count",
    "pcie_switch_uplink_lanes",
    "nic_count",
    "rail_count",
    "nvswitch_count",
    "board_count",
    "inter_board_links_per_nvswitch",
    "nvlink_bridge_link_count",
    "gpus_per_host",
    "host_gpu_link_count",
    "gpus_per_nvswitch_group",
    "spine_nvswitch_count",
    "nic_ports_per_cage",
)
_MOST = LIMITS.max_gpus
"""No count in one system comes near the GPUs of the largest fabric accepted."""


def _check_counts(system: SystemSpec) -> None:
    """Counts within ``[0, 65,536]``; links between two sockets and lanes up to a PCIe switch
    at least 1 (a zero link count would fail deep in the graph builder)."""
    for key in _COUNTS:
        value = getattr(system, key)
        if not 0 <= value <= _MOST:
            raise _fail(key, f"is {value}; must be from 0 to {_MOST:,}")
    if system.cpu_socket_count == 2 and system.inter_socket_link_count < 1:
        raise _fail("inter_socket_link_count", "is 0; two sockets need at least 1 link")
    if system.pcie_switch_count and system.pcie_switch_uplink_lanes < 1:
        raise _fail("pcie_switch_uplink_lanes", "is 0; each PCIe switch needs an uplink")


def _check_nics(catalog: Catalog, system: SystemSpec) -> None:
    if system.nic is None:
        return
    _ref("nic", lambda: catalog.nic(system.nic or ""))
    if system.rail_count > system.nic_count:
        raise _fail(
            "rail_count", f"is {system.rail_count} but nic_count is only {system.nic_count}"
        )
    if system.nic_attach == "gpu" and system.nic_count % system.gpu_count:
        raise _fail(
            "nic_count",
            f"is {system.nic_count}; with nic_attach = 'gpu' every GPU carries the same number "
            f"of NICs, so it must be a multiple of gpu_count {system.gpu_count}",
        )


def _check_switch_links(catalog: Catalog, system: SystemSpec, gpu: GpuSpec, gpus: int) -> None:
    """GPU-to-NVSwitch wiring of one switched group of ``gpus`` GPUs."""
    if system.nvswitch is None:
        raise _fail("nvswitch", f"is required for topology {system.topology!r}")
    switch = _ref("nvswitch", lambda: catalog.switch(system.nvswitch or ""))
    links = system.gpu_links_per_nvswitch
    if len(links) != system.nvswitch_count or not system.nvswitch_count:
        raise _fail(
            "gpu_links_per_nvswitch",
            f"has {len(links)} entries {list(links)}; needs one per NVSwitch chip "
            f"(nvswitch_count = {system.nvswitch_count}, at least 1)",
        )
    if sum(links) > gpu.nvlink_count:
        raise _fail(
            "gpu_links_per_nvswitch",
            f"{list(links)} uses {sum(links)} links per GPU but {gpu.id} has {gpu.nvlink_count}",
        )
    uplinks = system.nvswitch_uplinks or (0,) * len(links)
    for k, (count, up) in enumerate(zip(links, uplinks, strict=False)):
        if not count:
            raise _fail(
                "gpu_links_per_nvswitch",
                f"{list(links)} gives chip {k} no links from the GPUs; every chip needs at least 1",
            )
        if gpus * count + up > switch.port_count:
            raise _fail(
                "gpu_links_per_nvswitch",
                f"chip {k} needs {gpus} GPUs x {count} links + {up} uplinks = "
                f"{gpus * count + up} ports but {switch.id} has {switch.port_count}",
            )


def _check_two_board(catalog: Catalog, system: SystemSpec, gpu: GpuSpec) -> None:
    boards = system.board_count
    if boards < 2 or system.nvswitch_count % boards or system.gpu_count % boards:
        raise _fail(
            "board_count",
            f"is {boards}; needs at least 2 boards dividing gpu_count {system.gpu_count} and "
            f"nvswitch_count {system.nvswitch_count}",
        )
    one_board = replace(system, nvswitch_count=system.nvswitch_count // boards)
    _check_switch_links(catalog, one_board, gpu, system.gpu_count // boards)


def _check_mesh(catalog: Catalog, system: SystemSpec, gpu: GpuSpec) -> None:
    link_id = system.mesh_link or gpu.nvlink
    if link_id is None:
        raise _fail("mesh_link", f"is needed: GPU {gpu.id!r} has no scale-up link of its own")
    _ref("mesh_link", lambda: catalog.link(link_id))
    matrix, n = system.link_matrix, system.gpu_count
    if not matrix:
        raise _fail("link_matrix", "is required for topology 'mesh' (links between GPU i and j)")
    if len(matrix) != n or any(len(row) != n for row in matrix):
        shape = f"{len(matrix)} rows of lengths {sorted({len(row) for row in matrix})}"
        raise _fail("link_matrix", f"has {shape}; must be {n} x {n} (gpu_count = {n})")
    for i in range(n):
        if matrix[i][i]:
            raise _fail("link_matrix", f"[{i}][{i}] is {matrix[i][i]}; a GPU has no link to itself")
        for j in range(i):
            if matrix[i][j] != matrix[j][i]:
                raise _fail(
                    "link_matrix",
                    f"is not symmetric: [{i}][{j}] = {matrix[i][j]} but [{j}][{i}] = "
                    f"{matrix[j][i]}",
                )
    if link_id == gpu.nvlink:
        for i, row in enumerate(matrix):
            if sum(row) > gpu.nvlink_count:
                raise _fail(
                    "link_matrix",
                    f"row {i} uses {sum(row)} links but {gpu.id} has {gpu.nvlink_count}",
                )


def _check_bridges(system: SystemSpec, gpu: GpuSpec) -> None:
    if not system.nvlink_bridge_pairs:
        return
    if gpu.nvlink is None:
        raise _fail("nvlink_bridge_pairs", f"are given but GPU {gpu.id!r} has no NVLink")
    for a, b in system.nvlink_bridge_pairs:
        if not (0 <= a < system.gpu_count and 0 <= b < system.gpu_count) or a == b:
            raise _fail(
                "nvlink_bridge_pairs",
                f"pair [{a}, {b}] must name two different GPUs 0..{system.gpu_count - 1}",
            )
    if system.nvlink_bridge_link_count < 1:
        raise _fail("nvlink_bridge_link_count", "must be at least 1 when bridges are given")


def _check_domain(catalog: Catalog, system: SystemSpec, gpu: GpuSpec) -> None:
    """NVLink domains across hosts: hosts, switch groups and the optional spine level."""
    per_host, n = system.gpus_per_host, system.gpu_count
    if per_host < 1 or n % per_host:
        raise _fail("gpus_per_host", f"is {per_host}; must be at least 1 and divide gpu_count {n}")
    if system.host_gpu_link is not None:
        _ref("host_gpu_link", lambda: catalog.link(system.host_gpu_link or ""))
        if per_host % system.cpu_socket_count:
            raise _fail(
                "gpus_per_host",
                f"is {per_host}; superchip hosts split GPUs evenly over cpu_socket_count "
                f"{system.cpu_socket_count}",
            )
    group = system.gpus_per_nvswitch_group or n
    if n % group or group % per_host:
        raise _fail(
            "gpus_per_nvswitch_group",
            f"is {group}; must divide gpu_count {n} and be a multiple of gpus_per_host {per_host}",
        )
    if system.nic is not None and system.nic_count % (n // per_host):
        raise _fail(
            "nic_count", f"is {system.nic_count}; must split evenly over the {n // per_host} hosts"
        )
    _check_switch_links(catalog, system, gpu, group)
    _check_spines(catalog, system, n // group)


def _check_spines(catalog: Catalog, system: SystemSpec, groups: int) -> None:
    if system.spine_nvswitch is None:
        if groups > 1 or system.nvswitch_uplinks:
            raise _fail(
                "spine_nvswitch",
                f"is required: {groups} NVSwitch groups (or nvswitch_uplinks) need a second "
                "level of NVLink switches to form one domain",
            )
        return
    spine = _ref("spine_nvswitch", lambda: catalog.switch(system.spine_nvswitch or ""))
    uplinks, spines = system.nvswitch_uplinks, system.spine_nvswitch_count
    if len(uplinks) != system.nvswitch_count:
        raise _fail(
            "nvswitch_uplinks",
            f"has {len(uplinks)} entries {list(uplinks)}; needs one per NVSwitch chip of a group "
            f"(nvswitch_count = {system.nvswitch_count})",
        )
    total = sum(uplinks)
    if spines < 1 or total % spines or any(up % (total // spines) for up in uplinks):
        raise _fail(
            "spine_nvswitch_count",
            f"is {spines}; each group's {total} uplinks {list(uplinks)} must deal evenly over "
            "the spine switches, whole blocks per chip",
        )
    if groups * (total // spines) > spine.port_count:
        raise _fail(
            "spine_nvswitch_count",
            f"is {spines}: each spine would need {groups} groups x {total // spines} links = "
            f"{groups * total // spines} ports but {spine.id} has {spine.port_count}",
        )
