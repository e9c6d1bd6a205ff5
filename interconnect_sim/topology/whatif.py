"""What-if edits of a built fabric: failed links and devices, P2P off, degraded links.

Each function returns a new, validated :class:`Fabric` and leaves its input untouched. Knobs
that change what is *built* (a different NIC or switch, fewer NVLink lanes everywhere) are
options of :func:`interconnect_sim.topology.presets.build_fabric` instead.

Each also says which systems it changed (:mod:`~interconnect_sim.topology.structure`): an edited
node is analysed by itself from then on, while the untouched ones still share their analyses.
And it records in the graph's attributes whether it changed the network (``modified_network``:
a NIC link or a network switch), after which engines no longer give the identical copies of a
communicator one shared rate (:func:`network_modified`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from interconnect_sim.errors import TopologyError
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_COUNT, Fabric
from interconnect_sim.topology.structure import record_node_kinds

__all__ = [
    "MODIFIED_NETWORK",
    "network_modified",
    "with_device_degraded",
    "with_devices_moved",
    "with_link_degraded",
    "with_links_disabled",
    "with_p2p",
    "without_device",
    "without_link",
]

MODIFIED_NETWORK = "modified_network"
"""Graph attribute: True once a what-if changed a NIC link or a network switch."""


def network_modified(fabric: Fabric) -> bool:
    """Whether a what-if changed a NIC link or a network switch."""
    return bool(fabric.graph.graph.get(MODIFIED_NETWORK, False))


def _mark(fabric: Fabric, *devices: str) -> None:
    """Record whether changing ``devices`` (and the links between them) changed the network."""
    graph = fabric.graph
    network = network_modified(fabric)
    for device in devices:
        data = graph.nodes[device] if device in graph else {}
        if data.get("kind") in ("nic", "leaf", "spine", "core") or "node" not in data:
            network = True
    graph.graph[MODIFIED_NETWORK] = network


def with_p2p(fabric: Fabric, enabled: bool) -> Fabric:
    """Turn GPU peer-to-peer on or off.

    With P2P off, GPU-to-GPU traffic may use neither NVLink nor a PCIe switch turnaround: it is
    staged through host memory (see :func:`interconnect_sim.topology.routing.gpu_path`).
    """
    result = fabric.copy()
    result.graph.graph["p2p"] = enabled
    _keep_kinds(fabric, result, ())
    return result


def _keep_kinds(fabric: Fabric, result: Fabric, devices: Iterable[str]) -> None:
    """Carry ``fabric``'s node kinds over to ``result``, the nodes of ``devices`` made unique."""
    kinds = fabric.node_kinds
    if kinds is None:
        return
    nodes = {fabric.graph.nodes[d].get("node") for d in devices if d in fabric.graph}
    record_node_kinds(result, kinds.with_own_kind(int(n) for n in nodes if n is not None))


def _require_link(fabric: Fabric, a: str, b: str) -> None:
    if not (fabric.graph.has_edge(a, b) and fabric.graph.has_edge(b, a)):
        raise TopologyError(f"no link between {a!r} and {b!r} in {fabric.name!r}")


def without_link(fabric: Fabric, a: str, b: str) -> Fabric:
    """Remove every physical link between ``a`` and ``b`` (both directions).

    Raises
    ------
    TopologyError
        If there is no such link, or removing it disconnects a GPU.
    """
    _require_link(fabric, a, b)
    result = fabric.copy()
    _mark(result, a, b)
    result.graph.remove_edge(a, b)
    result.graph.remove_edge(b, a)
    result.validate()
    _keep_kinds(fabric, result, (a, b))
    return result


def with_links_disabled(fabric: Fabric, a: str, b: str, count: int = 1) -> Fabric:
    """Disable ``count`` of the parallel links between ``a`` and ``b`` (a failed NVLink).

    The edge keeps its per-link rate; bandwidth drops by ``count`` links. Disabling all links
    removes the edge.
    """
    _require_link(fabric, a, b)
    links = fabric.graph.edges[a, b][LINK_COUNT]
    if not 1 <= count <= links:
        raise TopologyError(f"can disable 1..{links} links between {a!r} and {b!r}, not {count}")
    if count == links:
        return without_link(fabric, a, b)
    result = fabric.copy()
    _mark(result, a, b)
    for src, dst in ((a, b), (b, a)):
        data = result.graph.edges[src, dst]
        data[LINK_COUNT] = links - count
        data[BANDWIDTH] = data["rate_per_link_bytes_per_s"] * (links - count)
    result.validate()
    _keep_kinds(fabric, result, (a, b))
    return result


def _check_fraction(fraction: float, what: str) -> None:
    if not 0.0 < fraction < 1.0:
        raise TopologyError(
            f"{what}: the degraded capacity must be a fraction between 0 and 1 of the healthy "
            f"one (e.g. 0.5 for half), got {fraction}"
        )


def with_link_degraded(fabric: Fabric, a: str, b: str, fraction: float) -> Fabric:
    """Run the link between ``a`` and ``b`` at ``fraction`` of its capacity, both directions
    (a port that trained down to a lower speed, a flapping cable, an error-correcting link).

    Raises
    ------
    TopologyError
        No such link, or a fraction outside (0, 1).
    """
    _require_link(fabric, a, b)
    _check_fraction(fraction, f"link {a} - {b}")
    result = fabric.copy()
    _mark(result, a, b)
    for src, dst in ((a, b), (b, a)):
        result.graph.edges[src, dst][BANDWIDTH] *= fraction
    result.validate()
    _keep_kinds(fabric, result, (a, b))
    return result


def with_device_degraded(fabric: Fabric, device: str, fraction: float) -> Fabric:
    """Run every link of ``device`` (a NIC, a switch, a GPU's NVLinks) at ``fraction`` of its
    capacity: a NIC that negotiated a lower speed, a throttled switch.

    Raises
    ------
    TopologyError
        No such device, or a fraction outside (0, 1).
    """
    if device not in fabric.graph:
        raise TopologyError(f"no device {device!r} in {fabric.name!r}")
    _check_fraction(fraction, f"device {device}")
    result = fabric.copy()
    _mark(result, device)
    graph = result.graph
    for edge in [*graph.out_edges(device), *graph.in_edges(device)]:
        graph.edges[edge][BANDWIDTH] *= fraction
    result.validate()
    _keep_kinds(fabric, result, (device,))
    return result


def without_device(fabric: Fabric, node_id: str) -> Fabric:
    """Remove a failed device (a switch, a NIC) and its links.

    Raises
    ------
    TopologyError
        If the device does not exist, is a GPU (remove GPUs by choosing fewer ranks), or its
        removal disconnects the fabric.
    """
    if node_id not in fabric.graph:
        raise TopologyError(f"no device {node_id!r} in {fabric.name!r}")
    if fabric.kind(node_id) == "gpu":
        raise TopologyError(f"{node_id!r} is a GPU; failed GPUs are modelled by using fewer ranks")
    result = fabric.copy()
    _mark(result, node_id)
    result.graph.remove_node(node_id)
    result.validate()
    # the device's node, and the nodes that lose a link to it (NICs of a failed leaf)
    _keep_kinds(fabric, result, (node_id, *fabric.graph.succ[node_id]))
    return result


def with_devices_moved(fabric: Fabric, moves: Mapping[str, str]) -> Fabric:
    """Re-cable NICs (or GPUs) from their PCIe switch or CPU to new ones, same link type.

    Models cards in the wrong slots: ``{"n0/nic0": "n0/cpu1"}`` puts a NIC under the other CPU
    socket, so it reaches its GPUs only across the inter-socket link.

    Raises
    ------
    TopologyError
        If a device does not exist, hangs off no PCIe switch or CPU, or its new parent is not
        one.
    """
    result = fabric.copy()
    graph = result.graph
    for device, new_parent in moves.items():
        for node in (device, new_parent):
            if node not in graph:
                raise TopologyError(f"no device {node!r} in {fabric.name!r}")
        if result.kind(new_parent) not in ("pcie_switch", "cpu"):
            raise TopologyError(
                f"{new_parent!r} is a {result.kind(new_parent)}, not a PCIe switch or CPU"
            )
        parents = [n for n in graph.successors(device) if result.kind(n) in ("pcie_switch", "cpu")]
        if not parents:
            raise TopologyError(f"{device!r} hangs off no PCIe switch or CPU")
        old = parents[0]
        up, down = dict(graph.edges[device, old]), dict(graph.edges[old, device])
        graph.remove_edge(device, old)
        graph.remove_edge(old, device)
        graph.add_edge(device, new_parent, **up)
        graph.add_edge(new_parent, device, **down)
    result.validate()
    _keep_kinds(fabric, result, (*moves, *moves.values()))
    return result
