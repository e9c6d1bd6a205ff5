"""Plain-text renderings for the terminal."""

from __future__ import annotations

from interconnect_sim.topology.analysis import FabricSummary
from interconnect_sim.units import format_rate

__all__ = ["format_fabric_summary"]

_TIER_LABELS = {
    "nvlink": "NVLink",
    "pcie": "PCIe",
    "host": "CPU-GPU (C2C)",
    "network": "Scale-out network",
}


def format_fabric_summary(summary: FabricSummary) -> str:
    """The ``topo`` command's report: counts, per-GPU bandwidth per tier, bisection, switches."""
    lines = [
        f"{summary.name}: {summary.nodes} node(s), {summary.gpus} GPUs "
        f"({summary.gpus_per_node} per node)",
        "",
        "Devices:  " + ", ".join(f"{kind} {count}" for kind, count in summary.devices.items()),
        "Links (full-duplex, physical):  "
        + ", ".join(f"{spec} {count}" for spec, count in summary.links_by_spec.items()),
        "",
        f"{'Per-GPU bandwidth':<22}{'per direction':>16}{'bidirectional':>16}",
    ]
    for tier, value in summary.per_gpu_bandwidth_bytes_per_s.items():
        if value > 0:
            label = summary.scale_up_label if tier == "nvlink" else _TIER_LABELS[tier]
            lines.append(f"  {label:<20}{format_rate(value):>16}{format_rate(2 * value):>16}")
    lines.append("")
    lines.append(
        f"Bisection (max-flow, {summary.bisection_cut}): "
        f"{format_rate(summary.bisection_bandwidth_bytes_per_s)} per direction, all links"
    )
    if summary.nvlink_bisection_bandwidth_bytes_per_s is not None:
        lines.append(
            f"  {summary.scale_up_label} only: "
            f"{format_rate(summary.nvlink_bisection_bandwidth_bytes_per_s)} "
            "per direction"
        )
    switches = ", ".join(f"{kind} {count}" for kind, count in summary.switches.items() if count)
    lines.append(f"Switches: {switches or 'none'}")
    if summary.network_levels is not None:
        ratio = summary.oversubscription or 1.0
        lines.append(f"Network: {summary.network_levels} levels, leaf oversubscription {ratio:g}:1")
    lines.extend(f"Note: {note}" for note in summary.notes)
    if summary.provenance:
        lines.append("")
        lines.append("Where the numbers come from:")
        for role, entry in summary.provenance.items():
            lines.append(f"  {role:<8}{entry['id']:<21} {entry['entry']:<26}{entry['summary']}")
    return "\n".join(lines)
