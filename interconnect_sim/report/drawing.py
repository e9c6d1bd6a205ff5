"""Draw a fabric people can read: labelled devices and tiers, big fabrics collapsed into groups.

* **One system**: every device is a labelled box in its row (NVSwitch chips on top, then GPUs,
  PCIe switches, CPUs, and the NICs at the bottom, facing the network); each row is named on the
  left with its device kind, model and count; links are coloured by tier (NVLink, PCIe, network,
  host) with the link types and their per-direction rates in the legend. PCIe switches, NICs and
  CPUs sit under the devices they connect to, so lines rarely cross.
* **Many systems**: identical systems and switches collapse into groups with counts: each scalable
  unit's systems, each SU's leaves, the spines (per pod or rail group), the cores. Lines between
  groups carry the number of links and the bandwidth per direction, so a 4-SU DGX SuperPOD reads
  at a glance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch

from interconnect_sim.files import write_atomically
from interconnect_sim.report.fabric_groups import (
    MAX_GROUPS_PER_ROW,
    NETWORK_ROWS,
    FabricGroup,
    GroupLink,
    fabric_groups,
    merge_rows,
)
from interconnect_sim.topology.fabric import BANDWIDTH, LINK_COUNT, LINK_SPEC, TIER, Fabric
from interconnect_sim.units import format_rate

__all__ = [
    "FabricGroup",
    "GroupLink",
    "draw_fabric",
    "fabric_groups",
    "save_fabric_drawing",
    "save_figure",
]

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
TIER_NAMES = {"nvlink": "NVLink", "pcie": "PCIe", "network": "network", "host": "host (CPU, C2C)"}
KIND_NAMES = {
    "gpu": "GPU",
    "nvswitch": "NVSwitch",
    "pcie_switch": "PCIe switch",
    "nic": "NIC",
    "cpu": "CPU",
    "leaf": "leaf",
    "spine": "spine",
    "core": "core",
}
_SMALL_ROWS = ("nvswitch", "gpu", "pcie_switch", "nic", "cpu")
_MAX_LABELLED = 16


# -- one system ------------------------------------------------------------------------------


def _device_label(node: str) -> str:
    local = node.split("/", 1)[-1]
    for prefix, name in (
        ("gpu", "GPU"),
        ("nvsw", "NVSw"),
        ("pcisw", "PCIe"),
        ("nic", "NIC"),
        ("cpu", "CPU"),
    ):
        if local.startswith(prefix):
            return f"{name} {local[len(prefix) :]}"
    return local


def _row_specs(fabric: Fabric, nodes: list[str]) -> str:
    specs = Counter(
        str(fabric.graph.nodes[n].get("spec") or fabric.graph.nodes[n].get("model") or "")
        for n in nodes
    )
    named = [s for s in specs if s]
    return ", ".join(named)


def _place_small(fabric: Fabric) -> dict[str, tuple[float, float]]:
    """Rows by kind; rows below the GPUs sit under their neighbours (barycentre order)."""
    rows: dict[str, list[str]] = defaultdict(list)
    for node, kind in fabric.graph.nodes(data="kind"):
        rows[kind if kind in _SMALL_ROWS else "gpu"].append(node)
    positions: dict[str, tuple[float, float]] = {}
    y_of = {"nvswitch": 4.0, "gpu": 3.0, "pcie_switch": 2.0, "cpu": 1.0, "nic": 0.0}

    def spread(nodes: list[str], y: float) -> None:
        for i, node in enumerate(nodes):
            positions[node] = ((i + 0.5) / len(nodes), y)

    spread(sorted(rows["gpu"], key=_index), y_of["gpu"])
    spread(sorted(rows["nvswitch"], key=_index), y_of["nvswitch"])
    for kind in ("pcie_switch", "cpu", "nic"):
        nodes = rows.get(kind, [])

        def centre(node: str) -> float:
            xs = [positions[m][0] for m in fabric.graph.successors(node) if m in positions]
            return sum(xs) / len(xs) if xs else 0.5

        spread(sorted(nodes, key=lambda n: (centre(n), _index(n))), y_of[kind])
    return positions


def _index(node: str) -> int:
    digits = "".join(ch for ch in node.rsplit("/", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def _link_curve(a: tuple[float, float], b: tuple[float, float]) -> tuple[list[float], list[float]]:
    """A straight line, or an arc above the row when both ends sit on one row (GPU-GPU NVLink)."""
    (xa, ya), (xb, yb) = a, b
    if ya != yb:
        return [xa, xb], [ya, yb]
    steps = 24
    height = 0.9 * abs(xb - xa)
    ts = [i / steps for i in range(steps + 1)]
    return [xa + (xb - xa) * t for t in ts], [ya + height * 4 * t * (1 - t) for t in ts]


def _tier_legend(fabric: Fabric) -> list[Line2D]:
    rates: dict[str, dict[str, float]] = defaultdict(dict)
    for _, _, data in fabric.graph.edges(data=True):
        per_link = data[BANDWIDTH] / max(1, data[LINK_COUNT])
        rates[data[TIER]][str(data[LINK_SPEC])] = per_link
    handles = []
    for tier in ("nvlink", "pcie", "network", "host"):
        if tier not in rates:
            continue
        specs = ", ".join(f"{spec} {format_rate(r)}" for spec, r in sorted(rates[tier].items()))
        handles.append(
            Line2D([0], [0], color=TIER_COLOURS[tier], lw=2, label=f"{TIER_NAMES[tier]}: {specs}")
        )
    return handles


def _draw_small(fabric: Fabric, ax: Axes) -> None:
    positions = _place_small(fabric)
    widest = max((d[BANDWIDTH] for _, _, d in fabric.graph.edges(data=True)), default=1.0)
    for u, v, data in fabric.graph.edges(data=True):
        if str(u) >= str(v):
            continue
        xs, ys = _link_curve(positions[u], positions[v])
        ax.plot(
            xs,
            ys,
            color=TIER_COLOURS[data[TIER]],
            alpha=0.55,
            linewidth=0.6 + 2.4 * data[BANDWIDTH] / widest,
            zorder=1,
        )
    rows: dict[str, list[str]] = defaultdict(list)
    for node, kind in fabric.graph.nodes(data="kind"):
        rows[kind].append(node)
    for kind, nodes in rows.items():
        per_row = len(nodes)
        box_w = min(0.9 / per_row, 0.07)
        for node in nodes:
            x, y = positions[node]
            ax.add_patch(
                FancyBboxPatch(
                    (x - box_w / 2, y - 0.16),
                    box_w,
                    0.32,
                    boxstyle="round,pad=0.004,rounding_size=0.02",
                    facecolor=KIND_COLOURS.get(kind, "grey"),
                    edgecolor="white",
                    linewidth=0.8,
                    zorder=2,
                )
            )
            if per_row <= _MAX_LABELLED:
                ax.text(
                    x,
                    y,
                    _device_label(node),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white",
                    zorder=3,
                    fontweight="bold",
                )
        y = positions[nodes[0]][1]
        spec = _row_specs(fabric, nodes)
        ax.text(
            -0.01,
            y,
            f"{KIND_NAMES.get(kind, kind)} x {per_row}" + (f"\n{spec}" if spec else ""),
            ha="right",
            va="center",
            fontsize=8,
        )
    ax.set_ylim(-0.5, 4.9 if rows.get("nvswitch") else 4.3)
    ax.legend(
        handles=_tier_legend(fabric),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        fontsize=7.5,
        title="links by tier (rate per link, per direction; line width ~ bandwidth)",
        title_fontsize=8,
        frameon=False,
    )


# -- many systems: groups ---------------------------------------------------------------------


def _group_text(group: FabricGroup) -> str:
    if group.row == "system":
        return f"{group.title}\n{group.count:,} x {group.detail}"
    return f"{group.count:,} x {group.title}\n{group.detail}"


def _draw_groups(fabric: Fabric, ax: Axes) -> None:
    groups, links = merge_rows(*fabric_groups(fabric))
    rows: dict[str, list[FabricGroup]] = defaultdict(list)
    for group in groups:
        rows[group.row].append(group)
    present = [row for row in NETWORK_ROWS if row in rows]
    centre: dict[str, tuple[float, float]] = {}
    box_h = 0.42
    for level, row in enumerate(present):
        members = sorted(rows[row], key=lambda g: g.key)
        width = min(0.9 / len(members), 0.3)
        for i, group in enumerate(members):
            x = (i + 0.5) / len(members)
            centre[group.key] = (x, float(level))
            ax.add_patch(
                FancyBboxPatch(
                    (x - width / 2, level - box_h / 2),
                    width,
                    box_h,
                    boxstyle="round,pad=0.005,rounding_size=0.03",
                    facecolor=KIND_COLOURS.get(row, "grey"),
                    edgecolor="white",
                    zorder=2,
                )
            )
            ax.text(
                x,
                level,
                _group_text(group),
                ha="center",
                va="center",
                fontsize=7.5 if len(members) <= 5 else 6.5,
                color="white",
                fontweight="bold",
                zorder=3,
            )
    widest = max((link.bandwidth_bytes_per_s for link in links), default=1.0)
    between: dict[tuple[float, float], list[GroupLink]] = defaultdict(list)
    for link in links:
        between[(centre[link.lower][1], centre[link.upper][1])].append(link)
    label_box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}
    for (low, high), level_links in between.items():
        for link in level_links:
            (xa, ya), (xb, yb) = centre[link.lower], centre[link.upper]
            ya, yb = ya + box_h / 2, yb - box_h / 2
            ax.plot(
                [xa, xb],
                [ya, yb],
                color=TIER_COLOURS[link.tier],
                linewidth=0.8 + 3.5 * link.bandwidth_bytes_per_s / widest,
                alpha=0.7,
                zorder=1,
            )
            if len(level_links) <= MAX_GROUPS_PER_ROW:
                ax.text(
                    xa + 0.3 * (xb - xa),
                    ya + 0.3 * (yb - ya),
                    f"{link.links:,} links\n{format_rate(link.bandwidth_bytes_per_s)}",
                    fontsize=6,
                    ha="center",
                    va="center",
                    zorder=3,
                    bbox=label_box,
                )
        if len(level_links) > MAX_GROUPS_PER_ROW:
            total = sum(link.links for link in level_links)
            rate = sum(link.bandwidth_bytes_per_s for link in level_links)
            ax.text(
                1.0,
                (low + high) / 2,
                f"{len(level_links)} group pairs:\n{total:,} links, {format_rate(rate)}",
                fontsize=6.5,
                ha="left",
                va="center",
                zorder=3,
                bbox=label_box,
            )
    for level, row in enumerate(present):
        total = sum(g.count for g in rows[row])
        name = "systems" if row == "system" else f"{row} switches"
        ax.text(-0.01, level, f"{name}\n{total:,} in all", ha="right", va="center", fontsize=8)
    ax.set_ylim(-0.5, len(present) - 0.5)
    ax.legend(
        handles=_tier_legend(fabric),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        fontsize=7.5,
        title="links between groups: count and bandwidth per direction (upward); rate per link",
        title_fontsize=8,
        frameon=False,
    )


def draw_fabric(fabric: Fabric, ax: Axes) -> None:
    """Draw ``fabric`` on ``ax``: every device of one system, or groups of a multi-node fabric.

    Parameters
    ----------
    fabric : Fabric
        Fabric to draw.
    ax : matplotlib.axes.Axes
        Target axes; cleared of ticks, since position carries no unit.
    """
    multi_node = len({fabric.graph.nodes[g]["node"] for g in fabric.gpus}) > 1
    if multi_node:
        _draw_groups(fabric, ax)
    else:
        _draw_small(fabric, ax)
    ax.set_title(fabric.name, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(0, 1)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)


def save_fabric_drawing(fabric: Fabric, path: Path) -> None:
    """Draw ``fabric`` and write it to ``path`` (PNG, SVG or PDF by suffix) atomically."""
    figure, ax = plt.subplots(figsize=(12, 6.5), layout="constrained")
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
