"""Collapse a multi-node fabric into groups a drawing can show: identical systems per scalable
unit, each SU's leaves, the spines (per pod or rail group), the cores; and the links between
groups with their count and bandwidth per direction. Pure data, no drawing
(:mod:`interconnect_sim.report.drawing` draws them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from interconnect_sim.topology.fabric import BANDWIDTH, LINK_COUNT, TIER, Fabric

__all__ = [
    "MAX_GROUPS_PER_ROW",
    "NETWORK_ROWS",
    "FabricGroup",
    "GroupLink",
    "fabric_groups",
    "merge_rows",
]

NETWORK_ROWS = ("system", "leaf", "spine", "core")
"""The rows of a grouped drawing, bottom to top."""
MAX_GROUPS_PER_ROW = 8
"""More groups than this in a row merge into one with the totals; more links than this between
two rows are labelled once, with their sum."""


@dataclass(slots=True)
class FabricGroup:
    """Identical devices drawn as one box: a scalable unit's systems, an SU's leaves ..."""

    key: str
    row: str
    title: str
    members: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def count(self) -> int:
        """Devices (or systems) in the group."""
        return len(self.members)


@dataclass(slots=True)
class GroupLink:
    """All physical links between two groups: count and bandwidth per direction (upward)."""

    lower: str
    upper: str
    tier: str
    links: int = 0
    bandwidth_bytes_per_s: float = 0.0


def _system_su(fabric: Fabric) -> dict[int, int]:
    su_of: dict[int, int] = {}
    for nic in fabric.nodes_of_kind("nic"):
        node = fabric.graph.nodes[nic].get("node")
        for neighbour in fabric.graph.successors(nic):
            if fabric.kind(neighbour) == "leaf" and node is not None:
                su_of.setdefault(int(node), int(fabric.graph.nodes[neighbour].get("su", 0)))
    return su_of


def _system_detail(group: FabricGroup, info: dict[str, int]) -> str:
    system = group.detail.split("\n", 1)[0]
    gpus = group.count * info["gpus_per_node"]
    return f"{system}\n{gpus:,} GPUs" if gpus else system


def _switch_group(node: str, kind: str, su: object) -> str:
    if kind == "leaf":
        return f"leaf:su{su}"
    prefix = node.split("/", 1)[0] if "/" in node else ""
    return f"{kind}:{prefix}"


def fabric_groups(fabric: Fabric) -> tuple[list[FabricGroup], list[GroupLink]]:
    """Collapse a multi-node fabric into groups (per SU, per switch tier) and group links."""
    su_of = _system_su(fabric)
    system = str(fabric.graph.graph.get("system", "system"))
    gpn = int(fabric.graph.graph.get("gpus_per_node") or 0)
    groups: dict[str, FabricGroup] = {}
    group_of: dict[str, str] = {}
    systems: dict[str, set[int]] = defaultdict(set)
    for node, data in fabric.graph.nodes(data=True):
        kind = data["kind"]
        if kind in ("leaf", "spine", "core"):
            key = _switch_group(node, kind, data.get("su"))
            if key not in groups:
                scope = key.split(":", 1)[1]
                where = f" ({scope.replace('su', 'SU ')})" if scope else ""
                groups[key] = FabricGroup(key, kind, f"{kind}{where}", detail=str(data["spec"]))
            groups[key].members.append(node)
            group_of[node] = key
        else:
            index = int(data.get("node", 0))
            key = f"system:su{su_of.get(index, 0)}"
            systems[key].add(index)
            group_of[node] = key
    for key, indices in systems.items():
        su = key.split("su", 1)[1]
        groups[key] = FabricGroup(
            key, "system", f"SU {su}", members=[f"n{i}" for i in sorted(indices)], detail=system
        )
    fabric_gpus = {"gpus_per_node": gpn}
    for group in groups.values():
        if group.row == "system":
            group.detail = _system_detail(group, fabric_gpus)
    rank = {row: i for i, row in enumerate(NETWORK_ROWS)}
    links: dict[tuple[str, str, str], GroupLink] = {}
    for u, v, data in fabric.graph.edges(data=True):
        a, b = group_of[u], group_of[v]
        if a == b or rank[groups[a].row] >= rank[groups[b].row]:
            continue
        pair = (a, b, str(data[TIER]))
        link = links.setdefault(pair, GroupLink(*pair))
        link.links += int(data[LINK_COUNT])
        link.bandwidth_bytes_per_s += float(data[BANDWIDTH])
    return list(groups.values()), list(links.values())


def merge_rows(
    groups: list[FabricGroup], links: list[GroupLink]
) -> tuple[list[FabricGroup], list[GroupLink]]:
    """Rows with more than a handful of groups become one group with the totals."""
    by_row: dict[str, list[FabricGroup]] = defaultdict(list)
    for group in groups:
        by_row[group.row].append(group)
    rename: dict[str, str] = {}
    merged: list[FabricGroup] = []
    for row, members in by_row.items():
        if len(members) <= MAX_GROUPS_PER_ROW:
            merged.extend(members)
            continue
        key = f"{row}:all"
        unit = "SUs" if row in ("system", "leaf") else "groups"
        group = FabricGroup(
            key,
            row,
            f"{row} ({len(members)} {unit})" if row != "system" else f"{len(members)} SUs",
            detail=members[0].detail,
        )
        for member in members:
            group.members.extend(member.members)
            rename[member.key] = key
        if row == "system":
            per_node = _gpus_per_member(members)
            group.detail = f"{group.detail.split(chr(10))[0]}\n{per_node * group.count:,} GPUs"
        merged.append(group)
    combined: dict[tuple[str, str, str], GroupLink] = {}
    for link in links:
        pair = (rename.get(link.lower, link.lower), rename.get(link.upper, link.upper), link.tier)
        total = combined.setdefault(pair, GroupLink(*pair))
        total.links += link.links
        total.bandwidth_bytes_per_s += link.bandwidth_bytes_per_s
    return merged, list(combined.values())


def _gpus_per_member(members: list[FabricGroup]) -> int:
    first = members[0]
    lines = first.detail.split("\n")
    if len(lines) < 2 or not first.count:
        return 0
    return int(lines[1].split()[0].replace(",", "")) // first.count
