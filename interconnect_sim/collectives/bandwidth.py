"""Bandwidths a collective can reach on a fabric, derived from the graph.

For a communicator (a set of GPUs, the same local GPUs on each of its nodes; by default the first
``gpus_per_node`` GPUs of the first ``node_count`` nodes) this module finds:

* **Intra-node rings** and the other patterns inside a node
  (:mod:`~interconnect_sim.collectives.node_patterns`), found once per kind of node. When the
  communicator's nodes are not all alike (a what-if degraded one), each kind is analysed and the
  slowest sets the rates, as NCCL's ranks agree on the smallest channel count and speed.
* **The network.** Each GPU drives its nearest NIC(s); for every rail the inter-node ring (node
  k's NIC to node k+1's) is routed over the fat tree
  (:class:`~interconnect_sim.collectives.network.NetworkRoutes`), PCIe hops included, and the rate
  per rail is the bottleneck over shared links.
* **All-to-all** inside a node: every ordered GPU pair at once.
* **NVLink injection** per GPU, NVSwitch multicast (NVLS) and leaf in-network reduction (SHARP).

The results are :class:`~.communicator.CommunicatorBandwidths`; besides the rates, its
:class:`~.communicator.CommunicatorPlan` keeps *what* was routed (flows per channel, per rail,
per pattern), so the discrete-event engine replays the same logical patterns. Nothing here reads
a per-system table: a what-if fabric changes these numbers through the graph.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.collectives.communicator import (
    CommunicatorBandwidths,
    CommunicatorPlan,
    NodeGroup,
)
from interconnect_sim.collectives.network import NetworkRoutes
from interconnect_sim.collectives.network_flow import NetworkPart, network_part
from interconnect_sim.collectives.node_patterns import (
    MAX_ALLTOALL_GPUS,
    NodePatterns,
    node_patterns,
    renamed_edge,
    renamed_flow,
)
from interconnect_sim.collectives.paths import (
    Flow,
    HopPaths,
    IndexedFlow,
    add_flow,
    bottleneck_rate,
    describe_edge,
)
from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import TIER, Fabric
from interconnect_sim.topology.structure import NodeSharing, node_prefix

__all__ = ["analyse_communicator"]


# -- communicator --------------------------------------------------------------------------


def _cpu_vendor(fabric: Fabric, node: int) -> str:
    """``intel``, ``amd`` or ``other`` from the model of the node's host CPUs."""
    graph = fabric.graph
    for cpu in fabric.devices_of_node(node):
        if graph.nodes[cpu]["kind"] == "cpu":
            model = str(graph.nodes[cpu].get("model", "")).lower()
            if "intel" in model or "xeon" in model:
                return "intel"
            if "amd" in model or "epyc" in model:
                return "amd"
            return "other"
    return "other"


# -- communicator --------------------------------------------------------------------------------


def _group_by_node(
    fabric: Fabric,
    gpus: Sequence[str] | None,
    node_count: int | None,
    gpus_per_node: int | None,
) -> list[list[str]]:
    graph = fabric.graph
    nodes = graph._node  # the plain dict: this looks at every GPU of the largest fabrics
    if gpus is not None:
        chosen: dict[int, list[str]] = defaultdict(list)
        for gpu in gpus:
            if gpu not in nodes or nodes[gpu]["kind"] != "gpu":
                raise TopologyError(f"{gpu!r} is not a GPU of {fabric.name}")
            chosen[int(nodes[gpu]["node"])].append(gpu)
        groups = [chosen[node] for node in sorted(chosen)]
        local = {tuple(nodes[g]["local_rank"] for g in group) for group in groups}
        # one GPU per node has no intra-node pattern to repeat: any local GPU will do (a
        # pipeline send from GPU 4 of one node to GPU 0 of the next)
        if len(local) != 1 and any(len(group) > 1 for group in groups):
            raise TopologyError(
                "a communicator must use the same local GPUs on every node it spans "
                f"(got local ranks {sorted(local)})"
            )
        return groups
    by_node: dict[int, list[str]] = defaultdict(list)
    for gpu in fabric.gpus:
        by_node[int(nodes[gpu]["node"])].append(gpu)
    available = sorted(by_node)
    m = len(available) if node_count is None else node_count
    if not 1 <= m <= len(available):
        raise TopologyError(f"{fabric.name} has {len(available)} node(s); asked for {m}")
    per_node = len(by_node[available[0]])
    g = per_node if gpus_per_node is None else gpus_per_node
    if not 1 <= g <= per_node:
        raise TopologyError(f"{fabric.name} has {per_node} GPUs per node; asked for {g}")
    return [by_node[node][:g] for node in available[:m]]


def _tiers_of(fabric: Fabric, flow: Flow) -> set[str]:
    """The tiers of the edges ``flow`` crosses."""
    return {str(fabric.graph.edges[e][TIER]) for e in flow}


def _tier_of(tiers: set[str], p2p: bool) -> str:
    """``nvlink`` for a pattern routed over NVLink only, ``pcie`` otherwise, ``host`` without
    peer-to-peer: which fitted intra-node efficiency applies to it."""
    if not p2p:
        return "host"
    return "nvlink" if "nvlink" in tiers and tiers <= {"nvlink"} else "pcie"


def analyse_communicator(
    fabric: Fabric,
    catalog: Catalog,
    *,
    node_count: int | None = None,
    gpus_per_node: int | None = None,
    gpus: Sequence[str] | None = None,
) -> CommunicatorBandwidths:
    """Graph-derived bandwidths (and the routed plan) for a communicator on ``fabric``.

    Parameters
    ----------
    fabric : Fabric
        A built fabric (one or more nodes).
    catalog : Catalog
        The spec catalog (NIC transport, GPU architecture, NIC port rates).
    node_count, gpus_per_node : int, optional
        The first ``gpus_per_node`` GPUs of the first ``node_count`` nodes (default all).
    gpus : sequence of str, optional
        Explicit GPU ids instead (the same local GPUs on every node they span, unless they are
        one GPU per node).

    Raises
    ------
    TopologyError
        If the fabric has fewer nodes or GPUs than asked for, or an uneven group.

    Notes
    -----
    The result is kept with the fabric (:meth:`Fabric.derived`): every op, size sweep and
    engine asking about the same communicator shares one ring search. A communicator inside one
    node is analysed once per kind of node (on the kind's template node) and renamed onto the
    others: every tensor-parallel group of a training step shares one analysis.
    """
    key = f"communicator:{id(catalog)}:{node_count}:{gpus_per_node}:" + (
        "" if gpus is None else ",".join(gpus)
    )

    def analyse() -> CommunicatorBandwidths:
        if gpus is not None:
            moved = _on_template(fabric, catalog, gpus)
            if moved is not None:
                return moved
        return _analyse(
            fabric, catalog, node_count=node_count, gpus_per_node=gpus_per_node, gpus=gpus
        )

    return fabric.derived(key, analyse)


def _on_template(
    fabric: Fabric, catalog: Catalog, gpus: Sequence[str]
) -> CommunicatorBandwidths | None:
    """A one-node communicator as the same GPUs' analysis on its kind's template node, renamed
    (None when it spans nodes or its node is analysed by itself)."""
    sharing = NodeSharing.of(fabric)
    node = sharing.node_of(gpus[0]) if gpus and gpus[0] in fabric.graph else None
    if node is None or any(g not in fabric.graph or sharing.node_of(g) != node for g in gpus):
        return None
    template = sharing.template(node)
    if template is None or template == node:
        return None
    own, other = node_prefix(node), node_prefix(template)
    if not all(g.startswith(own) for g in gpus):
        return None
    core = analyse_communicator(fabric, catalog, gpus=[other + g[len(own) :] for g in gpus])
    names = sharing.names(node)
    plan = core.plan
    moved_plan = replace(
        plan,
        node_prefixes=(own,),
        groups=tuple(replace(group, node_prefixes=(own,)) for group in plan.groups),
        local_gpus=tuple(names[g[len(other) :]] for g in plan.local_gpus),
        nic_pairs=tuple(
            tuple((names[a[len(other) :]], names[b[len(other) :]]) for a, b in pairs)
            for pairs in plan.nic_pairs
        ),
    )
    return replace(
        core,
        intra_bottleneck=core.intra_bottleneck.replace(other, own),
        plan=moved_plan,
    )


def _analyse(
    fabric: Fabric,
    catalog: Catalog,
    *,
    node_count: int | None,
    gpus_per_node: int | None,
    gpus: Sequence[str] | None,
) -> CommunicatorBandwidths:
    graph = fabric.graph
    gpus_by_node = _group_by_node(fabric, gpus, node_count, gpus_per_node)
    m, g = len(gpus_by_node), len(gpus_by_node[0])
    local = gpus_by_node[0]
    paths = HopPaths.of(fabric)
    gpu_spec = catalog.gpu(str(graph.nodes[local[0]]["spec"]))
    prefixes = tuple(gpu_group[0].split("/", 1)[0] + "/" for gpu_group in gpus_by_node)
    kinds = _node_groups(fabric, gpus_by_node, prefixes)
    first, first_nodes = kinds[0]  # the kind that limits the rings (slowest, first of equals)
    channels, tiers = first.channels, first.tiers
    limit = renamed_edge(first.limit, first.prefix, first_nodes[0])
    nvlink_out = min(pattern.nvlink_out for pattern, _ in kinds)
    intra_tier = "nvlink" if "nvlink" in tiers and tiers <= {"nvlink"} else "pcie"
    if g == 1:
        intra_tier = "nvlink" if nvlink_out else "pcie"
    if not fabric.p2p:
        intra_tier = "host"
    # the shift's and the all-to-all's own routes (on the limiting kind's template node)
    shift_tier = _tier_of(_tiers_of(fabric, first.shift_flow), fabric.p2p) if g > 1 else ""
    alltoall_tier = _tier_of(_tiers_of(fabric, first.alltoall_flow), fabric.p2p) if g > 1 else ""

    transport = "none"
    net = NetworkPart(0.0, 0, None, None, ())
    sharp = False
    routes: NetworkRoutes | None = None
    node_routes = NetworkRoutes.of(fabric)
    if node_routes.has_nics(int(graph.nodes[local[0]]["node"])):
        routes = node_routes
        net = network_part(fabric, catalog, routes, gpus_by_node)
        transport = str(catalog.nic(str(graph.nodes[net.nic_pairs[0][0][1]]["spec"])).transport)
        sharp = transport == "infiniband" and _any_switch(fabric, "leaf", "sharp")
    nvls = g > 1 and fabric.p2p and _any_switch(fabric, "nvswitch", "multicast", "sharp")

    rail_count, nic_pairs = net.rail_count, net.nic_pairs

    @cache
    def alltoall_network() -> Flow:
        return routes.uniform_flow(nic_pairs) if routes is not None and m > 1 else {}

    @cache
    def alltoall_arrays() -> IndexedFlow | None:
        flow = alltoall_network()
        return IndexedFlow.of_flow(EdgeNumbers.of(fabric), flow) if flow else None

    @cache
    def pattern_flows(pattern: str) -> tuple[Flow, IndexedFlow | None, NDArray[np.float64]]:
        """Per unit of the pattern's rate: intra crossings (each kind's first member node),
        the network flow's edges and their crossings."""
        rails = max(1, rail_count)
        intra: Flow = {}
        for kind, own in kinds:
            add_flow(intra, renamed_flow(_intra_flow(kind, pattern, g), kind.prefix, own[0]))
        arrays = net.flow if pattern != "alltoall" else alltoall_arrays()
        if m == 1 or arrays is None:
            return intra, None, np.zeros(0)
        if pattern in ("ring", "chain"):
            return intra, arrays, arrays.weights / rails
        return intra, arrays, arrays.weights * g / rails

    @cache
    def joint_rate(pattern: str, k_intra: float, k_net: float) -> float:
        intra, arrays, crossings = pattern_flows(pattern)
        combined: Flow = {}
        if g > 1 and k_intra > 0:
            add_flow(combined, intra, 1.0 / k_intra)
        if arrays is None or not k_net > 0:
            return bottleneck_rate(combined, paths.capacity)[0]
        loads = (1.0 / k_net) * crossings
        alone: Flow = {}
        for edge, load in combined.items():  # links both parts cross (PCIe switch uplinks)
            i = arrays.position(edge)
            if i is None:
                alone[edge] = load
            else:
                loads[i] = load + loads[i]
        rates = (arrays.bottleneck(loads)[0], bottleneck_rate(alone, paths.capacity)[0])
        return min((r for r in rates if r > 0), default=0.0)

    @cache
    def alltoall_network_rate() -> tuple[float, str]:
        arrays = alltoall_arrays()
        if arrays is None:
            return float(net.rate) / g, describe_edge(fabric, net.limit)
        per_nic, limit = arrays.bottleneck()
        return per_nic * rail_count / g, describe_edge(fabric, limit)

    def alltoall_network_per_gpu() -> float:
        return alltoall_network_rate()[0]

    def alltoall_network_bottleneck() -> str:
        return alltoall_network_rate()[1]

    plan = CommunicatorPlan(
        node_prefixes=prefixes,
        groups=tuple(
            NodeGroup(
                template_prefix=kind.prefix,
                node_prefixes=own,
                ring_channels=kind.channels,
                chain_channels=kind.chains,
                shift_flow=kind.shift_flow,
                alltoall_flow=kind.alltoall_flow,
                injection_flow=kind.injection_flow,
            )
            for kind, own in kinds
        ),
        local_gpus=tuple(local),
        alltoall_pair_count=first.pair_count,
        alltoall_gpu_count=min(g, MAX_ALLTOALL_GPUS),
        network=net.flow,
        nic_pairs=nic_pairs,
        alltoall_network=alltoall_network,
        alltoall_indexed=alltoall_arrays,
    )
    return CommunicatorBandwidths(
        node_count=m,
        gpus_per_node=g,
        ring_intra_bytes_per_s=first.ring_rate,
        ring_channel_rates_bytes_per_s=tuple(rate for rate, _ in channels),
        chain_intra_bytes_per_s=min(_rate(kind.chains) for kind, _ in kinds),
        intra_tier=intra_tier,
        intra_bottleneck=describe_edge(fabric, limit),
        shift_intra_bytes_per_s=min(kind.shift for kind, _ in kinds),
        alltoall_intra_bytes_per_s=min(kind.alltoall for kind, _ in kinds),
        nvlink_per_gpu_bytes_per_s=nvlink_out,
        network_per_node_bytes_per_s=float(net.rate),
        network_per_gpu_bytes_per_s=float(net.rate) / g,
        rail_count=rail_count,
        network_bottleneck=describe_edge(fabric, net.limit) if m > 1 else "NIC ports",
        transport=transport,
        nvls=bool(nvls),
        collnet=bool(sharp and m > 1),
        architecture=gpu_spec.architecture,
        shift_intra_tier=shift_tier or intra_tier,
        alltoall_intra_tier=alltoall_tier or intra_tier,
        system=str(graph.graph.get("system", "")),
        nic_spec=str(graph.nodes[nic_pairs[0][0][1]]["spec"]) if nic_pairs else "",
        nvlink_spec=first.nvlink_spec,
        nvlink_link_rate_bytes_per_s=(
            catalog.link(first.nvlink_spec).data_rate_per_direction_bytes_per_s
            if first.nvlink_spec
            else 0.0
        ),
        cpu_vendor=_cpu_vendor(fabric, int(graph.nodes[local[0]]["node"])),
        pcie_spec=gpu_spec.pcie,
        pcie_x16_rate_bytes_per_s=catalog.link(gpu_spec.pcie).rate_for_lanes_bytes_per_s(16),
        plan=plan,
        alltoall_network_per_gpu=alltoall_network_per_gpu,
        alltoall_network_bottleneck=alltoall_network_bottleneck,
        joint_rate=joint_rate,
    )


def _rate(channels: tuple[tuple[float, Flow], ...]) -> float:
    return float(sum(rate for rate, _ in channels))


def _node_groups(
    fabric: Fabric, gpus_by_node: list[list[str]], prefixes: tuple[str, ...]
) -> list[tuple[NodePatterns, tuple[str, ...]]]:
    """The communicator's nodes grouped by their patterns (one group per kind of node), the
    group with the slowest rings first (the first of equals in rank order)."""
    grouped: dict[int, tuple[NodePatterns, list[str]]] = {}
    for gpus, prefix in zip(gpus_by_node, prefixes, strict=True):
        pattern = node_patterns(fabric, gpus)
        grouped.setdefault(id(pattern), (pattern, []))[1].append(prefix)
    kinds = [(pattern, tuple(own)) for pattern, own in grouped.values()]
    slowest = min(range(len(kinds)), key=lambda i: kinds[i][0].ring_rate)
    return [kinds[slowest], *kinds[:slowest], *kinds[slowest + 1 :]]


def _intra_flow(kind: NodePatterns, pattern: str, g: int) -> Flow:
    """One unit of a pattern's intra-node traffic on a kind's template node."""
    if pattern in ("ring", "chain"):
        chans = kind.channels if pattern == "ring" else kind.chains
        return _proportional(chans) if chans else {}
    if pattern == "shift":
        return kind.shift_flow
    peers = max(1, min(g, MAX_ALLTOALL_GPUS) - 1)
    return {e: w / peers for e, w in kind.alltoall_flow.items()}


def _proportional(chans: tuple[tuple[float, Flow], ...]) -> Flow:
    total = sum(rate for rate, _ in chans)
    flow: Flow = {}
    for rate, chan in chans:
        add_flow(flow, chan, rate / total)
    return flow


def _any_switch(fabric: Fabric, kind: str, *capabilities: str) -> bool:
    """Whether any switch of ``kind`` has all ``capabilities`` (kept with the fabric)."""

    def search() -> bool:
        nodes = fabric.graph.nodes
        return any(all(nodes[s].get(c) for c in capabilities) for s in fabric.nodes_of_kind(kind))

    return fabric.derived(f"any:{kind}:{','.join(capabilities)}", search)
