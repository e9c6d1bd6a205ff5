"""The Fabric: a networkx DiGraph with one directed edge per direction of every link.

Nodes are devices with a ``kind`` (see :data:`NODE_KINDS`) and hierarchical ids (``n3/gpu5``,
``n3/nvsw1``, ``su2/leaf4``, ``spine7``). Parallel physical links between two devices collapse to
one edge per direction carrying ``link_count`` and ``bandwidth_bytes_per_s`` (= count x per-link
rate, one direction), plus ``latency_s``, ``link_spec`` (catalog id) and ``tier``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import networkx as nx

from interconnect_sim.errors import TopologyError
from interconnect_sim.specs.model import LinkSpec
from interconnect_sim.topology.structure import NodeKinds, node_kinds, sharing_enabled

_Derived = TypeVar("_Derived")

__all__ = [
    "BANDWIDTH",
    "LATENCY",
    "LINK_COUNT",
    "LINK_SPEC",
    "NODE_KINDS",
    "TIER",
    "Fabric",
    "LinkTier",
    "SharedEdgeData",
]

BANDWIDTH = "bandwidth_bytes_per_s"
"""Edge attribute: data rate of the directed edge, bytes per second, one direction."""
LATENCY = "latency_s"
"""Edge attribute: fixed latency of one traversal of the edge, seconds."""
LINK_COUNT = "link_count"
"""Edge attribute: number of parallel physical links collapsed into the edge."""
LINK_SPEC = "link_spec"
"""Edge attribute: catalog id of the link type."""
TIER = "tier"
"""Edge attribute: ``nvlink``, ``pcie``, ``network`` or ``host`` (inter-socket, C2C).

``nvlink`` is the GPUs' scale-up tier, whatever the link family: NVLink, AMD Infinity Fabric
(xGMI) between GPUs, or the RoCE ports of a Gaudi mesh; ``link_spec`` names the link type."""

LinkTier = Literal["nvlink", "pcie", "network", "host"]

NODE_KINDS = (
    "gpu",
    "cpu",
    "nvswitch",
    "pcie_switch",
    "nic",
    "leaf",
    "spine",
    "core",
)
"""Closed set of device kinds a fabric node may have."""

_TIER_OF_FAMILY: dict[str, LinkTier] = {
    "nvlink": "nvlink",
    "nvlink-c2c": "host",
    "infinity-fabric": "nvlink",
    "on-package": "host",
    "pcie": "pcie",
    "infiniband": "network",
    "ethernet": "network",
    "inter-socket": "host",
}


class SharedEdgeData(dict[str, Any]):
    """Attributes of identical links, one dict shared by all their edges (read-only).

    Builders give every copy of a link (the same NVLink in each of 8,192 nodes, every leaf
    uplink) one attribute dict, which keeps large fabrics small. Changing it would change every
    such link at once, so it refuses; what-ifs edit a :meth:`Fabric.copy`, whose edges have dicts
    of their own.
    """

    def _refuse(self) -> None:
        raise TypeError(
            "edge attributes of a built fabric are shared by identical links and read-only; "
            "edit a copy (Fabric.copy(), as the what-if functions do)"
        )

    def __setitem__(self, key: str, value: Any) -> None:
        self._refuse()

    def __delitem__(self, key: str) -> None:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._refuse()

    def pop(self, key: str, *default: Any) -> Any:
        self._refuse()

    def popitem(self) -> tuple[str, Any]:
        self._refuse()
        raise AssertionError  # unreachable

    def clear(self) -> None:
        self._refuse()

    def __ior__(self, other: Any) -> SharedEdgeData:  # type: ignore[override,misc]
        self._refuse()
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (SharedEdgeData, (dict(self),))


@dataclass(frozen=True, slots=True)
class Edge:
    """A read-only view of one directed edge."""

    src: str
    dst: str
    bandwidth_bytes_per_s: float
    latency_s: float
    link_count: int
    link_spec: str
    tier: LinkTier


class Fabric:
    """A cluster interconnect as a directed graph, with typed helpers.

    Parameters
    ----------
    name : str
        Human-readable name, e.g. ``"dgx-h100 x 4"``.
    graph : networkx.DiGraph, optional
        Existing graph to wrap (not copied).

    Examples
    --------
    >>> from interconnect_sim.specs import load_catalog
    >>> fabric = Fabric("toy")
    >>> fabric.add_device("g0", kind="gpu"); fabric.add_device("g1", kind="gpu")
    >>> fabric.add_duplex_link("g0", "g1", load_catalog().link("nvlink-4"), link_count=18)
    >>> fabric.edge("g0", "g1").bandwidth_bytes_per_s
    450000000000.0
    """

    def __init__(self, name: str, graph: nx.DiGraph | None = None) -> None:
        self.name = name
        self.graph: nx.DiGraph = graph if graph is not None else nx.DiGraph()
        self.graph.graph.setdefault("p2p", True)
        self._derived: dict[str, Any] = {}
        self._derived_stamp: tuple[int, bool, bool] | None = None
        self._shared_links: dict[tuple[Any, ...], SharedEdgeData] = {}

    def derived(self, key: str, build: Callable[[], _Derived]) -> _Derived:
        """Data computed from the graph (capacities, routes), built once per fabric.

        Analyses of many communicators on one fabric share it. It is dropped when a device or
        link is added, the node count or P2P flag change, or sharing between nodes is switched
        (:func:`~interconnect_sim.topology.structure.no_sharing`). Edit a built fabric's graph
        only on a :meth:`copy` (as the what-if functions do), which starts with nothing derived.
        """
        stamp = (self.graph.number_of_nodes(), self.p2p, sharing_enabled())
        if stamp != self._derived_stamp:
            self._derived.clear()
            self._derived_stamp = stamp
        if key not in self._derived:
            self._derived[key] = build()
        value: _Derived = self._derived[key]
        return value

    def forget_derived(self) -> None:
        """Drop everything derived (for builders that write the graph directly)."""
        self._derived.clear()
        self._derived_stamp = None

    # -- construction -----------------------------------------------------------------------

    def add_device(self, node_id: str, *, kind: str, **attributes: Any) -> None:
        """Add a device node; ``kind`` must be one of :data:`NODE_KINDS`."""
        if kind not in NODE_KINDS:
            raise TopologyError(f"node {node_id!r}: unknown kind {kind!r}; one of {NODE_KINDS}")
        if node_id in self.graph:
            raise TopologyError(f"node {node_id!r} added twice")
        self.graph.add_node(node_id, kind=kind, **attributes)

    def add_duplex_link(
        self,
        a: str,
        b: str,
        spec: LinkSpec,
        *,
        link_count: int = 1,
        lane_count: int | None = None,
        latency_s: float | None = None,
        tier: LinkTier | None = None,
    ) -> None:
        """Connect ``a`` and ``b`` with ``link_count`` full-duplex links: one edge each way.

        Parameters
        ----------
        a, b : str
            Existing node ids.
        spec : LinkSpec
            Link type; its per-direction rate sets the edge bandwidth.
        link_count : int
            Parallel links between the two devices (e.g. 5 NVLinks from a GPU to one NVSwitch).
        lane_count : int, optional
            Active lanes per link when narrower than the spec (a PCIe x8 slot); default all.
        latency_s : float, optional
            Fixed latency per traversal; defaults to the spec's latency or 0.
        tier : {"nvlink", "pcie", "network", "host"}, optional
            Override the tier the link family implies: Gaudi's RoCE ports wired GPU to GPU
            form the scale-up (``nvlink``) tier although they are Ethernet ports.
        """
        if link_count <= 0:
            raise TopologyError(f"link {a!r} <-> {b!r}: link_count must be positive")
        for node in (a, b):
            if node not in self.graph:
                raise TopologyError(f"link {a!r} <-> {b!r}: node {node!r} does not exist")
        attributes = _link_attributes(spec, link_count, lane_count, latency_s, tier)
        self._derived.clear()
        for src, dst in ((a, b), (b, a)):
            if self.graph.has_edge(src, dst):
                raise TopologyError(f"link {src!r} -> {dst!r} added twice; use link_count")
            self.graph.add_edge(src, dst, **attributes)

    def add_duplex_links(
        self,
        pairs: Iterable[tuple[str, str]],
        spec: LinkSpec,
        *,
        link_count: int = 1,
        lane_count: int | None = None,
        latency_s: float | None = None,
        tier: LinkTier | None = None,
    ) -> None:
        """Connect device pairs alike (as :meth:`add_duplex_link` each); all links of one kind
        added this way share one read-only attribute dict (:class:`SharedEdgeData`)."""
        if link_count <= 0:
            raise TopologyError(f"links of {spec.id}: link_count must be positive")
        key = (spec.id, link_count, lane_count, latency_s, tier)
        data = self._shared_links.get(key)
        if data is None:
            data = SharedEdgeData(_link_attributes(spec, link_count, lane_count, latency_s, tier))
            self._shared_links[key] = data
        succ, pred = self.graph._succ, self.graph._pred
        self._derived.clear()
        for a, b in pairs:
            for node in (a, b):
                if node not in succ:
                    raise TopologyError(f"link {a!r} <-> {b!r}: node {node!r} does not exist")
            for src, dst in ((a, b), (b, a)):
                if dst in succ[src]:
                    raise TopologyError(f"link {src!r} -> {dst!r} added twice; use link_count")
                succ[src][dst] = data
                pred[dst][src] = data
        nx._clear_cache(self.graph)

    # -- queries ----------------------------------------------------------------------------

    def kind(self, node_id: str) -> str:
        """Device kind of a node."""
        return str(self.graph._node[node_id]["kind"])

    def nodes_of_kind(self, kind: str) -> list[str]:
        """Node ids of one kind, in insertion order."""
        ids: tuple[str, ...] = self.derived(
            f"kind:{kind}",
            lambda: tuple(n for n, a in self.graph._node.items() if a.get("kind") == kind),
        )
        return list(ids)

    def devices_of_node(self, node: int) -> tuple[str, ...]:
        """Ids of the devices of system ``node`` (those with that ``node`` attribute), in the
        order they were added; empty for an unknown node."""
        index: dict[int, tuple[str, ...]] = self.derived("devices_by_node", self._index_nodes)
        return index.get(node, ())

    def _index_nodes(self) -> dict[int, tuple[str, ...]]:
        grouped: dict[int, list[str]] = {}
        for device, attributes in self.graph._node.items():
            node = attributes.get("node")
            if node is not None:
                grouped.setdefault(int(node), []).append(device)
        return {node: tuple(devices) for node, devices in grouped.items()}

    @property
    def node_kinds(self) -> NodeKinds | None:
        """Which systems of the fabric are identical copies (None: unknown, analyse each by
        itself); see :mod:`~interconnect_sim.topology.structure`."""
        return node_kinds(self)

    @property
    def gpus(self) -> list[str]:
        """GPU node ids in rank order (node by node, local index within a node)."""
        return self.nodes_of_kind("gpu")

    @property
    def warnings(self) -> tuple[str, ...]:
        """Notes on what the built fabric cannot do as specified (a NIC faster than its switch
        port, an announced product), for commands to print."""
        return tuple(self.graph.graph.get("warnings", ()))

    def warn(self, message: str) -> None:
        """Record a warning once (kept with the fabric and its copies)."""
        if message not in self.warnings:
            self.graph.graph["warnings"] = (*self.warnings, message)

    @property
    def p2p(self) -> bool:
        """Whether GPUs may exchange data directly over PCIe (else staged through host memory)."""
        return bool(self.graph.graph["p2p"])

    def edge(self, src: str, dst: str) -> Edge:
        """The directed edge ``src -> dst``."""
        try:
            data = self.graph.edges[src, dst]
        except KeyError:
            raise TopologyError(f"no link {src!r} -> {dst!r}") from None
        return Edge(
            src, dst, data[BANDWIDTH], data[LATENCY], data[LINK_COUNT], data[LINK_SPEC], data[TIER]
        )

    def edges(self) -> Iterator[Edge]:
        """Every directed edge."""
        for src, dst in self.graph.edges:
            yield self.edge(src, dst)

    def device_counts(self) -> dict[str, int]:
        """Number of nodes of each kind."""
        return dict(Counter(k for _, k in self.graph.nodes(data="kind")))

    def link_counts_by_spec(self) -> dict[str, int]:
        """Physical full-duplex links per link type (each counted once, not per direction)."""
        counts: Counter[str] = Counter()
        for src, dst, data in self.graph.edges(data=True):
            if str(src) < str(dst):
                counts[data[LINK_SPEC]] += data[LINK_COUNT]
        return dict(counts)

    def copy(self, name: str | None = None) -> Fabric:
        """A deep copy, for what-if modifications.

        The copy does not know which of its nodes are alike (its edits are unknown); the what-if
        functions record that themselves.
        """
        return Fabric(name or self.name, self.graph.copy())

    # -- invariants -------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the invariants every built fabric must satisfy.

        Raises
        ------
        TopologyError
            Naming the offending node or edge: an edge without its reverse, a non-positive
            capacity or link count, a GPU that cannot reach every other GPU, or a graph that is
            not connected.
        """
        graph = self.graph
        if graph.number_of_nodes() == 0:
            raise TopologyError(f"fabric {self.name!r} is empty")
        succ = graph._succ  # the plain dicts: this walks every edge of the largest fabrics
        checked: set[int] = set()  # identical links share one attribute dict: check it once
        for src, neighbours in succ.items():
            for dst, data in neighbours.items():
                if src not in succ[dst]:
                    raise TopologyError(f"fabric {self.name!r}: edge {src} -> {dst} has no reverse")
                if id(data) not in checked:
                    self._check_edge(src, dst, data)
                    if isinstance(data, SharedEdgeData):
                        checked.add(id(data))
        # With every edge paired, a graph reached whole from one device is strongly connected,
        # so every GPU reaches every GPU.
        start = next(iter(succ))
        reached = {start}
        frontier = [start]
        while frontier:
            new = [n for node in frontier for n in succ[node] if n not in reached]
            reached.update(new)
            frontier = list(dict.fromkeys(new))
        if len(reached) != graph.number_of_nodes():
            components = sorted(nx.weakly_connected_components(graph), key=len)
            stray = sorted(components[0])[0]
            raise TopologyError(
                f"fabric {self.name!r} is not connected: {stray!r} is cut off "
                f"({len(components)} components)"
            )

    def _check_edge(self, src: str, dst: str, data: dict[str, Any]) -> None:
        if not data.get(BANDWIDTH, 0) > 0:
            raise TopologyError(
                f"fabric {self.name!r}: edge {src} -> {dst} has non-positive capacity "
                f"{data.get(BANDWIDTH)!r}"
            )
        if data.get(LINK_COUNT, 0) <= 0 or data.get(LATENCY, -1) < 0:
            raise TopologyError(
                f"fabric {self.name!r}: edge {src} -> {dst} has a bad link count or latency"
            )

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.device_counts().items()))
        return f"Fabric({self.name!r}, {counts})"


def _link_attributes(
    spec: LinkSpec,
    link_count: int,
    lane_count: int | None,
    latency_s: float | None,
    tier: LinkTier | None,
) -> dict[str, Any]:
    """Edge attributes of ``link_count`` parallel links of ``spec`` (one direction)."""
    lanes = spec.lanes_per_direction if lane_count is None else lane_count
    per_link = spec.rate_for_lanes_bytes_per_s(lanes)
    return {
        BANDWIDTH: per_link * link_count,
        LATENCY: latency_s if latency_s is not None else (spec.latency_s or 0.0),
        LINK_COUNT: link_count,
        LINK_SPEC: spec.id,
        TIER: tier or _TIER_OF_FAMILY[spec.family],
        "lanes_per_link": lanes,
        "rate_per_link_bytes_per_s": per_link,
    }


def iter_pairs(items: Iterable[str]) -> Iterator[tuple[str, str]]:
    """All unordered pairs of distinct items, in order."""
    listed = list(items)
    for i, a in enumerate(listed):
        for b in listed[i + 1 :]:
            yield a, b
