"""Every directed edge of a fabric as a number, for flows held as numpy arrays.

Edges are numbered in the graph's order (device by device, each device's links in the order
they were added), so the links of one node form one run of numbers. On a fabric whose nodes are
copies of each other (:mod:`~interconnect_sim.topology.stamping`), node ``k``'s run is laid out
exactly like its kind's template node's: :meth:`EdgeNumbers.node_runs` turns a flow routed on
the template into edge numbers on every node with one numpy addition instead of a lookup per
edge and node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.topology.fabric import BANDWIDTH
from interconnect_sim.topology.structure import node_prefix

if TYPE_CHECKING:
    from interconnect_sim.topology.fabric import Fabric

__all__ = ["EdgeNumbers"]

Edge = tuple[str, str]


class EdgeNumbers:
    """Directed edges of one fabric numbered ``0 .. E-1``, with their capacities (bytes/s).

    Use :meth:`of` for the fabric's shared instance.

    Attributes
    ----------
    edges : list of (str, str)
        Edge of each number.
    index : dict of (str, str) to int
        Number of each edge.
    capacity : ndarray
        Capacity of each edge, one direction.
    """

    @classmethod
    def of(cls, fabric: Fabric) -> EdgeNumbers:
        """The shared instance for ``fabric``."""
        return fabric.derived("edge_numbers", lambda: cls(fabric))

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        succ = fabric.graph._succ  # the plain dicts: the public views cost a wrapper each
        self.edges: list[Edge] = [(u, v) for u, ends in succ.items() for v in ends]
        self.index: dict[Edge, int] = {edge: i for i, edge in enumerate(self.edges)}
        self.capacity: NDArray[np.float64] = np.fromiter(
            (data[BANDWIDTH] for ends in succ.values() for data in ends.values()),
            dtype=float,
            count=len(self.edges),
        )
        self._runs: dict[int, tuple[int, int]] | None = None

    def __len__(self) -> int:
        return len(self.edges)

    def numbers(self, edges: list[Edge]) -> NDArray[np.int64]:
        """Numbers of ``edges``."""
        index = self.index
        return np.fromiter((index[e] for e in edges), dtype=np.int64, count=len(edges))

    def _node_runs(self) -> dict[int, tuple[int, int]]:
        """Node -> (first number, count) of the edges leaving its devices."""
        if self._runs is None:
            runs: dict[int, tuple[int, int]] = {}
            nodes = self.fabric.graph._node
            position = 0
            current, start = None, 0
            for device, ends in self.fabric.graph._succ.items():
                node = nodes[device].get("node")
                if node != current:
                    if current is not None:
                        runs.setdefault(int(current), (start, position - start))
                    current, start = node, position
                position += len(ends)
            if current is not None:
                runs.setdefault(int(current), (start, position - start))
            self._runs = runs
        return self._runs

    def node_runs_of(self, nodes: list[int]) -> dict[int, tuple[int, int]]:
        """(first number, count) of the edges leaving each node's devices."""
        runs = self._node_runs()
        return {node: runs[node] for node in nodes}

    def node_runs(
        self, local_edges: NDArray[np.int64], template: int, nodes: list[int]
    ) -> NDArray[np.int64] | None:
        """Numbers of ``template``'s edges ``local_edges`` repeated on each of ``nodes``
        (shape nodes x edges), or None when some node's edges are not laid out like the
        template's (then look the edges up one by one).

        Only nodes of the template's kind are laid out alike; the caller vouches for that.
        """
        runs = self._node_runs()
        if template not in runs or any(n not in runs for n in nodes):
            return None
        start, count = runs[template]
        offsets = local_edges - start
        if offsets.size and (offsets.min() < 0 or offsets.max() >= count):
            return None  # the template's flow leaves its node
        starts = np.fromiter((runs[n][0] for n in nodes), dtype=np.int64, count=len(nodes))
        counts = np.fromiter((runs[n][1] for n in nodes), dtype=np.int64, count=len(nodes))
        if np.any(counts != count) or not self._spot_check(offsets, template, nodes, starts):
            return None
        return starts[:, None] + offsets[None, :]

    def _spot_check(
        self,
        offsets: NDArray[np.int64],
        template: int,
        nodes: list[int],
        starts: NDArray[np.int64],
    ) -> bool:
        """The first and last edges land on the same local links on the first and last node."""
        if not offsets.size:
            return True
        cut = len(node_prefix(template))
        start = self._node_runs()[template][0]
        for position in {0, len(nodes) - 1}:
            prefix = node_prefix(nodes[position])
            for offset in (offsets[0], offsets[-1]):
                u, v = self.edges[start + int(offset)]
                w, x = self.edges[int(starts[position]) + int(offset)]
                if (w, x) != (_moved(u, cut, prefix), _moved(v, cut, prefix)):
                    return False
        return True


def _moved(device: str, cut: int, prefix: str) -> str:
    return prefix + device[cut:] if device[:1] == "n" and "/" in device else device
