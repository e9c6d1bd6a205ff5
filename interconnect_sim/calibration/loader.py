"""Read a calibration: the fitted file and the NCCL constants file it names (strictly).

Every table is checked for missing and unknown keys and for values of the right kind; an error
names the file and the table or key, in one line.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import (
    ALGORITHMS,
    ARCH_CLASSES,
    DEFAULT_CALIBRATION,
    FITTED_TABLES,
    LATENCY_CLASSES,
    PER_CHANNEL_KINDS,
    PROTOCOLS,
    Calibration,
    ChannelRules,
    FitScope,
    FittedRange,
    NvlsRules,
    SearchRules,
    TuningRules,
)
from interconnect_sim.errors import SpecError
from interconnect_sim.files import read_text_file

__all__ = ["load_calibration"]

_US = 1e-6
_GBPS = 1e9
_LARGEST = 1e12
"""No constant of a calibration (latencies in us, rates in GB/s, bytes of a chunk) comes near
it; above it, and for NaN or infinity, a value is refused rather than carried into every
prediction."""
_COUNT_MAX = 1_000_000
"""Channel counts, heads and peers: far above any NCCL uses."""
_LATENCY_MAX_US = 1e6
"""A fitted latency above one second is not a collective's; it would swamp every prediction."""
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


def _read(path: Path) -> dict[str, Any]:
    text = read_text_file(path, "calibration", SpecError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def _table(data: dict[str, Any], key: str, path: Path, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SpecError(f"{path}: [{where}{key}] is missing or not a table")
    return value


def _exact_keys(table: dict[str, Any], keys: tuple[str, ...], where: str, path: Path) -> None:
    missing = [k for k in keys if k not in table]
    unknown = sorted(set(table) - set(keys))
    if missing or unknown:
        raise SpecError(f"{path}: [{where}]: missing {missing}, unknown {unknown}")


def _number(
    value: Any, where: str, path: Path, *, positive: bool = False, high: float = _LARGEST
) -> float:
    """``value`` as a float: a finite number from 0 (above 0 with ``positive``) to ``high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 <= value <= high)  # also False for NaN
    ):
        raise SpecError(
            f"{path}: {where} must be a finite number from 0 to {high:g}, got {_shown(value)}"
        )
    if positive and value <= 0:
        raise SpecError(f"{path}: {where} must be a positive number, got {value!r}")
    return float(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _integer(value: Any, where: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _COUNT_MAX:
        raise SpecError(
            f"{path}: {where} must be a positive integer (at most {_COUNT_MAX:,}), got "
            f"{_shown(value)}"
        )
    return value


def _numbers(
    value: Any, where: str, path: Path, length: int | None = None, high: float = _LARGEST
) -> tuple[float, ...]:
    if (
        not isinstance(value, list)
        or (length is not None and len(value) != length)
        or (length is None and not value)
    ):
        size = f"{length} " if length is not None else "one or more "
        raise SpecError(f"{path}: {where} must be a list of {size}numbers")
    return tuple(_number(v, where, path, high=high) for v in value)


def _names(value: Any, allowed: tuple[str, ...], where: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        raise SpecError(f"{path}: {where} must list names among {', '.join(allowed)}")
    return tuple(str(v) for v in value)


def _per_protocol(table: dict[str, Any], where: str, path: Path) -> dict[str, tuple[float, ...]]:
    _exact_keys(table, ALGORITHMS, where, path)
    return {algo: _numbers(table[algo], f"{where}.{algo}", path, 3) for algo in ALGORITHMS}


def _latencies(nccl: dict[str, Any], path: Path) -> tuple[dict[Any, float], dict[Any, float]]:
    base = _per_protocol(
        _table(nccl, "base_latency_us", path, "nccl."), "nccl.base_latency_us", path
    )
    hw_table = _table(nccl, "hw_latency_us", path, "nccl.")
    _exact_keys(hw_table, LATENCY_CLASSES, "nccl.hw_latency_us", path)
    base_s = {
        (algo, proto): value * _US
        for algo, values in base.items()
        for proto, value in zip(PROTOCOLS, values, strict=True)
    }
    hw_s = {}
    for klass in LATENCY_CLASSES:
        where = f"nccl.hw_latency_us.{klass}"
        for algo, values in _per_protocol(_table(hw_table, klass, path), where, path).items():
            for proto, value in zip(PROTOCOLS, values, strict=True):
                hw_s[(klass, algo, proto)] = value * _US
    return base_s, hw_s


def _per_arch(
    table: dict[str, Any], where: str, path: Path, classes: frozenset[str]
) -> dict[str, tuple[float, float, float]]:
    unknown = sorted(set(table) - classes)
    if unknown:
        raise SpecError(f"{path}: [{where}]: unknown architecture class(es) {unknown}")
    return {
        # inf: no cap (a class without NCCL's LL limits)
        arch: tuple(v * _GBPS for v in _numbers(values, f"{where}.{arch}", path, 3, math.inf))  # type: ignore[misc]
        for arch, values in table.items()
    }


def _search(nccl: dict[str, Any], path: Path) -> SearchRules:
    table = _table(nccl, "search", path, "nccl.")
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
    _exact_keys(table, keys, "nccl.search", path)
    speeds = {}
    for key in ("speeds_intra_GBps", "speeds_inter_GBps"):
        sub = _table(table, key, path, "nccl.search.")
        if "default" not in sub:
            raise SpecError(f"{path}: [nccl.search.{key}] needs a 'default' list")
        speeds[key] = {k: _numbers(v, f"nccl.search.{key}.{k}", path) for k, v in sub.items()}
    where = "nccl.search"
    return SearchRules(
        speeds_intra_gb_per_s=speeds["speeds_intra_GBps"],
        speeds_inter_gb_per_s=speeds["speeds_inter_GBps"],
        speed_floor_ratio=_number(table["speed_floor_ratio"], f"{where}.speed_floor_ratio", path),
        max_ring_channels=_integer(table["max_ring_channels"], f"{where}.max_ring_channels", path),
        max_nvls_heads=_integer(table["max_nvls_heads"], f"{where}.max_nvls_heads", path),
        dup_min_gb_per_s=_number(table["dup_min_GBps"], f"{where}.dup_min_GBps", path),
        dup_skip_below_gb_per_s=_number(
            table["dup_skip_below_GBps"], f"{where}.dup_skip_below_GBps", path
        ),
        dup_skip_above_channels=_integer(
            table["dup_skip_above_channels"], f"{where}.dup_skip_above_channels", path
        ),
        dup_skip_arch=_names(table["dup_skip_arch"], ARCH_CLASSES, f"{where}.dup_skip_arch", path),
    )


def _tuning(nccl: dict[str, Any], path: Path) -> TuningRules:
    table = _table(nccl, "tuning", path, "nccl.")
    keys = (
        "tree_bandwidth_factor",
        "ring_plateau_factor",
        "ring_plateau_factor_before_ampere",
        "simple_net_overhead_factor",
        "net_overhead_us",
        "tree_correction",
    )
    _exact_keys(table, keys, "nccl.tuning", path)
    overhead = _table(table, "net_overhead_us", path, "nccl.tuning.")
    _exact_keys(overhead, ("intel", "amd", "other"), "nccl.tuning.net_overhead_us", path)
    correction = _table(table, "tree_correction", path, "nccl.tuning.")
    _exact_keys(correction, PROTOCOLS, "nccl.tuning.tree_correction", path)
    where = "nccl.tuning"
    return TuningRules(
        tree_bandwidth_factor=_number(
            table["tree_bandwidth_factor"], f"{where}.tree_bandwidth_factor", path
        ),
        ring_plateau_factor=_number(
            table["ring_plateau_factor"], f"{where}.ring_plateau_factor", path
        ),
        ring_plateau_factor_before_ampere=_number(
            table["ring_plateau_factor_before_ampere"],
            f"{where}.ring_plateau_factor_before_ampere",
            path,
        ),
        simple_net_overhead_factor=_number(
            table["simple_net_overhead_factor"], f"{where}.simple_net_overhead_factor", path
        ),
        net_overhead_s={
            k: _number(v, f"{where}.net_overhead_us.{k}", path) * _US for k, v in overhead.items()
        },
        tree_correction={
            p: _numbers(correction[p], f"{where}.tree_correction.{p}", path, 24) for p in PROTOCOLS
        },
    )


def _nvls(nccl: dict[str, Any], path: Path, known: frozenset[str]) -> NvlsRules:
    table = _table(nccl, "nvls", path, "nccl.")
    keys = (
        "chunk_bytes",
        "channels_one_node",
        "channels_two_nodes",
        "channels_more_nodes",
        "tree_max_chunk_bytes_two_nodes",
        "tree_max_chunk_bytes_more_nodes",
    )
    _exact_keys(table, keys, "nccl.nvls", path)
    subs = {k: _table(table, k, path, "nccl.nvls.") for k in keys[1:]}
    for key, sub in subs.items():
        unknown = sorted(set(sub) - known)
        if unknown:
            raise SpecError(f"{path}: [nccl.nvls.{key}]: unknown architecture class(es) {unknown}")
    classes = set(subs["channels_one_node"])
    where = "nccl.nvls"
    return NvlsRules(
        chunk_bytes=_number(table["chunk_bytes"], f"{where}.chunk_bytes", path, positive=True),
        channels={
            c: tuple(  # type: ignore[misc]
                _integer(subs[k].get(c), f"{where}.{k}.{c}", path)
                for k in ("channels_one_node", "channels_two_nodes", "channels_more_nodes")
            )
            for c in classes
        },
        tree_max_chunk_bytes={
            c: tuple(  # type: ignore[misc]
                _number(subs[k].get(c), f"{where}.{k}.{c}", path, positive=True)
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
    p2p = _table(nccl, "p2p", path, "nccl.")
    channels = _table(nccl, "channels", path, "nccl.")
    _exact_keys(p2p, _P2P_KEYS, "nccl.p2p", path)
    _exact_keys(channels, _CHANNEL_KEYS, "nccl.channels", path)
    p2p_at, ch_at = "nccl.p2p", "nccl.channels"
    return ChannelRules(
        per_channel_net_bytes_per_s=_number(
            p2p["per_channel_net_GBps"], f"{p2p_at}.per_channel_net_GBps", path, positive=True
        )
        * _GBPS,
        peers_per_batch=_integer(p2p["peers_per_batch"], f"{p2p_at}.peers_per_batch", path),
        local_non_nvlink_channels=_integer(
            p2p["local_non_nvlink_channels"], f"{p2p_at}.local_non_nvlink_channels", path
        ),
        postset_duplication=_integer(
            channels["postset_duplication"], f"{ch_at}.postset_duplication", path
        ),
        compute_doubling_arch=_names(
            channels["compute_doubling_arch"], ARCH_CLASSES, f"{ch_at}.compute_doubling_arch", path
        ),
        compute_doubling_min_bytes_per_s=_number(
            channels["compute_doubling_min_GBps"],
            f"{ch_at}.compute_doubling_min_GBps",
            path,
            positive=True,
        )
        * _GBPS,
        compute_doubling_below=_integer(
            channels["compute_doubling_below"], f"{ch_at}.compute_doubling_below", path
        ),
    )


def _fitted_values(
    table: dict[str, Any], path: Path, where: str, *, partial: bool
) -> dict[str, dict[str, float]]:
    """The fitted tables of ``table`` in SI units (all keys required unless ``partial``)."""
    out: dict[str, dict[str, float]] = {}
    for name, (file_name, keys, scale) in FITTED_TABLES.items():
        if partial and file_name not in table:
            continue
        sub = _table(table, file_name, path, where)
        if partial:
            unknown = sorted(set(sub) - set(keys))
            if unknown:
                raise SpecError(
                    f"{path}: [{where}{file_name}]: unknown {unknown}; known {list(keys)}"
                )
        else:
            _exact_keys(sub, keys, f"{where}{file_name}", path)
        efficiency = name.endswith("_efficiency")  # a fraction of a rate; else a latency in us
        out[name] = {
            k: _number(
                v,
                f"{where}{file_name}.{k}",
                path,
                positive=efficiency,
                high=1.0 if efficiency else _LATENCY_MAX_US,
            )
            * scale
            for k, v in sub.items()
        }
    return out


def _scopes(data: dict[str, Any], path: Path) -> tuple[FitScope, ...]:
    entries = data.get("scoped", [])
    if not isinstance(entries, list):
        raise SpecError(f"{path}: 'scoped' must be an array of tables ([[scoped]])")
    scopes = []
    allowed = {"system", "nic", "rows", "fitted_range", *(t[0] for t in FITTED_TABLES.values())}
    for i, entry in enumerate(entries, start=1):
        where = f"scoped #{i}"
        if not isinstance(entry, dict):
            raise SpecError(f"{path}: [[scoped]] #{i} must be a table, got {_shown(entry)}")
        unknown = sorted(set(entry) - allowed)
        if unknown or not isinstance(entry.get("system"), str):
            raise SpecError(f"{path}: [[scoped]] #{i} needs 'system'; unknown keys {unknown}")
        rng = _table(entry, "fitted_range", path, f"{where}.")
        keys = ("ops", "min_bytes", "max_bytes", "node_counts", "gpus_per_node")
        _exact_keys(rng, keys, f"{where}.fitted_range", path)
        nic = entry.get("nic", "")
        if not isinstance(nic, str):
            raise SpecError(f"{path}: [[scoped]] #{i}: nic must be a string, got {_shown(nic)}")
        rows = entry.get("rows", 0)
        if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= _LARGEST:
            raise SpecError(f"{path}: [[scoped]] #{i}: rows must be a whole number >= 0")
        ops = rng["ops"]
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise SpecError(f"{path}: {where}.fitted_range.ops must be a list of names")
        scopes.append(
            FitScope(
                system=entry["system"],
                nic=nic,
                values=_fitted_values(entry, path, f"{where}.", partial=True),
                rows=rows,
                fitted_range=FittedRange(
                    ops=tuple(ops),
                    min_bytes=_number(rng["min_bytes"], f"{where}.min_bytes", path),
                    max_bytes=_number(rng["max_bytes"], f"{where}.max_bytes", path),
                    node_counts=tuple(
                        _integer(n, f"{where}.node_counts", path)
                        for n in _list(rng["node_counts"], f"{where}.node_counts", path)
                    ),
                    gpus_per_node=tuple(
                        _integer(n, f"{where}.gpus_per_node", path)
                        for n in _list(rng["gpus_per_node"], f"{where}.gpus_per_node", path)
                    ),
                ),
            )
        )
    return tuple(scopes)


def _list(value: Any, where: str, path: Path) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"{path}: {where} must be a list, got {_shown(value)}")
    return value


def _constants_path(data: dict[str, Any], path: Path) -> Path:
    stem = data.get("constants")
    if not isinstance(stem, str) or not _STEM.fullmatch(stem):
        raise SpecError(
            f"{path}: 'constants' must name the NCCL constants file next to it or shipped "
            f"(a file stem such as nccl-2.30), got {_shown(stem)}"
        )
    constants_path = path.parent / f"{stem}.toml"
    if not constants_path.exists():
        constants_path = DEFAULT_CALIBRATION.parent / f"{stem}.toml"
    if not constants_path.exists():
        raise SpecError(f"{path}: constants file {stem}.toml not found next to it or shipped")
    return constants_path


def load_calibration(path: Path | None = None) -> Calibration:
    """Load a fitted calibration file and the constants file it names.

    The fitted file (default: the shipped ``nccl-tests.toml``, written by
    ``interconnect-sim calibrate``) holds ``constants = "<stem>"``, ``[fitted]``, optional
    ``[[scoped]]`` entries and ``[fit]``; the constants file ``<stem>.toml`` next to it (or in
    the shipped folder) holds ``[nccl]``. Both need ``[[sources]]``.

    Raises
    ------
    SpecError
        Naming the file and table on any missing, unknown or malformed entry.
    """
    path = Path(path) if path is not None else DEFAULT_CALIBRATION
    data = _read(path)
    constants_path = _constants_path(data, path)
    constants = _read(constants_path)
    for source_path, table in ((path, data), (constants_path, constants)):
        sources = table.get("sources")
        if not (
            isinstance(sources, list) and sources and all(isinstance(x, dict) for x in sources)
        ):
            raise SpecError(f"{source_path}: a calibration file needs [[sources]] tables")
    fit = data.get("fit", {})
    if not isinstance(fit, dict):
        raise SpecError(f"{path}: [fit] must be a table")
    priors = (
        constants.get("nccl", {}).get("priors", {})
        if isinstance(constants.get("nccl"), dict)
        else {}
    )
    if not isinstance(priors, dict) or not isinstance(priors.get("classes", []), list):
        raise SpecError(f"{constants_path}: [nccl.priors] must be a table with a 'classes' list")
    cpath = constants_path
    nccl = _table(constants, "nccl", cpath)
    base, hw = _latencies(nccl, cpath)
    classes = _table(nccl, "architecture_class", cpath, "nccl.")
    known = frozenset(ARCH_CLASSES) | {str(v) for v in classes.values()}
    ll_max = _table(nccl, "ll_max_bandwidth_GBps", cpath, "nccl.")
    undefined = sorted({str(v) for v in classes.values()} - set(ll_max))
    if undefined or not all(isinstance(v, str) for v in classes.values()):
        raise SpecError(
            f"{cpath}: nccl.architecture_class maps GPUs to {_shown(undefined)}, which "
            f"[nccl.ll_max_bandwidth_GBps] does not define; each architecture must map to one of "
            f"{', '.join(ll_max)}"
        )
    per_channel = _table(nccl, "per_channel_max_GBps", cpath, "nccl.")
    _exact_keys(per_channel, PER_CHANNEL_KINDS, "nccl.per_channel_max_GBps", cpath)
    nvlink = _table(nccl, "nvlink_data_rate_GBps", cpath, "nccl.")
    pcie = _table(nccl, "pcie_data_rate_GBps", cpath, "nccl.")
    fitted = _fitted_values(_table(data, "fitted", path), path, "fitted.", partial=False)
    return Calibration(
        base_latency_s=base,
        hw_latency_s=hw,
        ll_max_bytes_per_s=_per_arch(
            ll_max,
            "nccl.ll_max_bandwidth_GBps",
            cpath,
            known,
        ),
        nvls_efficiency={
            k: _number(v, f"nccl.nvls_efficiency.{k}", cpath, high=1.0)
            for k, v in _table(nccl, "nvls_efficiency", cpath, "nccl.").items()
        },
        architecture_class={str(k): str(v) for k, v in classes.items()},
        ll128_bandwidth_factor=_number(
            nccl.get("ll128_bandwidth_factor"),
            "nccl.ll128_bandwidth_factor",
            cpath,
            positive=True,
            high=1.0,
        ),
        ll_bandwidth_factor=_number(
            nccl.get("ll_bandwidth_factor"),
            "nccl.ll_bandwidth_factor",
            cpath,
            positive=True,
            high=1.0,
        ),
        nvlink_data_rate_bytes_per_s={
            k: _number(v, f"nccl.nvlink_data_rate_GBps.{k}", cpath, positive=True) * _GBPS
            for k, v in nvlink.items()
        },
        pcie_data_rate_bytes_per_s={
            k: _number(v, f"nccl.pcie_data_rate_GBps.{k}", cpath, positive=True) * _GBPS
            for k, v in pcie.items()
        },
        per_channel_max_bytes_per_s={
            kind: _per_arch(
                _table(per_channel, kind, cpath, "nccl.per_channel_max_GBps."),
                f"nccl.per_channel_max_GBps.{kind}",
                cpath,
                known,
            )
            for kind in PER_CHANNEL_KINDS
        },
        search=_search(nccl, cpath),
        tuning=_tuning(nccl, cpath),
        nvls=_nvls(nccl, cpath, known),
        channels=_channel_rules(nccl, cpath),
        scopes=_scopes(data, path),
        fit=dict(fit),
        path=path,
        prior_classes=frozenset(str(c) for c in priors.get("classes", ())),
        **fitted,
    )
