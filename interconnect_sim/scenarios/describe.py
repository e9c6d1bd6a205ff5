"""Words and input lists shared by the scenario runners."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from interconnect_sim.scenarios.provenance import fabric_spec_ids, hardware_provenance
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.analysis import summarize_fabric
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.units import format_rate, format_size

__all__ = [
    "fabric_inputs",
    "latency_bound_below",
    "limiting_tier",
    "provenance_of",
    "size_label",
]

_FABRIC_KEYS = (
    ("nic", "NIC (what-if)"),
    ("nic_count", "NICs per system (what-if)"),
    ("switch", "network switch (what-if)"),
    ("levels", "network levels"),
    ("nvlink_lanes", "NVLink lanes per link (what-if)"),
    ("p2p", "GPU peer-to-peer"),
)


def size_label(size_bytes: float) -> str:
    """A message size the way people read nccl-tests sweeps (``8 B``, ``1 MiB``, ``8 GiB``)."""
    return format_size(size_bytes, binary=True)


def limiting_tier(bottleneck: str) -> str:
    """The tier a bottleneck description names: ``latency``, ``nvlink``, ``network`` ...

    Examples
    --------
    >>> limiting_tier("nvlink: link n0/gpu0 -> n0/nvsw0: 5 x 25 GB/s (nvlink-4)")
    'nvlink'
    >>> limiting_tier("latency (35.8 us per call)")
    'latency'
    >>> limiting_tier("NCCL NVLSTree channels: 8 x 45.5 GB/s per channel")
    'NCCL channels'
    """
    head = bottleneck.split(":", 1)[0].strip()
    if head.startswith("latency"):
        return "latency"
    if head.startswith("NCCL"):  # a per-channel rate of NCCL's kernels (tuning.cc)
        return "NCCL channels"
    return head.split(" (", 1)[0]


def latency_bound_below(sizes: Any, bottlenecks: tuple[str, ...]) -> float | None:
    """The largest size whose time is mostly latency, or ``None``."""
    bound = [float(s) for s, b in zip(sizes, bottlenecks, strict=True) if b.startswith("latency")]
    return max(bound) if bound else None


def fabric_inputs(
    fabric: Fabric, catalog: Catalog, values: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The fabric as inputs a reader checks first: system, size, per-GPU bandwidth by tier."""
    summary = summarize_fabric(fabric, catalog)
    system = catalog.system(summary.system)
    rows = [
        ("system", f"{system.id} ({system.name})"),
        ("nodes", f"{summary.nodes} ({summary.gpus} GPUs, {summary.gpus_per_node} per node)"),
    ]
    if values.get("scalable_units"):
        rows.append(("scalable units", str(values["scalable_units"])))
    if summary.network_levels is not None:
        rows.append(
            (
                "scale-out network",
                f"{summary.network_levels}-level fat tree, leaf oversubscription "
                f"{summary.oversubscription or 1.0:g}:1",
            )
        )
    for key, label in _FABRIC_KEYS:
        if values.get(key) is not None:
            value = values[key]
            shown = ("on" if value else "off") if isinstance(value, bool) else str(value)
            rows.append((label, shown))
    for key, label in (
        ("fail_link", "failed links"),
        ("disable_links", "disabled links"),
        ("fail_device", "failed devices"),
        ("degrade_link", "degraded links"),
        ("degrade_device", "degraded devices"),
    ):
        if values.get(key):
            rows.append((label, "; ".join(str(v) for v in values[key])))
    for tier, rate in summary.per_gpu_bandwidth_bytes_per_s.items():
        if rate > 0:
            rows.append((f"per-GPU {tier} bandwidth", f"{format_rate(rate)} per direction"))
    rows.append(
        (
            "bisection bandwidth",
            f"{format_rate(summary.bisection_bandwidth_bytes_per_s)} per "
            f"direction ({summary.bisection_cut})",
        )
    )
    return rows


def provenance_of(catalog: Catalog, fabrics: list[Fabric]) -> pd.DataFrame:
    """Provenance rows of every spec the fabrics were built from."""
    ids: dict[str, None] = {}
    for fabric in fabrics:
        ids.update(dict.fromkeys(fabric_spec_ids(fabric)))
    return hardware_provenance(catalog, ids)


def size_range(sizes: Any) -> str:
    """``8 B .. 8 GiB`` for a sweep."""
    return f"{size_label(float(min(sizes)))} .. {size_label(float(max(sizes)))}"
