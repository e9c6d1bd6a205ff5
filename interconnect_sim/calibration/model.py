"""Calibration: NCCL's published tuning constants plus efficiencies fitted to measurements.

Vendor peaks live in the spec catalog; how much of them NCCL achieves, and how long its steps
take, live here, each with the measurements or source code they came from. A calibration file is
TOML with three parts:

``[nccl]``       constants transcribed from NCCL's ``src/graph/tuning.cc`` (cited): base and
                 per-hop latencies per algorithm and protocol, LL bandwidth caps, NVLS efficiency.
``[fitted]``     efficiencies and network latencies fitted by ``interconnect-sim calibrate`` on
                 healthy nccl-tests rows (the rows used are listed in ``[fit]``).
``[[sources]]``  where the constants and measurements come from.

Times in the file are microseconds (``_us`` keys, as NCCL writes them) and bandwidths GB/s
(``_GBps``); they are converted to seconds and bytes/s once, on load.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError

__all__ = [
    "ALGORITHMS",
    "DEFAULT_CALIBRATION",
    "PROTOCOLS",
    "TRANSPORTS",
    "Calibration",
    "ChannelRules",
    "load_calibration",
]

ALGORITHMS = ("ring", "tree", "nvls", "nvlstree", "collnet", "pat")
PROTOCOLS = ("ll", "ll128", "simple")
LATENCY_CLASSES = ("nvlink", "pcie", "net")
TRANSPORTS = ("infiniband", "roce", "efa", "tcpx", "tcpxo")
INTRA_TIERS = ("nvlink", "pcie", "host")
ARCH_CLASSES = ("volta", "ampere", "hopper", "blackwell")
DEFAULT_CALIBRATION = Path(__file__).parent / "data" / "nccl-tests.toml"

_US = 1e-6
_GBPS = 1e9


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelRules:
    """NCCL's channel-count rules for point-to-point traffic across nodes (``[nccl.p2p]`` and
    ``[nccl.channels]`` of the constants file; see
    :mod:`interconnect_sim.collectives.p2p_channels`).

    Attributes
    ----------
    per_channel_net_bytes_per_s : float
        Network bandwidth NCCL expects one p2p channel to carry (``P2P_PER_CHANNEL_NET_BW``).
    peers_per_batch : int
        Peers one channel serves per round (``NCCL_MAX_DEV_WORK_P2P_PER_BATCH``).
    local_non_nvlink_channels : int
        Channels per local peer reached without NVLink.
    postset_duplication : int
        Factor applied to the searched rings (``ncclTopoPostset``).
    compute_doubling_arch : tuple of str
        Architecture classes that double channels again on multi-node communicators ...
    compute_doubling_min_bytes_per_s : float
        ... when the ring's per-channel speed exceeds this ...
    compute_doubling_below : int
        ... and the channel count is below this.
    """

    per_channel_net_bytes_per_s: float
    peers_per_batch: int
    local_non_nvlink_channels: int
    postset_duplication: int
    compute_doubling_arch: tuple[str, ...]
    compute_doubling_min_bytes_per_s: float
    compute_doubling_below: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """Constants of the analytic model, in seconds and bytes/s.

    Attributes
    ----------
    base_latency_s : dict
        ``(algorithm, protocol) -> s``: NCCL's fixed cost per collective.
    hw_latency_s : dict
        ``(class, algorithm, protocol) -> s`` per step, class ``nvlink``, ``pcie`` or ``net``.
    ll_max_bytes_per_s : dict
        ``architecture class -> (1 node, 2 nodes, >= 4 nodes)`` caps of the LL protocol.
    nvls_efficiency : dict
        ``architecture class -> fraction`` (NCCL's NVLS efficiency).
    architecture_class : dict
        GPU architecture -> NCCL's class (``volta``, ``ampere``, ``hopper``, ``blackwell``).
    intra_efficiency : dict
        Fitted fraction of the graph bandwidth a ring reaches inside a node, per tier
        (``nvlink``, ``pcie`` = P2P over PCIe, ``host`` = staged through host memory).
    network_efficiency : dict
        Fitted fraction of NIC bandwidth reached, per transport.
    network_latency_s : dict
        Fitted extra latency per inter-node step, per transport.
    intra_latency_s : dict
        Fitted extra latency per intra-node step, per tier (host staging through shared memory
        costs more than NCCL's peer-to-peer latency table assumes).
    tree_efficiency : dict
        Fitted multiplier of the (NVLS)tree's inter-node term per architecture class (NCCL
        likewise keeps per-architecture tree caps).
    nvls_fit_efficiency : float
        Fitted multiplier of NVLS's NVLink term.
    channels : ChannelRules
        NCCL's p2p channel rules (constants, not fitted).
    fit : dict
        What the fit used (rows, systems, held-out systems, errors).
    prior_classes : frozenset of str
        Architecture classes whose constants are neutral priors, not published by their
        library (``[nccl.priors]``; RCCL and HCCL classes).
    """

    base_latency_s: dict[tuple[str, str], float]
    hw_latency_s: dict[tuple[str, str, str], float]
    ll_max_bytes_per_s: dict[str, tuple[float, float, float]]
    nvls_efficiency: dict[str, float]
    architecture_class: dict[str, str]
    ll128_bandwidth_factor: float
    ll_bandwidth_factor: float
    intra_efficiency: dict[str, float]
    network_efficiency: dict[str, float]
    network_latency_s: dict[str, float]
    intra_latency_s: dict[str, float]
    tree_efficiency: dict[str, float]
    nvls_fit_efficiency: float
    channels: ChannelRules
    fit: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    prior_classes: frozenset[str] = frozenset()

    def arch_class(self, architecture: str) -> str:
        """NCCL's architecture class of a GPU architecture name."""
        try:
            return self.architecture_class[architecture]
        except KeyError:
            raise SpecError(
                f"calibration has no architecture class for {architecture!r}; "
                f"known: {', '.join(sorted(self.architecture_class))}"
            ) from None

    def with_fitted(self, **fitted: Any) -> Calibration:
        """A copy with some fitted fields replaced."""
        return replace(self, **fitted)


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SpecError(f"{path}: [{key}] is missing or not a table")
    return value


def _triple(value: Any, where: str, path: Path) -> list[float]:
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int | float) for v in value)
    ):
        raise SpecError(f"{path}: {where} must be [LL, LL128, Simple] numbers")
    return [float(v) for v in value]


def _exact_keys(table: dict[str, Any], keys: tuple[str, ...], where: str, path: Path) -> None:
    missing = [k for k in keys if k not in table]
    unknown = sorted(set(table) - set(keys))
    if missing or unknown:
        raise SpecError(f"{path}: {where}: missing {missing}, unknown {unknown}")


def _numbers(
    table: dict[str, Any], keys: tuple[str, ...], where: str, path: Path, scale: float = 1.0
) -> dict[str, float]:
    _exact_keys(table, keys, where, path)
    out = {}
    for key in keys:
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise SpecError(f"{path}: {where}.{key} must be a non-negative number")
        out[key] = float(value) * scale
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read calibration: {exc}") from None


_P2P_KEYS = ("per_channel_net_GBps", "peers_per_batch", "local_non_nvlink_channels")
_CHANNEL_KEYS = (
    "postset_duplication",
    "compute_doubling_arch",
    "compute_doubling_min_GBps",
    "compute_doubling_below",
)


def _positive(table: dict[str, Any], key: str, where: str, path: Path, *, integer: bool) -> Any:
    """``table[key]`` if it is a positive number (a positive integer with ``integer``)."""
    value = table[key]
    allowed = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
        noun = "a positive integer" if integer else "a positive number"
        raise SpecError(f"{path}: {where}.{key} must be {noun}, got {value!r}")
    return value


def _channel_rules(nccl: dict[str, Any], path: Path) -> ChannelRules:
    p2p = _table(nccl, "p2p", path)
    channels = _table(nccl, "channels", path)
    _exact_keys(p2p, _P2P_KEYS, "nccl.p2p", path)
    _exact_keys(channels, _CHANNEL_KEYS, "nccl.channels", path)
    arch = channels["compute_doubling_arch"]
    if not isinstance(arch, list) or not set(arch) <= set(ARCH_CLASSES):
        raise SpecError(
            f"{path}: nccl.channels.compute_doubling_arch must list classes among "
            f"{', '.join(ARCH_CLASSES)}, got {arch!r}"
        )
    p2p_at, channels_at = "nccl.p2p", "nccl.channels"
    return ChannelRules(
        per_channel_net_bytes_per_s=_positive(
            p2p, "per_channel_net_GBps", p2p_at, path, integer=False
        )
        * _GBPS,
        peers_per_batch=_positive(p2p, "peers_per_batch", p2p_at, path, integer=True),
        local_non_nvlink_channels=_positive(
            p2p, "local_non_nvlink_channels", p2p_at, path, integer=True
        ),
        postset_duplication=_positive(
            channels, "postset_duplication", channels_at, path, integer=True
        ),
        compute_doubling_arch=tuple(arch),
        compute_doubling_min_bytes_per_s=_positive(
            channels, "compute_doubling_min_GBps", channels_at, path, integer=False
        )
        * _GBPS,
        compute_doubling_below=_positive(
            channels, "compute_doubling_below", channels_at, path, integer=True
        ),
    )


def load_calibration(path: Path | None = None) -> Calibration:
    """Load a fitted calibration file and the constants file it names.

    The fitted file (default: the shipped ``nccl-tests.toml``, written by
    ``interconnect-sim calibrate``) holds ``constants = "<stem>"``, ``[fitted]`` and ``[fit]``;
    the constants file ``<stem>.toml`` next to it (or in the shipped folder) holds ``[nccl]``.
    Both need ``[[sources]]``.

    Raises
    ------
    SpecError
        Naming the file and table on any missing, unknown or malformed entry.
    """
    path = Path(path) if path is not None else DEFAULT_CALIBRATION
    data = _read(path)
    stem = data.get("constants")
    if not isinstance(stem, str):
        raise SpecError(f"{path}: 'constants' must name the NCCL constants file (e.g. nccl-2.30)")
    constants_path = path.parent / f"{stem}.toml"
    if not constants_path.exists():
        constants_path = DEFAULT_CALIBRATION.parent / f"{stem}.toml"
    constants = _read(constants_path)
    for source_path, table in ((path, data), (constants_path, constants)):
        if not table.get("sources"):
            raise SpecError(f"{source_path}: a calibration file needs [[sources]]")
    nccl = _table(constants, "nccl", constants_path)
    fitted = _table(data, "fitted", path)
    base = {}
    for algo in ALGORITHMS:
        values = _triple(_table(nccl, "base_latency_us", path).get(algo), f"base {algo}", path)
        for proto, value in zip(PROTOCOLS, values, strict=True):
            base[(algo, proto)] = value * _US
    hw = {}
    for klass in LATENCY_CLASSES:
        table = _table(_table(nccl, "hw_latency_us", path), klass, path)
        for algo in ALGORITHMS:
            values = _triple(table.get(algo), f"hw {klass}.{algo}", path)
            for proto, value in zip(PROTOCOLS, values, strict=True):
                hw[(klass, algo, proto)] = value * _US
    ll_max = {
        arch: tuple(v * _GBPS for v in _triple(values, f"ll_max {arch}", path))
        for arch, values in _table(nccl, "ll_max_bandwidth_GBps", path).items()
    }
    classes = _table(nccl, "architecture_class", path)
    return Calibration(
        base_latency_s=base,
        hw_latency_s=hw,
        ll_max_bytes_per_s=ll_max,  # type: ignore[arg-type]
        nvls_efficiency={k: float(v) for k, v in _table(nccl, "nvls_efficiency", path).items()},
        architecture_class={str(k): str(v) for k, v in classes.items()},
        ll128_bandwidth_factor=float(nccl["ll128_bandwidth_factor"]),
        ll_bandwidth_factor=float(nccl["ll_bandwidth_factor"]),
        intra_efficiency=_numbers(
            _table(fitted, "intra_efficiency", path), INTRA_TIERS, "fitted.intra_efficiency", path
        ),
        network_efficiency=_numbers(
            _table(fitted, "network_efficiency", path),
            TRANSPORTS,
            "fitted.network_efficiency",
            path,
        ),
        network_latency_s=_numbers(
            _table(fitted, "network_latency_us", path),
            TRANSPORTS,
            "fitted.network_latency_us",
            path,
            scale=_US,
        ),
        intra_latency_s=_numbers(
            _table(fitted, "intra_latency_us", path),
            INTRA_TIERS,
            "fitted.intra_latency_us",
            path,
            scale=_US,
        ),
        tree_efficiency=_numbers(
            _table(fitted, "tree_efficiency", path), ARCH_CLASSES, "fitted.tree_efficiency", path
        ),
        nvls_fit_efficiency=float(fitted["nvls_efficiency"]),
        channels=_channel_rules(nccl, constants_path),
        fit=dict(data.get("fit", {})),
        path=path,
        prior_classes=frozenset(nccl.get("priors", {}).get("classes", ())),
    )
