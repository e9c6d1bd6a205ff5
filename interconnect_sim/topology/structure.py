"""Which systems of a fabric are identical copies of one another, so analyses can be shared.

A builder that stamps every node of a cluster from one system records it here: every node is
of the same *kind* (class), so a route or ring found inside one node holds, renamed, inside every
other. A what-if that edits a node (a failed NVLink, a removed NIC) gives that node a kind of its
own; it is then analysed by itself while the others still share. The record belongs to one graph
object: a copy of the graph made any other way than through the what-if functions carries none,
and is analysed node by node, which is slower but gives the same answer.

:func:`no_sharing` turns sharing off (every node its own kind, routes searched as they were
before sharing existed), for tests that check that sharing never changes a result.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interconnect_sim.topology.fabric import Fabric

__all__ = [
    "LocalFlow",
    "NodeKinds",
    "NodeSharing",
    "collector_paused",
    "local_name",
    "no_sharing",
    "node_kinds",
    "node_prefix",
    "record_node_kinds",
    "sharing_enabled",
    "to_local",
    "to_node",
]

_KEY = "node_kinds"
_SHARING = [True]


def node_prefix(index: int) -> str:
    """``n<index>/``: the prefix of every device id of system ``index``."""
    return f"n{index}/"


def local_name(device: str) -> str:
    """A device id without its ``n<k>/`` prefix (unchanged if it has none)."""
    head, sep, tail = device.partition("/")
    return tail if sep and head[:1] == "n" and head[1:].isdigit() else device


@dataclass(frozen=True, slots=True)
class NodeKinds:
    """The kind of every system (node) of a fabric.

    Attributes
    ----------
    kinds : tuple of int
        Kind of node ``k``; nodes of one kind are identical up to their ``n<k>/`` prefix, inside
        and in the links they have to the outside (their NICs' cables), except where those
        cables land.
    """

    kinds: tuple[int, ...]

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return len(self.kinds)

    def with_own_kind(self, nodes: Iterable[int]) -> NodeKinds:
        """The same record with each of ``nodes`` given a kind of its own."""
        kinds = list(self.kinds)
        fresh = max(kinds, default=-1) + 1
        for node in sorted(set(nodes)):
            if 0 <= node < len(kinds):
                kinds[node] = fresh
                fresh += 1
        return NodeKinds(tuple(kinds))


class _Record:
    """A :class:`NodeKinds` bound to the graph it describes (dropped when pickled)."""

    __slots__ = ("__weakref__", "graph", "kinds")

    def __init__(self, graph: Any, kinds: NodeKinds) -> None:
        self.graph: weakref.ref[Any] | None = weakref.ref(graph)
        self.kinds = kinds

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unbound, (self.kinds,))


def _unbound(kinds: NodeKinds) -> _Record:
    record = _Record.__new__(_Record)
    record.graph = None
    record.kinds = kinds
    return record


def record_node_kinds(fabric: Fabric, kinds: NodeKinds) -> None:
    """Record the node kinds of ``fabric`` (builders and what-ifs only)."""
    fabric.graph.graph[_KEY] = _Record(fabric.graph, kinds)


def node_kinds(fabric: Fabric) -> NodeKinds | None:
    """The recorded node kinds, if they describe this very graph and sharing is on."""
    if not _SHARING[0]:
        return None
    record = fabric.graph.graph.get(_KEY)
    if not isinstance(record, _Record) or record.graph is None:
        return None
    if record.graph() is not fabric.graph:
        return None
    return record.kinds


def sharing_enabled() -> bool:
    """Whether analyses may be shared between nodes of one kind (see :func:`no_sharing`)."""
    return _SHARING[0]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many small containers.

    A large fabric is hundreds of thousands of dicts with no reference cycles; the collector
    would walk all of them again and again while they are made (about 40 % of the build time of
    a 65,536-GPU fabric). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def no_sharing() -> Iterator[None]:
    """Analyse every node and route by itself inside this block (the reference for tests).

    Fabrics should be built inside the block too: analyses are kept with a fabric, and ones made
    with sharing would be reused.
    """
    saved = _SHARING[0]
    _SHARING[0] = False
    try:
        yield
    finally:
        _SHARING[0] = saved


class NodeSharing:
    """Where a fabric's per-node analyses can be done once per kind of node.

    A node's analyses (routes between its GPUs, from its GPUs to its NICs, its rings) are done on
    the first node of its kind and renamed, when that node is *closed*: nothing leaves it but its
    NICs' network cables, so no search inside it can wander elsewhere.
    """

    @classmethod
    def of(cls, fabric: Fabric) -> NodeSharing:
        """The shared instance for ``fabric``."""
        return fabric.derived("node_sharing", lambda: cls(fabric))

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.kinds = fabric.node_kinds
        self._first: dict[int, int] = {}
        if self.kinds is not None:
            for node, kind in enumerate(self.kinds.kinds):
                self._first.setdefault(kind, node)
        self._closed: dict[int, bool] = {}
        self._names: dict[int, dict[str, str]] = {}

    def node_of(self, device: str) -> int | None:
        """The system a device belongs to (None for network switches)."""
        node = self.fabric.graph._node[device].get("node")
        return None if node is None else int(node)

    def names(self, node: int) -> dict[str, str]:
        """Device ids of ``node`` by their local id (the graph's own strings, so flows renamed
        onto a node hold no copies of them)."""
        if node not in self._names:
            prefix = node_prefix(node)
            cut = len(prefix)
            self._names[node] = {
                d[cut:]: d for d in self.fabric.devices_of_node(node) if d.startswith(prefix)
            }
        return self._names[node]

    def template(self, node: int) -> int | None:
        """The node whose analyses stand for ``node``'s (possibly itself), or None when
        ``node`` must be analysed by itself."""
        if self.kinds is None or not 0 <= node < self.kinds.node_count:
            return None
        first = self._first[self.kinds.kinds[node]]
        if first not in self._closed:
            self._closed[first] = self._is_closed(first)
        return first if self._closed[first] else None

    def _is_closed(self, node: int) -> bool:
        from interconnect_sim.topology.fabric import TIER

        graph = self.fabric.graph
        devices = set(self.fabric.devices_of_node(node))
        prefix = node_prefix(node)
        if not devices or any(not d.startswith(prefix) for d in devices):
            return False
        for device in devices:
            nic = graph.nodes[device]["kind"] == "nic"
            for adjacency in (graph.succ[device], graph.pred[device]):
                for other, data in adjacency.items():
                    if other not in devices and not (nic and data[TIER] == "network"):
                        return False
        return True


def to_local(flow: Iterable[tuple[tuple[str, str], float]], prefix: str) -> LocalFlow | None:
    """A flow inside one node with the node's prefix removed, or None if it leaves the node."""
    cut = len(prefix)
    local = []
    for (u, v), weight in flow:
        if not (u.startswith(prefix) and v.startswith(prefix)):
            return None
        local.append(((u[cut:], v[cut:]), weight))
    return tuple(local)


def to_node(local: LocalFlow, names: dict[str, str]) -> tuple[tuple[tuple[str, str], float], ...]:
    """A node-local flow renamed onto a node (``names``: its device ids by local id)."""
    return tuple(((names[u], names[v]), weight) for (u, v), weight in local)


LocalFlow = tuple[tuple[tuple[str, str], float], ...]
"""A flow inside one node, device ids without their ``n<k>/`` prefix."""
