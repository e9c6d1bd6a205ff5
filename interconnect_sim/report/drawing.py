"""Draw a fabric: devices coloured by kind, links by tier, big fabrics drawn as a tree.

Small fabrics (one system) show every device in layers: NVSwitch chips above the GPUs, PCIe
switches and NICs below, CPUs at the bottom. Multi-node fabrics collapse each system into one
box and show the network tiers above it (core, spine, leaf), so a 1,000-node SuperPOD stays
readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from interconnect_sim.files import write_atomically
from interconnect_sim.topology.fabric import BANDWIDTH, TIER, Fabric
from interconnect_sim.units import format_rate

__all__ = ["draw_fabric", "save_fabric_drawing", "save_figure"]

KIND_COLOURS = {
    "gpu": "#76b900",
    "nvswitch": "#1f6f3f",
    "pcie_switch": "#4c72b0",
    "cpu": "#8c564b",
    "nic": "#dd8452",
    "leaf": "#c44e52",
    "spine": "#8172b3",
    "core": "#333333",
    "system": "#76b900",
}
TIER_COLOURS = {"nvlink": "#2ca02c", "pcie": "#1f77b4", "network": "#ff7f0e", "host": "#9467bd"}
_SMALL_LAYERS = {"nvswitch": 3.0, "gpu": 2.0, "pcie_switch": 1.0, "nic": 0.4, "cpu": -0.4}
_LARGE_LAYERS = {"core": 3.0, "spine": 2.0, "leaf": 1.0, "system": 0.0}


def _spread(nodes: list[str], y: float, positions: dict[str, tuple[float, float]]) -> None:
    for i, node in enumerate(nodes):
        positions[node] = ((i + 0.5) / len(nodes), y)


def _small_graph(
    fabric: Fabric,
) -> tuple[dict[str, tuple[float, float]], list[tuple[str, str, str, float]]]:
    positions: dict[str, tuple[float, float]] = {}
    rows: dict[float, list[str]] = defaultdict(list)
    for node, kind in fabric.graph.nodes(data="kind"):
        rows[_SMALL_LAYERS.get(kind, 0.5)].append(node)
    for y, nodes in rows.items():
        _spread(nodes, y, positions)
    edges = [
        (u, v, d[TIER], d[BANDWIDTH])
        for u, v, d in fabric.graph.edges(data=True)
        if str(u) < str(v)
    ]
    return positions, edges


def _large_graph(
    fabric: Fabric,
) -> tuple[dict[str, tuple[float, float]], list[tuple[str, str, str, float]]]:
    """Collapse each system (``n<i>/...``) into one vertex; keep network switches."""

    def owner(node: str) -> str:
        return node.split("/", 1)[0] if fabric.kind(node) not in _LARGE_LAYERS else node

    rows: dict[float, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for node, kind in fabric.graph.nodes(data="kind"):
        vertex = owner(node)
        if vertex not in seen:
            seen.add(vertex)
            rows[_LARGE_LAYERS.get(kind, 0.0)].append(vertex)
    positions: dict[str, tuple[float, float]] = {}
    for y, nodes in rows.items():
        _spread(nodes, y, positions)
    bandwidth: dict[tuple[str, str, str], float] = defaultdict(float)
    for u, v, d in fabric.graph.edges(data=True):
        a, b = owner(u), owner(v)
        if a != b and a < b:
            bandwidth[(a, b, d[TIER])] += d[BANDWIDTH]
    return positions, [(a, b, tier, bw) for (a, b, tier), bw in bandwidth.items()]


def _link_curve(a: tuple[float, float], b: tuple[float, float]) -> tuple[list[float], list[float]]:
    """A straight line, or an arc above the row when both ends sit on one row (GPU-GPU NVLink)."""
    (xa, ya), (xb, yb) = a, b
    if ya != yb:
        return [xa, xb], [ya, yb]
    steps = 24
    height = 0.9 * abs(xb - xa)
    ts = [i / steps for i in range(steps + 1)]
    return [xa + (xb - xa) * t for t in ts], [ya + height * 4 * t * (1 - t) for t in ts]


def draw_fabric(fabric: Fabric, ax: Axes) -> None:
    """Draw ``fabric`` on ``ax``.

    Parameters
    ----------
    fabric : Fabric
        Fabric to draw.
    ax : matplotlib.axes.Axes
        Target axes; cleared of ticks, since position carries no unit.
    """
    multi_node = len({fabric.graph.nodes[g]["node"] for g in fabric.gpus}) > 1
    positions, edges = _large_graph(fabric) if multi_node else _small_graph(fabric)
    widest = max((bw for *_, bw in edges), default=1.0)
    tier_max: dict[str, float] = defaultdict(float)
    for a, b, tier, bw in edges:
        xs, ys = _link_curve(positions[a], positions[b])
        ax.plot(
            xs,
            ys,
            color=TIER_COLOURS[tier],
            alpha=0.35,
            linewidth=0.4 + 2.0 * bw / widest,
            zorder=1,
        )
        tier_max[tier] = max(tier_max[tier], bw)
    by_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for node, xy in positions.items():
        kind = "system" if multi_node and node.startswith("n") and "/" not in node else None
        by_kind[kind or fabric.kind(node)].append(xy)
    marker_size = max(6.0, 120.0 / max(1.0, len(positions) ** 0.5))
    for kind, points in by_kind.items():
        point_xs = [x for x, _ in points]
        point_ys = [y for _, y in points]
        label = "system (all devices of one node)" if kind == "system" else kind.replace("_", " ")
        ax.scatter(
            point_xs,
            point_ys,
            s=marker_size * (3 if kind == "system" else 2),
            color=KIND_COLOURS.get(kind, "grey"),
            label=f"{label} ({len(points)})",
            zorder=2,
            edgecolors="white",
            linewidths=0.3,
        )
    tier_handles = [
        Line2D(
            [0],
            [0],
            color=TIER_COLOURS[t],
            label=f"{t} link (widest {format_rate(bw)} per direction)",
        )
        for t, bw in tier_max.items()
    ]
    node_legend = ax.legend(
        loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title="devices", title_fontsize=8
    )
    ax.add_artist(node_legend)
    ax.legend(
        handles=tier_handles,
        loc="lower left",
        bbox_to_anchor=(1.01, 0.0),
        fontsize=7,
        title="links (line width ~ bandwidth)",
        title_fontsize=8,
    )
    ax.set_title(fabric.name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(0, 1)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def save_fabric_drawing(fabric: Fabric, path: Path) -> None:
    """Draw ``fabric`` and write it to ``path`` (PNG, SVG or PDF by suffix) atomically."""
    figure, ax = plt.subplots(figsize=(12, 6), layout="constrained")
    try:
        draw_fabric(fabric, ax)
        write_atomically(Path(path), lambda tmp: figure.savefig(tmp, dpi=130))
    finally:
        plt.close(figure)


def save_figure(
    path: Path, draw: Callable[[Axes], None], *, size: tuple[float, float] = (6, 4)
) -> None:
    """Make a figure, let ``draw`` fill its Axes, and write it to ``path`` atomically."""
    figure, ax = plt.subplots(figsize=size, layout="constrained")
    try:
        draw(ax)
        write_atomically(Path(path), lambda tmp: figure.savefig(tmp, dpi=120))
    finally:
        plt.close(figure)
