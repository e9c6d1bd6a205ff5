"""Paths between devices of a fabric.

GPUs are endpoints, never transit points: a path between two GPUs never passes through a third
GPU (CUDA peer copies do not forward through GPUs; rings that do are built by the collective
algorithms, hop by hop). Among the remaining paths the router prefers few hops over fast links
(edge weight ``1 + 1 GB/s / bandwidth``), so NVLink beats PCIe and a direct NVSwitch hop beats a
detour through the CPU.

With P2P off (``fabric.p2p is False``) GPU-to-GPU traffic is staged through host memory: it
may not use NVLink, and must pass through the source GPU's CPU socket.

Between two GPUs of one system the path is searched inside that system first (its devices are
the ones carrying its ``node`` number); only if the system has no such path of its own does the
search take in the rest of the fabric. So the route inside a node never depends on the network
around it, and every node of a kind routes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from interconnect_sim.errors import TopologyError
from interconnect_sim.topology.fabric import BANDWIDTH, TIER, Fabric

__all__ = ["gpu_path"]

_ONE_GB_PER_S = 1e9


def _weight(_: str, __: str, data: dict[str, Any]) -> float:
    return 1.0 + _ONE_GB_PER_S / float(data[BANDWIDTH])


def _view(fabric: Fabric, keep: set[str], *, nvlink: bool, within: int | None) -> nx.DiGraph:
    graph = fabric.graph
    nodes = graph.nodes

    def node_ok(node: str) -> bool:
        if within is not None and nodes[node].get("node") != within:
            return False
        return node in keep or nodes[node]["kind"] != "gpu"

    def edge_ok(src: str, dst: str) -> bool:
        return nvlink or graph.edges[src, dst][TIER] != "nvlink"

    return nx.subgraph_view(graph, filter_node=node_ok, filter_edge=edge_ok)


def _shortest(graph: nx.DiGraph, src: str, dst: str, weight: Callable[..., float]) -> list[str]:
    try:
        return list(nx.dijkstra_path(graph, src, dst, weight=weight))
    except nx.NetworkXNoPath:
        raise TopologyError(f"no path from {src!r} to {dst!r}") from None


def gpu_path(fabric: Fabric, src: str, dst: str) -> list[str]:
    """The path data takes from GPU ``src`` to GPU ``dst``.

    Parameters
    ----------
    fabric : Fabric
        Fabric holding both GPUs.
    src, dst : str
        GPU node ids.

    Returns
    -------
    list of str
        Node ids from ``src`` to ``dst`` inclusive.

    Examples
    --------
    >>> from interconnect_sim.specs import load_catalog
    >>> from interconnect_sim.topology.presets import FabricRequest, build_fabric
    >>> fabric = build_fabric(load_catalog(), FabricRequest(system="dgx-h100"))
    >>> gpu_path(fabric, "n0/gpu0", "n0/gpu1")
    ['n0/gpu0', 'n0/nvsw0', 'n0/gpu1']
    """
    for gpu in (src, dst):
        if gpu not in fabric.graph or fabric.kind(gpu) != "gpu":
            raise TopologyError(f"{gpu!r} is not a GPU of {fabric.name!r}")
    node = fabric.graph.nodes[src].get("node")
    if node is not None and fabric.graph.nodes[dst].get("node") == node:
        try:
            return _path(fabric, src, dst, within=int(node))
        except TopologyError:
            pass  # nothing inside the system: search the whole fabric
    return _path(fabric, src, dst, within=None)


def _path(fabric: Fabric, src: str, dst: str, *, within: int | None) -> list[str]:
    """The path, searched among the devices of system ``within`` only, or everywhere."""
    if fabric.p2p:
        return _shortest(_view(fabric, {src, dst}, nvlink=True, within=within), src, dst, _weight)
    graph = _view(fabric, {src, dst}, nvlink=False, within=within)
    candidates = (
        fabric.nodes_of_kind("cpu")
        if within is None
        else [d for d in fabric.devices_of_node(within) if fabric.kind(d) == "cpu"]
    )
    cpus = [n for n in candidates if nx.has_path(graph, src, n)]
    if not cpus:
        raise TopologyError(f"{src!r} reaches no CPU to stage through")
    lengths = nx.single_source_dijkstra_path_length(graph, src, weight=_weight)
    host = min(cpus, key=lambda cpu: lengths.get(cpu, float("inf")))
    first = _shortest(graph, src, host, _weight)
    return first + _shortest(graph, host, dst, _weight)[1:]
