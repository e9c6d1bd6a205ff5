"""The NCCL constants file of a calibration (``[nccl]`` of ``nccl-<version>.toml``): latencies,
per-architecture bandwidth caps, data rates, the topology search, tuning, NVLS and channel
rules, each table checked for missing and unknown keys (:mod:`.toml_values`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import (
    ALGORITHMS,
    ARCH_CLASSES,
    LATENCY_CLASSES,
    PER_CHANNEL_KINDS,
    PROTOCOLS,
    ChannelRules,
    NvlsRules,
    SearchRules,
    TuningRules,
)
from interconnect_sim.calibration.toml_values import (
    GBPS,
    US,
    exact_keys,
    integer,
    names,
    number,
    numbers,
    shown,
    table_of,
)
from interconnect_sim.errors import SpecError

__all__ = ["nccl_rules"]


def _per_protocol(table: dict[str, Any], where: str, path: Path) -> dict[str, tuple[float, ...]]:
    exact_keys(table, ALGORITHMS, where, path)
    return {algo: numbers(table[algo], f"{where}.{algo}", path, 3) for algo in ALGORITHMS}


def _latencies(nccl: dict[str, Any], path: Path) -> tuple[dict[Any, float], dict[Any, float]]:
    base = _per_protocol(
        table_of(nccl, "base_latency_us", path, "nccl."), "nccl.base_latency_us", path
    )
    hw_table = table_of(nccl, "hw_latency_us", path, "nccl.")
    exact_keys(hw_table, LATENCY_CLASSES, "nccl.hw_latency_us", path)
    base_s = {
        (algo, proto): value * US
        for algo, values in base.items()
        for proto, value in zip(PROTOCOLS, values, strict=True)
    }
    hw_s = {}
    for klass in LATENCY_CLASSES:
        where = f"nccl.hw_latency_us.{klass}"
        for algo, values in _per_protocol(table_of(hw_table, klass, path), where, path).items():
            for proto, value in zip(PROTOCOLS, values, strict=True):
                hw_s[(klass, algo, proto)] = value * US
    return base_s, hw_s


def _per_arch(
    table: dict[str, Any], where: str, path: Path, classes: frozenset[str]
) -> dict[str, tuple[float, float, float]]:
    unknown = sorted(set(table) - classes)
    if unknown:
        raise SpecError(f"{path}: [{where}]: unknown architecture class(es) {unknown}")
    return {
        # inf: no cap (a class without NCCL's LL limits)
        arch: tuple(v * GBPS for v in numbers(values, f"{where}.{arch}", path, 3, math.inf))  # type: ignore[misc]
        for arch, values in table.items()
    }


def _search(nccl: dict[str, Any], path: Path) -> SearchRules:
    table = table_of(nccl, "search", path, "nccl.")
    keys = (
        "speed_floor_ratio",
        "max_ring_channels",
        "max_nvls_heads",
        "dup_min_GBps",
        "dup_skip_below_GBps",
        "dup_skip_above_channels",
        "dup_skip_arch",
        "speeds_intra_GBps",
        "speeds_inter_GBps",
    )
    exact_keys(table, keys, "nccl.search", path)
    speeds = {}
    for key in ("speeds_intra_GBps", "speeds_inter_GBps"):
        sub = table_of(table, key, path, "nccl.search.")
        if "default" not in sub:
            raise SpecError(f"{path}: [nccl.search.{key}] needs a 'default' list")
        speeds[key] = {k: numbers(v, f"nccl.search.{key}.{k}", path) for k, v in sub.items()}
    where = "nccl.search"
    return SearchRules(
        speeds_intra_gb_per_s=speeds["speeds_intra_GBps"],
        speeds_inter_gb_per_s=speeds["speeds_inter_GBps"],
        speed_floor_ratio=number(table["speed_floor_ratio"], f"{where}.speed_floor_ratio", path),
        max_ring_channels=integer(table["max_ring_channels"], f"{where}.max_ring_channels", path),
        max_nvls_heads=integer(table["max_nvls_heads"], f"{where}.max_nvls_heads", path),
        dup_min_gb_per_s=number(table["dup_min_GBps"], f"{where}.dup_min_GBps", path),
        dup_skip_below_gb_per_s=number(
            table["dup_skip_below_GBps"], f"{where}.dup_skip_below_GBps", path
        ),
        dup_skip_above_channels=integer(
            table["dup_skip_above_channels"], f"{where}.dup_skip_above_channels", path
        ),
        dup_skip_arch=names(table["dup_skip_arch"], ARCH_CLASSES, f"{where}.dup_skip_arch", path),
    )


def _tuning(nccl: dict[str, Any], path: Path) -> TuningRules:
    table = table_of(nccl, "tuning", path, "nccl.")
    keys = (
        "tree_bandwidth_factor",
        "ring_plateau_factor",
        "ring_plateau_factor_before_ampere",
        "simple_net_overhead_factor",
        "net_overhead_us",
        "tree_correction",
    )
    exact_keys(table, keys, "nccl.tuning", path)
    overhead = table_of(table, "net_overhead_us", path, "nccl.tuning.")
    exact_keys(overhead, ("intel", "amd", "other"), "nccl.tuning.net_overhead_us", path)
    correction = table_of(table, "tree_correction", path, "nccl.tuning.")
    exact_keys(correction, PROTOCOLS, "nccl.tuning.tree_correction", path)
    where = "nccl.tuning"
    return TuningRules(
        tree_bandwidth_factor=number(
            table["tree_bandwidth_factor"], f"{where}.tree_bandwidth_factor", path
        ),
        ring_plateau_factor=number(
            table["ring_plateau_factor"], f"{where}.ring_plateau_factor", path
        ),
        ring_plateau_factor_before_ampere=number(
            table["ring_plateau_factor_before_ampere"],
            f"{where}.ring_plateau_factor_before_ampere",
            path,
        ),
        simple_net_overhead_factor=number(
            table["simple_net_overhead_factor"], f"{where}.simple_net_overhead_factor", path
        ),
        net_overhead_s={
            k: number(v, f"{where}.net_overhead_us.{k}", path) * US for k, v in overhead.items()
        },
        tree_correction={
            p: numbers(correction[p], f"{where}.tree_correction.{p}", path, 24) for p in PROTOCOLS
        },
    )


def _nvls(nccl: dict[str, Any], path: Path, known: frozenset[str]) -> NvlsRules:
    table = table_of(nccl, "nvls", path, "nccl.")
    keys = (
        "chunk_bytes",
        "channels_one_node",
        "channels_two_nodes",
        "channels_more_nodes",
        "tree_max_chunk_bytes_two_nodes",
        "tree_max_chunk_bytes_more_nodes",
    )
    exact_keys(table, keys, "nccl.nvls", path)
    subs = {k: table_of(table, k, path, "nccl.nvls.") for k in keys[1:]}
    for key, sub in subs.items():
        unknown = sorted(set(sub) - known)
        if unknown:
            raise SpecError(f"{path}: [nccl.nvls.{key}]: unknown architecture class(es) {unknown}")
    classes = set(subs["channels_one_node"])
    where = "nccl.nvls"
    return NvlsRules(
        chunk_bytes=number(table["chunk_bytes"], f"{where}.chunk_bytes", path, positive=True),
        channels={
            c: tuple(  # type: ignore[misc]
                integer(subs[k].get(c), f"{where}.{k}.{c}", path)
                for k in ("channels_one_node", "channels_two_nodes", "channels_more_nodes")
            )
            for c in classes
        },
        tree_max_chunk_bytes={
            c: tuple(  # type: ignore[misc]
                number(subs[k].get(c), f"{where}.{k}.{c}", path, positive=True)
                for k in ("tree_max_chunk_bytes_two_nodes", "tree_max_chunk_bytes_more_nodes")
            )
            for c in set(subs["tree_max_chunk_bytes_two_nodes"])
        },
    )


_P2P_KEYS = ("per_channel_net_GBps", "peers_per_batch", "local_non_nvlink_channels")
_CHANNEL_KEYS = (
    "postset_duplication",
    "compute_doubling_arch",
    "compute_doubling_min_GBps",
    "compute_doubling_below",
)


def _channel_rules(nccl: dict[str, Any], path: Path) -> ChannelRules:
    p2p = table_of(nccl, "p2p", path, "nccl.")
    channels = table_of(nccl, "channels", path, "nccl.")
    exact_keys(p2p, _P2P_KEYS, "nccl.p2p", path)
    exact_keys(channels, _CHANNEL_KEYS, "nccl.channels", path)
    p2p_at, ch_at = "nccl.p2p", "nccl.channels"
    return ChannelRules(
        per_channel_net_bytes_per_s=number(
            p2p["per_channel_net_GBps"], f"{p2p_at}.per_channel_net_GBps", path, positive=True
        )
        * GBPS,
        peers_per_batch=integer(p2p["peers_per_batch"], f"{p2p_at}.peers_per_batch", path),
        local_non_nvlink_channels=integer(
            p2p["local_non_nvlink_channels"], f"{p2p_at}.local_non_nvlink_channels", path
        ),
        postset_duplication=integer(
            channels["postset_duplication"], f"{ch_at}.postset_duplication", path
        ),
        compute_doubling_arch=names(
            channels["compute_doubling_arch"], ARCH_CLASSES, f"{ch_at}.compute_doubling_arch", path
        ),
        compute_doubling_min_bytes_per_s=number(
            channels["compute_doubling_min_GBps"],
            f"{ch_at}.compute_doubling_min_GBps",
            path,
            positive=True,
        )
        * GBPS,
        compute_doubling_below=integer(
            channels["compute_doubling_below"], f"{ch_at}.compute_doubling_below", path
        ),
    )


def nccl_rules(constants: dict[str, Any], cpath: Path) -> dict[str, Any]:
    """The NCCL part of a :class:`~.model.Calibration` from a constants file's tables, as
    keyword arguments (SI units: seconds, bytes/s).

    Raises
    ------
    SpecError
        Naming ``cpath`` and the table or key on any missing, unknown or malformed entry.
    """
    nccl = table_of(constants, "nccl", cpath)
    base, hw = _latencies(nccl, cpath)
    classes = table_of(nccl, "architecture_class", cpath, "nccl.")
    known = frozenset(ARCH_CLASSES) | {str(v) for v in classes.values()}
    ll_max = table_of(nccl, "ll_max_bandwidth_GBps", cpath, "nccl.")
    undefined = sorted({str(v) for v in classes.values()} - set(ll_max))
    if undefined or not all(isinstance(v, str) for v in classes.values()):
        raise SpecError(
            f"{cpath}: nccl.architecture_class maps GPUs to {shown(undefined)}, which "
            f"[nccl.ll_max_bandwidth_GBps] does not define; each architecture must map to one of "
            f"{', '.join(ll_max)}"
        )
    per_channel = table_of(nccl, "per_channel_max_GBps", cpath, "nccl.")
    exact_keys(per_channel, PER_CHANNEL_KINDS, "nccl.per_channel_max_GBps", cpath)
    nvlink = table_of(nccl, "nvlink_data_rate_GBps", cpath, "nccl.")
    pcie = table_of(nccl, "pcie_data_rate_GBps", cpath, "nccl.")
    return {
        "base_latency_s": base,
        "hw_latency_s": hw,
        "ll_max_bytes_per_s": _per_arch(
            ll_max,
            "nccl.ll_max_bandwidth_GBps",
            cpath,
            known,
        ),
        "nvls_efficiency": {
            k: number(v, f"nccl.nvls_efficiency.{k}", cpath, high=1.0)
            for k, v in table_of(nccl, "nvls_efficiency", cpath, "nccl.").items()
        },
        "architecture_class": {str(k): str(v) for k, v in classes.items()},
        "ll128_bandwidth_factor": number(
            nccl.get("ll128_bandwidth_factor"),
            "nccl.ll128_bandwidth_factor",
            cpath,
            positive=True,
            high=1.0,
        ),
        "ll_bandwidth_factor": number(
            nccl.get("ll_bandwidth_factor"),
            "nccl.ll_bandwidth_factor",
            cpath,
            positive=True,
            high=1.0,
        ),
        "nvlink_data_rate_bytes_per_s": {
            k: number(v, f"nccl.nvlink_data_rate_GBps.{k}", cpath, positive=True) * GBPS
            for k, v in nvlink.items()
        },
        "pcie_data_rate_bytes_per_s": {
            k: number(v, f"nccl.pcie_data_rate_GBps.{k}", cpath, positive=True) * GBPS
            for k, v in pcie.items()
        },
        "per_channel_max_bytes_per_s": {
            kind: _per_arch(
                table_of(per_channel, kind, cpath, "nccl.per_channel_max_GBps."),
                f"nccl.per_channel_max_GBps.{kind}",
                cpath,
                known,
            )
            for kind in PER_CHANNEL_KINDS
        },
        "search": _search(nccl, cpath),
        "tuning": _tuning(nccl, cpath),
        "nvls": _nvls(nccl, cpath, known),
        "channels": _channel_rules(nccl, cpath),
    }
