"""What a communicator's GPUs can do inside one node: rings, chains, shifts, all-to-all, NVLS.

NCCL builds several rings ("channels") inside a node and sums their rates. We do the same
greedily: route every hop of a candidate ring order
(:class:`~interconnect_sim.collectives.paths.HopPaths`), count how many times the ring crosses
each directed link, take the ring's rate as ``min(residual capacity / crossings)``, subtract it,
and search again until the links are used up. Symmetric switched nodes need one ring in rank
order; meshes and bridged boxes (DGX-1, NVLink-bridge pairs) search every ring order of up to 8
GPUs; later rings stay on the first ring's tier. Open chains (broadcast, reduce) likewise.

These searches are done once per kind of node
(:class:`~interconnect_sim.topology.structure.NodeSharing`): on the first node of the kind, for
the same local GPUs, and the result stands for every node of the kind. The flows stay on that
*template* node; engines repeat them on each node by renaming.
"""

from __future__ import annotations

import itertools
from collections import ChainMap
from collections.abc import MutableMapping
from dataclasses import dataclass

from interconnect_sim.collectives.mesh_rings import full_mesh_rings
from interconnect_sim.collectives.paths import Edge, Flow, HopPaths, add_flow, bottleneck_rate
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_SPEC, TIER, Fabric
from interconnect_sim.topology.structure import NodeSharing, node_prefix

__all__ = ["MAX_ALLTOALL_GPUS", "NodePatterns", "node_patterns", "renamed_edge", "renamed_flow"]

_MAX_RING_SEARCH_GPUS = 8
_MAX_CHANNELS = 32
MAX_ALLTOALL_GPUS = 16
"""All-to-all inside larger NVLink domains is routed on 16 GPUs spread over the domain."""
_NEGLIGIBLE = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePatterns:
    """The patterns of a communicator's GPUs on one node, routed on ``prefix``'s node.

    Attributes
    ----------
    prefix : str
        ``n<k>/`` of the node the flows below are routed on (the kind's template node).
    gpus : tuple of str
        The communicator's GPUs on that node.
    channels, chains : tuple of (rate, Flow)
        Rings / open chains found and their rates (bytes/s); empty with one GPU.
    limit : (str, str) or None
        The link limiting the first ring.
    tiers : frozenset of str
        Tiers the first ring runs on.
    shift, shift_flow : float, Flow
        Rank-order ring shift (sendrecv): per-rank rate and flow.
    alltoall, alltoall_flow, pair_count : float, Flow, int
        Every ordered pair of (up to 16 sampled) GPUs at once: per-GPU send rate, flow, pairs.
    injection_flow : Flow
        Each GPU's NVLink edges, one unit per GPU each way (NVLS).
    nvlink_out : float
        NVLink injection of the first GPU (sum of its NVLink out-edges, bytes/s).
    nvlink_spec : str
        Link spec of the first GPU's NVLink links (``""`` without).
    """

    prefix: str
    gpus: tuple[str, ...]
    channels: tuple[tuple[float, Flow], ...]
    chains: tuple[tuple[float, Flow], ...]
    limit: Edge | None
    tiers: frozenset[str]
    shift: float
    shift_flow: Flow
    alltoall: float
    alltoall_flow: Flow
    pair_count: int
    injection_flow: Flow
    nvlink_out: float
    nvlink_spec: str

    @property
    def ring_rate(self) -> float:
        """Sum of the rings' rates (per rank, bytes/s)."""
        return float(sum(rate for rate, _ in self.channels))


def renamed_edge(edge: Edge | None, old: str, new: str) -> Edge | None:
    """An edge of node ``old`` (prefix) as the same edge of node ``new``."""
    if edge is None or old == new:
        return edge
    u, v = edge
    return (_renamed(u, old, new), _renamed(v, old, new))


def renamed_flow(flow: Flow, old: str, new: str) -> Flow:
    """A flow routed on node ``old`` (prefix) repeated on node ``new``."""
    if old == new:
        return flow
    return {(_renamed(u, old, new), _renamed(v, old, new)): w for (u, v), w in flow.items()}


def _renamed(device: str, old: str, new: str) -> str:
    return new + device[len(old) :] if device.startswith(old) else device


def node_patterns(fabric: Fabric, gpus: list[str]) -> NodePatterns:
    """The patterns of ``gpus`` (all on one node), found once per kind of node.

    The result is routed on the kind's template node (``prefix``), which may be another node
    than the GPUs'; :func:`renamed_flow` moves its flows onto any node of the kind.
    """
    sharing = NodeSharing.of(fabric)
    node = sharing.node_of(gpus[0])
    template = None if node is None else sharing.template(node)
    on = gpus
    if template is not None and node is not None and template != node:
        own, other = node_prefix(node), node_prefix(template)
        moved = [other + g[len(own) :] for g in gpus if g.startswith(own)]
        if len(moved) == len(gpus):
            on = moved
    key = "node_patterns:" + ",".join(on)
    return fabric.derived(key, lambda: _patterns(fabric, on))


def _patterns(fabric: Fabric, gpus: list[str]) -> NodePatterns:
    graph = fabric.graph
    paths = HopPaths.of(fabric)
    nvlink_edges = [d for _, _, d in graph.out_edges(gpus[0], data=True) if d[TIER] == "nvlink"]
    channels: list[tuple[float, Flow]] = []
    chains: list[tuple[float, Flow]] = []
    limit: Edge | None = None
    tiers: set[str] = set()
    shift_flow: Flow = {}
    alltoall_flow: Flow = {}
    shift, alltoall, pair_count = 0.0, 0.0, 0
    if len(gpus) > 1:
        channels, limit, tiers = _intra_rings(paths, gpus)
        chains = _intra_rings(paths, gpus, closed=False)[0]
        shift_flow = paths.ring_flow(tuple(gpus))
        shift, _ = bottleneck_rate(shift_flow, paths.capacity)
        alltoall, alltoall_flow, pair_count = _alltoall(paths, gpus)
    nvlink_out = sum(d[BANDWIDTH] for d in nvlink_edges)
    node = graph.nodes[gpus[0]].get("node")
    return NodePatterns(
        prefix="" if node is None else node_prefix(int(node)),
        gpus=tuple(gpus),
        channels=tuple(channels),
        chains=tuple(chains),
        limit=limit,
        tiers=frozenset(tiers),
        shift=float(shift),
        shift_flow=shift_flow,
        alltoall=float(alltoall),
        alltoall_flow=alltoall_flow,
        pair_count=pair_count,
        injection_flow=paths.injection_flow(gpus) if nvlink_out else {},
        nvlink_out=float(nvlink_out),
        nvlink_spec=str(nvlink_edges[0][LINK_SPEC]) if nvlink_edges else "",
    )


def _candidate_orders(paths: HopPaths, gpus: list[str]) -> list[tuple[str, ...]]:
    graph = paths.fabric.graph
    direct = any(graph.has_edge(a, b) for a, b in itertools.permutations(gpus, 2))
    if not direct or len(gpus) > _MAX_RING_SEARCH_GPUS or len(gpus) < 3:
        return [tuple(gpus)]
    first, rest = gpus[0], gpus[1:]
    return [(first, *perm) for perm in itertools.permutations(rest)]


def _intra_rings(
    paths: HopPaths, gpus: list[str], *, closed: bool = True
) -> tuple[list[tuple[float, Flow]], Edge | None, set[str]]:
    graph = paths.fabric.graph
    mesh = full_mesh_rings(paths, gpus)  # uniform full meshes: rings on every link
    if mesh is not None:
        rate, orders = mesh
        rings = [(rate, paths.ring_flow(order, closed=closed)) for order in orders]
        return rings, (gpus[0], gpus[1]), {"nvlink"}
    capacity: MutableMapping[Edge, float] = ChainMap({}, paths.capacity)  # writes stay local
    flows = [paths.ring_flow(order, closed=closed) for order in _candidate_orders(paths, gpus)]
    flow_tiers = [{graph.edges[e][TIER] for e in flow} for flow in flows]
    channels: list[tuple[float, Flow]] = []
    first_limit: Edge | None = None
    tiers: set[str] = set()
    for _ in range(_MAX_CHANNELS):
        scored = [
            (bottleneck_rate(flow, capacity), flow)
            for flow, flow_tier in zip(flows, flow_tiers, strict=True)
            if not tiers or flow_tier <= tiers  # later rings stay on the first ring's tiers
        ]
        if not scored:
            break
        (rate, limit), flow = max(scored, key=lambda item: item[0][0])
        if rate <= _NEGLIGIBLE or (channels and rate < 0.02 * channels[0][0]):
            break
        if first_limit is None:
            first_limit = limit
            tiers = {graph.edges[e][TIER] for e in flow}
        channels.append((rate, flow))
        for edge, load in flow.items():
            capacity[edge] = max(0.0, capacity[edge] - rate * load)
    return channels, first_limit, tiers


def _alltoall(paths: HopPaths, gpus: list[str]) -> tuple[float, Flow, int]:
    """Per-GPU send rate of an all-to-all among ``gpus``, its flow and pair count.

    Beyond 16 GPUs (NVL72) the pattern is routed on 16 GPUs spread evenly over the domain: on a
    symmetric switch the per-GPU rate does not depend on the group size.
    """
    if len(gpus) > MAX_ALLTOALL_GPUS:
        step = len(gpus) / MAX_ALLTOALL_GPUS
        gpus = [gpus[int(i * step)] for i in range(MAX_ALLTOALL_GPUS)]
    flow: Flow = {}
    pairs = 0
    for src, dst in itertools.permutations(gpus, 2):
        add_flow(flow, paths.hop(src, dst))
        pairs += 1
    per_pair, _ = bottleneck_rate(flow, paths.capacity)
    return per_pair * (len(gpus) - 1), flow, pairs
