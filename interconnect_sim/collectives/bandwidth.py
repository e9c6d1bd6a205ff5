"""Bandwidths a collective can reach on a fabric, derived from the graph.

For a communicator of ``gpus_per_node`` GPUs on each of ``node_count`` nodes (ranks node-major,
the first GPUs of each node) this module finds:

* **Intra-node rings.** NCCL builds several rings ("channels") inside a node and sums their
  rates. We do the same greedily: route every hop of a candidate ring order (NVLink paths where
  they exist, split over parallel switch paths in proportion to their capacity; otherwise the
  PCIe/host path), count how many times the ring crosses each directed link, take the ring's rate
  as ``min(residual capacity / crossings)``, subtract it, and search again until the links are
  used up. Symmetric switched nodes need one ring in rank order; meshes and bridged boxes
  (DGX-1, NVLink-bridge pairs) search every ring order of up to 8 GPUs.
* **The network.** Each used GPU drives its nearest NIC(s); for every rail the inter-node ring
  (node k's NIC to node k+1's NIC) is routed over the fat tree, with equal-cost paths split
  evenly, and the rate per rail is the bottleneck over shared links, PCIe hops included.
* **All-to-all** inside a node: every ordered GPU pair at once, bottleneck over shared links.
* **NVLink injection** per GPU and whether the NVSwitch supports multicast/reduction (NVLS) and
  the leaf switches in-network reduction (SHARP/CollNet).

Nothing here reads a per-system table: a what-if fabric (half the NVLink lanes, a slower NIC, a
failed switch) changes these numbers through the graph.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import networkx as nx

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_SPEC, TIER, Fabric
from interconnect_sim.topology.routing import gpu_path
from interconnect_sim.units import format_rate

__all__ = ["CommunicatorBandwidths", "Flow", "analyse_communicator"]

Edge = tuple[str, str]
Flow = dict[Edge, float]
"""Fraction of one unit of traffic that crosses each directed edge."""

_MAX_RING_SEARCH_GPUS = 8
_MAX_CHANNELS = 32
_NEGLIGIBLE = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunicatorBandwidths:
    """Graph-derived bandwidths of one communicator (bytes per second, one direction).

    Attributes
    ----------
    node_count, gpus_per_node : int
        Communicator shape; ranks = node_count x gpus_per_node.
    ring_intra_bytes_per_s : float
        Sum of the rates of the intra-node rings (per rank); 0 with one GPU per node.
    ring_channel_rates_bytes_per_s : tuple of float
        Rate of each ring found, in search order.
    chain_intra_bytes_per_s : float
        Same for open chains (broadcast, reduce pipeline along a ring without its last hop).
    intra_tier : str
        ``nvlink`` if the rings run over NVLink only, ``pcie`` if they use PCIe peer-to-peer,
        ``host`` if P2P is off and traffic is staged through host memory.
    intra_bottleneck : str
        Human description of the link limiting the first ring.
    shift_intra_bytes_per_s : float
        Per-rank rate of a rank-order ring shift (sendrecv) inside a node.
    alltoall_intra_bytes_per_s : float
        Per-GPU send rate when every GPU of a node sends to every other at once.
    nvlink_per_gpu_bytes_per_s : float
        NVLink injection of one GPU (sum of its NVLink out-edges).
    network_per_node_bytes_per_s : float
        Aggregate rate of the rails a node's GPUs use for an inter-node ring.
    network_per_gpu_bytes_per_s : float
        The share of one GPU: the NIC(s) nearest it.
    rail_count : int
        Rails (NICs per node) the communicator uses.
    network_bottleneck : str
        Human description of the limiting network link.
    transport : str
        NIC transport (``infiniband``, ``roce``, ``efa``, ``tcp``) or ``none``.
    nvls : bool
        NVSwitch multicast / in-switch reduction available (NVLS).
    collnet : bool
        In-network reduction on the leaf switches (SHARP) available to IB NICs.
    architecture : str
        GPU architecture (NCCL's protocol caps depend on it).
    """

    node_count: int
    gpus_per_node: int
    ring_intra_bytes_per_s: float
    ring_channel_rates_bytes_per_s: tuple[float, ...]
    chain_intra_bytes_per_s: float
    intra_tier: str
    intra_bottleneck: str
    shift_intra_bytes_per_s: float
    alltoall_intra_bytes_per_s: float
    nvlink_per_gpu_bytes_per_s: float
    network_per_node_bytes_per_s: float
    network_per_gpu_bytes_per_s: float
    rail_count: int
    network_bottleneck: str
    transport: str
    nvls: bool
    collnet: bool
    architecture: str

    @property
    def rank_count(self) -> int:
        """Number of ranks."""
        return self.node_count * self.gpus_per_node


# -- paths ----------------------------------------------------------------------------------------


class _Paths:
    """Cached hop flows on one fabric (a hop's traffic split over its paths)."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        graph = fabric.graph
        nvlink_nodes = [n for n, k in graph.nodes(data="kind") if k in ("gpu", "nvswitch")]
        self._nvlink = graph.edge_subgraph(
            [(u, v) for u, v, t in graph.edges(data=TIER) if t == "nvlink"]
        ).subgraph(nvlink_nodes)

    @cache  # noqa: B019 - one _Paths per analysis, dropped with it
    def hop(self, src: str, dst: str) -> tuple[tuple[Edge, float], ...]:
        """Edges one unit of ``src -> dst`` traffic crosses, with the fraction on each."""
        flow: Flow = defaultdict(float)
        paths = self._nvlink_paths(src, dst) if self.fabric.p2p else []
        if paths:
            weights = [self._bottleneck(path) for path in paths]
            total = sum(weights)
            for path, weight in zip(paths, weights, strict=True):
                for edge in itertools.pairwise(path):
                    flow[edge] += weight / total
        else:
            for edge in itertools.pairwise(gpu_path(self.fabric, src, dst)):
                flow[edge] += 1.0
        return tuple(flow.items())

    def _nvlink_paths(self, src: str, dst: str) -> list[list[str]]:
        graph = self._nvlink
        if src not in graph or dst not in graph:
            return []
        view = nx.subgraph_view(
            graph, filter_node=lambda n: n in (src, dst) or graph.nodes[n]["kind"] != "gpu"
        )
        try:
            return [list(p) for p in nx.all_shortest_paths(view, src, dst)]
        except nx.NetworkXNoPath:
            return []

    def _bottleneck(self, path: list[str]) -> float:
        graph = self.fabric.graph
        return float(min(graph.edges[e][BANDWIDTH] for e in itertools.pairwise(path)))

    def ring_flow(self, order: tuple[str, ...], *, closed: bool = True) -> Flow:
        """Crossings per directed edge of one unit of traffic on every hop of a ring.

        With ``closed=False`` the last hop back to the start is left out: the chain that
        broadcast and reduce pipeline along.
        """
        flow: Flow = defaultdict(float)
        hops = list(zip(order, order[1:] + order[:1], strict=True))
        for src, dst in hops if closed else hops[:-1]:
            for edge, fraction in self.hop(src, dst):
                flow[edge] += fraction
        return flow


def _rate(flow: Flow, capacity: dict[Edge, float]) -> tuple[float, Edge | None]:
    best, limiting = math.inf, None
    for edge, load in flow.items():
        if load > _NEGLIGIBLE:
            rate = capacity[edge] / load
            if rate < best:
                best, limiting = rate, edge
    return (0.0 if best == math.inf else best), limiting


def _describe(fabric: Fabric, edge: Edge | None, label: str) -> str:
    if edge is None:
        return "none"
    data = fabric.graph.edges[edge]
    per_link = data["rate_per_link_bytes_per_s"]
    return (
        f"{label} {edge[0]} -> {edge[1]}: {data['link_count']} x {format_rate(per_link)} "
        f"({data[LINK_SPEC]})"
    )


# -- intra-node rings ----------------------------------------------------------------------------


def _candidate_orders(paths: _Paths, gpus: list[str]) -> list[tuple[str, ...]]:
    graph = paths.fabric.graph
    direct = any(graph.has_edge(a, b) for a, b in itertools.permutations(gpus, 2))
    if not direct or len(gpus) > _MAX_RING_SEARCH_GPUS or len(gpus) < 3:
        return [tuple(gpus)]
    first, rest = gpus[0], gpus[1:]
    return [(first, *perm) for perm in itertools.permutations(rest)]


def _intra_rings(
    paths: _Paths, gpus: list[str], *, closed: bool = True
) -> tuple[list[float], Edge | None, set[str]]:
    graph = paths.fabric.graph
    capacity = {(u, v): float(d[BANDWIDTH]) for u, v, d in graph.edges(data=True)}
    orders = _candidate_orders(paths, gpus)
    flows = [paths.ring_flow(order, closed=closed) for order in orders]
    rates: list[float] = []
    first_limit: Edge | None = None
    tiers: set[str] = set()
    flow_tiers = [{graph.edges[e][TIER] for e in flow} for flow in flows]
    for _ in range(_MAX_CHANNELS):
        scored = [
            (_rate(flow, capacity), flow)
            for flow, flow_tier in zip(flows, flow_tiers, strict=True)
            if not tiers or flow_tier <= tiers  # later rings stay on the first ring's tiers
        ]
        if not scored:
            break
        (rate, limit), flow = max(scored, key=lambda item: item[0][0])
        if rate <= _NEGLIGIBLE or (rates and rate < 0.02 * rates[0]):
            break
        if first_limit is None:
            first_limit = limit
            tiers = {graph.edges[e][TIER] for e in flow}
        rates.append(rate)
        for edge, load in flow.items():
            capacity[edge] = max(0.0, capacity[edge] - rate * load)
    return rates, first_limit, tiers


_MAX_ALLTOALL_GPUS = 16


def _alltoall_rate(paths: _Paths, gpus: list[str]) -> float:
    """Per-GPU send rate of an all-to-all among ``gpus``.

    Beyond 16 GPUs (NVL72) the pattern is evaluated on 16 GPUs spread evenly over the domain and
    scaled to the full group: on a symmetric switch the per-GPU rate does not depend on g.
    """
    graph = paths.fabric.graph
    capacity = {(u, v): float(d[BANDWIDTH]) for u, v, d in graph.edges(data=True)}
    if len(gpus) > _MAX_ALLTOALL_GPUS:
        step = len(gpus) / _MAX_ALLTOALL_GPUS
        sample = [gpus[int(i * step)] for i in range(_MAX_ALLTOALL_GPUS)]
        return _alltoall_rate(paths, sample)
    flow: Flow = defaultdict(float)
    for src, dst in itertools.permutations(gpus, 2):
        for edge, fraction in paths.hop(src, dst):
            flow[edge] += fraction
    per_pair, _ = _rate(flow, capacity)
    return per_pair * (len(gpus) - 1)


# -- network -------------------------------------------------------------------------------------


def _attach_point(fabric: Fabric, device: str) -> str:
    for neighbour in fabric.graph.successors(device):
        if fabric.kind(neighbour) in ("pcie_switch", "cpu"):
            return str(neighbour)
    raise TopologyError(f"{device} is not attached to a PCIe switch or CPU")


def _nearest_nics(fabric: Fabric, gpus: list[str], node: int) -> list[tuple[str, str]]:
    """(GPU, NIC) pairs: each GPU takes its share of the node's NICs, nearest first.

    This is NCCL's preference for the NIC behind the GPU's own PCIe switch (PIX/PXB). A GPU's
    share is ``max(1, NICs per node // GPUs per node)``, so 32 EFA devices give 4 per GPU.
    """
    graph = fabric.graph
    nics = [n for n in fabric.nodes_of_kind("nic") if graph.nodes[n]["node"] == node]
    if not nics:
        return []
    all_gpus = [g for g in fabric.gpus if graph.nodes[g]["node"] == node]
    pcie = _pcie_view(fabric)
    chosen: list[tuple[str, str]] = []
    if len(nics) < len(all_gpus):
        # Fewer NICs than GPUs (DGX-1, p4d): each NIC serves its nearest GPU; a NIC is used if
        # that GPU is in the communicator.
        for nic in nics:
            distance = nx.single_source_shortest_path_length(
                pcie.reverse(copy=False), nic, cutoff=8
            )
            owner = min(all_gpus, key=lambda g: (distance.get(g, 99), all_gpus.index(g)))
            if owner in gpus:
                chosen.append((owner, nic))
        return chosen or [(gpus[0], nics[0])]
    per_gpu = len(nics) // len(all_gpus)
    for gpu in gpus:
        distance = nx.single_source_shortest_path_length(pcie, gpu, cutoff=8)
        taken = {nic for _, nic in chosen}
        ranked = sorted(
            (n for n in nics if n not in taken),
            key=lambda n: (distance.get(n, 99), nics.index(n)),
        )
        chosen.extend((gpu, nic) for nic in ranked[:per_gpu])
    return chosen


def _pcie_view(fabric: Fabric) -> nx.DiGraph:
    graph = fabric.graph
    return nx.subgraph_view(
        graph,
        filter_node=lambda n: graph.nodes[n]["kind"] in ("gpu", "nic", "pcie_switch", "cpu"),
        filter_edge=lambda u, v: graph.edges[u, v][TIER] in ("pcie", "host"),
    )


def _network(fabric: Fabric, gpus_by_node: list[list[str]]) -> tuple[float, int, Edge | None, str]:
    graph = fabric.graph
    nodes = len(gpus_by_node)
    pairs = [_nearest_nics(fabric, gpus, graph.nodes[gpus[0]]["node"]) for gpus in gpus_by_node]
    rail_count = min(len(p) for p in pairs)
    if rail_count == 0:
        raise TopologyError(f"{fabric.name}: the communicator's nodes have no NICs")
    network = nx.subgraph_view(
        graph, filter_node=lambda n: graph.nodes[n]["kind"] in ("nic", "leaf", "spine", "core")
    )
    pcie = _pcie_view(fabric)
    flow: Flow = defaultdict(float)
    capacity = {(u, v): float(d[BANDWIDTH]) for u, v, d in graph.edges(data=True)}
    if nodes == 1:
        rates = [
            min(capacity[(gpu, nx.shortest_path(pcie, gpu, nic)[1])], _port_rate(fabric, nic))
            for gpu, nic in pairs[0]
        ]
        nic_spec = str(graph.nodes[pairs[0][0][1]]["spec"])
        return float(sum(rates)), rail_count, None, nic_spec
    for rail in range(rail_count):
        for k in range(nodes):
            gpu_src, src = pairs[k][rail]
            gpu_dst, dst = pairs[(k + 1) % nodes][rail]
            routes = [list(p) for p in nx.all_shortest_paths(network, src, dst)]
            for route in routes:
                for edge in itertools.pairwise(route):
                    flow[edge] += 1.0 / len(routes)
            # GPU -> NIC and NIC -> GPU hops on the PCIe trees at both ends.
            for a, b in ((gpu_src, src), (dst, gpu_dst)):
                for edge in itertools.pairwise(nx.shortest_path(pcie, a, b)):
                    flow[edge] += 1.0
    per_rail, limit = _rate(flow, capacity)
    nic_spec = str(graph.nodes[pairs[0][0][1]]["spec"])
    return per_rail * rail_count, rail_count, limit, nic_spec


def _port_rate(fabric: Fabric, nic: str) -> float:
    network = [
        d[BANDWIDTH] for _, _, d in fabric.graph.out_edges(nic, data=True) if d[TIER] == "network"
    ]
    if network:
        return float(sum(network))
    port = fabric.graph.nodes[nic].get("port_rate_bytes_per_s")
    return float(port) if port else math.inf


# -- entry point -----------------------------------------------------------------------------------


def analyse_communicator(
    fabric: Fabric,
    catalog: Catalog,
    *,
    node_count: int | None = None,
    gpus_per_node: int | None = None,
) -> CommunicatorBandwidths:
    """Graph-derived bandwidths for a communicator on ``fabric``.

    Parameters
    ----------
    fabric : Fabric
        A built fabric (one or more nodes).
    catalog : Catalog
        The spec catalog (NIC transport, GPU architecture, NIC port rates on one node).
    node_count : int, optional
        Nodes used; default all.
    gpus_per_node : int, optional
        GPUs used on each node (the first ones); default all.

    Raises
    ------
    TopologyError
        If the fabric has fewer nodes or GPUs than asked for.
    """
    graph = fabric.graph
    by_node: dict[int, list[str]] = defaultdict(list)
    for gpu in fabric.gpus:
        by_node[int(graph.nodes[gpu]["node"])].append(gpu)
    available = sorted(by_node)
    m = len(available) if node_count is None else node_count
    if not 1 <= m <= len(available):
        raise TopologyError(f"{fabric.name} has {len(available)} node(s); asked for {m}")
    g = len(by_node[available[0]]) if gpus_per_node is None else gpus_per_node
    if not 1 <= g <= len(by_node[available[0]]):
        raise TopologyError(
            f"{fabric.name} has {len(by_node[available[0]])} GPUs per node; asked for {g}"
        )
    gpus_by_node = [by_node[node][:g] for node in available[:m]]
    paths = _Paths(fabric)
    local = gpus_by_node[0]
    gpu_spec = catalog.gpu(str(graph.nodes[local[0]]["spec"]))
    nvlink_out = sum(
        d[BANDWIDTH] for _, _, d in graph.out_edges(local[0], data=True) if d[TIER] == "nvlink"
    )
    if g > 1:
        rates, limit, tiers = _intra_rings(paths, local)
        chain = sum(_intra_rings(paths, local, closed=False)[0])
        shift, _ = _rate(
            paths.ring_flow(tuple(local)),
            {(u, v): float(d[BANDWIDTH]) for u, v, d in graph.edges(data=True)},
        )
        alltoall = _alltoall_rate(paths, local)
    else:
        rates, limit, tiers, shift, alltoall, chain = [], None, set(), 0.0, 0.0, 0.0
    intra_tier = "nvlink" if "nvlink" in tiers and tiers <= {"nvlink"} else "pcie"
    if g == 1:
        intra_tier = "nvlink" if nvlink_out else "pcie"
    if not fabric.p2p:
        intra_tier = "host"

    transport = "none"
    nics_exist = any(graph.nodes[n]["node"] == available[0] for n in fabric.nodes_of_kind("nic"))
    if nics_exist:
        for nic in fabric.nodes_of_kind("nic"):
            if "port_rate_bytes_per_s" not in graph.nodes[nic]:
                spec = catalog.nic(str(graph.nodes[nic]["spec"]))
                rate = catalog.link(spec.port_link).data_rate_per_direction_bytes_per_s
                graph.nodes[nic]["port_rate_bytes_per_s"] = rate * spec.port_count
        network, rail_count, net_limit, nic_id = _network(fabric, gpus_by_node)
        transport = str(catalog.nic(nic_id).transport)
        sharp = (
            any(graph.nodes[leaf].get("sharp") for leaf in fabric.nodes_of_kind("leaf"))
            and transport == "infiniband"
        )
    else:
        network, rail_count, net_limit, sharp = 0.0, 0, None, False
    nvls = (
        g > 1
        and any(
            graph.nodes[s].get("multicast") and graph.nodes[s].get("sharp")
            for s in fabric.nodes_of_kind("nvswitch")
        )
        and fabric.p2p
    )
    return CommunicatorBandwidths(
        node_count=m,
        gpus_per_node=g,
        ring_intra_bytes_per_s=float(sum(rates)),
        ring_channel_rates_bytes_per_s=tuple(rates),
        chain_intra_bytes_per_s=float(chain),
        intra_tier=intra_tier,
        intra_bottleneck=_describe(fabric, limit, "link"),
        shift_intra_bytes_per_s=float(shift),
        alltoall_intra_bytes_per_s=float(alltoall),
        nvlink_per_gpu_bytes_per_s=float(nvlink_out),
        network_per_node_bytes_per_s=float(network),
        network_per_gpu_bytes_per_s=float(network) / g if g else 0.0,
        rail_count=rail_count,
        network_bottleneck=_describe(fabric, net_limit, "link") if m > 1 else "NIC ports",
        transport=transport,
        nvls=bool(nvls),
        collnet=bool(sharp and m > 1),
        architecture=gpu_spec.architecture,
    )
