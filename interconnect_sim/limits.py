"""How much work the tool accepts, and what a request will cost, stated before any work starts.

The limits are data: one :class:`Limits` value, :data:`LIMITS`, whose numbers come from
``benchmarks/bench_limits.py`` on a 2-core machine (``docs/limits.md`` has the table). A faster
builder (issue #13) raises them by editing :data:`LIMITS`; nothing else hard-codes them.

Every check raises a one-line :class:`~interconnect_sim.errors.ScenarioError` (or the error type
the caller passes) that names the limit and why it is there, so ``topo --nodes 100000`` fails in
milliseconds instead of running for minutes at gigabytes. :func:`estimate` turns a request into
seconds and bytes so the CLI can say what a long run will cost before it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from interconnect_sim.errors import ScenarioError

__all__ = [
    "LIMITS",
    "Estimate",
    "Limits",
    "check_fabric_size",
    "check_message_size",
    "check_size_count",
    "check_time",
    "check_trace_length",
    "estimate",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The largest requests the tool accepts, and the measured costs its estimates use.

    Attributes
    ----------
    max_gpus : int
        GPUs in one fabric (all nodes together).
    max_sizes : int
        Message sizes in one ``collective`` sweep.
    max_trace_calls : int
        Calls in one trace.
    max_message_bytes : float
        Bytes in one collective call.
    max_time_s : float
        Start times and compute gaps in a trace.
    seconds_per_gpu, bytes_per_gpu : float
        Measured cost of building and analysing a fabric, per GPU (the larger of ``topo`` and
        ``collective``).
    seconds_per_gpu_built : float
        Measured cost of building a fabric without a whole-fabric analysis (``train``).
    seconds_per_size, seconds_per_des_size : float
        Measured cost of one size of a sweep (analytic, discrete-event) on a 2-node fabric.
    seconds_per_call : float
        Measured cost of one call of a discrete-event replay on a 2-node fabric.
    base_bytes : float
        Memory of the interpreter with the package loaded.
    announce_s : float
        Requests estimated to take longer than this are announced on stderr first.
    """

    max_gpus: int
    max_sizes: int
    max_trace_calls: int
    max_message_bytes: float
    max_time_s: float
    seconds_per_gpu: float
    seconds_per_gpu_built: float
    bytes_per_gpu: float
    seconds_per_size: float
    seconds_per_des_size: float
    seconds_per_call: float
    base_bytes: float
    announce_s: float


LIMITS = Limits(
    # 8,192 DGX H100 (the largest three-level fat tree of 64-port switches): about 50 s and
    # 2 GiB for `topo` on 2 cores (0.6 ms and 30 KiB per GPU, docs/limits.md).
    max_gpus=65_536,
    # 10,000 sizes: 0.1 s analytic, about 4 s discrete-event on 2 nodes; nccl-tests sweeps ~30.
    max_sizes=10_000,
    # 1,000,000 calls: about 6 min discrete-event on 2 nodes (0.35 ms per call); the trace
    # `train --emit-trace` writes for one step already runs to 130,000 events at 16 GPUs.
    max_trace_calls=1_000_000,
    # 1 PiB: more than the memory of the largest fabric accepted (65,536 x 192 GB is 12.6 PB,
    # but no collective moves a buffer larger than one GPU's memory times the ranks it spans).
    max_message_bytes=float(2**50),
    # One year: beyond that a float64 timestamp cannot resolve a nanosecond (its spacing at
    # 3.2e7 s is 3.7 ns), so call durations would be lost in rounding.
    max_time_s=365.0 * 86400.0,
    seconds_per_gpu=0.7e-3,
    seconds_per_gpu_built=0.2e-3,
    bytes_per_gpu=32.0 * 2**10,
    seconds_per_size=0.02e-3,
    seconds_per_des_size=0.4e-3,
    seconds_per_call=0.35e-3,
    base_bytes=90.0 * 2**20,
    announce_s=5.0,
)
"""The limits in force (``docs/limits.md``)."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """Expected wall-clock seconds and peak memory (bytes) of a request on 2 cores."""

    seconds: float
    peak_bytes: float

    def describe(self) -> str:
        """``about 40 s and 2.1 GiB`` (rounded up, as an estimate should be)."""
        seconds = max(1, math.ceil(self.seconds))
        time_text = f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"
        return f"about {time_text} and {self.peak_bytes / 2**30:.1f} GiB"


def estimate(
    *,
    gpus: int = 0,
    sizes: int = 0,
    des_sizes: int = 0,
    calls: int = 0,
    analysed: bool = True,
    limits: Limits = LIMITS,
) -> Estimate:
    """What building a fabric of ``gpus`` (and analysing it whole, unless not ``analysed``) and
    running ``sizes`` analytic sizes, ``des_sizes`` discrete-event sizes and ``calls`` replayed
    calls on it costs, from the measured rates.

    Discrete-event costs grow with the fabric; they are scaled by ``gpus / 16`` beyond the
    16-GPU fabric they were measured on.

    Examples
    --------
    >>> estimate(gpus=65_536).describe()
    'about 46 s and 2.1 GiB'
    """
    scale = max(1.0, gpus / 16)
    per_gpu = limits.seconds_per_gpu if analysed else limits.seconds_per_gpu_built
    seconds = (
        gpus * per_gpu
        + sizes * limits.seconds_per_size
        + (des_sizes * limits.seconds_per_des_size + calls * limits.seconds_per_call) * scale
    )
    return Estimate(seconds, limits.base_bytes + gpus * limits.bytes_per_gpu)


def check_fabric_size(
    node_count: int, gpus_per_node: int, what: str, limits: Limits = LIMITS
) -> None:
    """Refuse a fabric above :attr:`Limits.max_gpus`, naming the node count that fits.

    Raises
    ------
    ScenarioError
        ``what`` (e.g. ``"--nodes 100000 of dgx-h100"``) and the limit with its reason.
    """
    gpus = node_count * gpus_per_node
    if gpus > limits.max_gpus:
        fits = limits.max_gpus // gpus_per_node
        cost = estimate(gpus=limits.max_gpus, limits=limits).describe()
        raise ScenarioError(
            f"{what}: {node_count:,} nodes x {gpus_per_node} GPUs = {gpus:,} GPUs is above the "
            f"largest fabric accepted, {limits.max_gpus:,} GPUs ({fits:,} nodes of this "
            f"system; building that takes {cost} on 2 cores, see docs/limits.md)"
        )


def check_size_count(count: float, what: str, limits: Limits = LIMITS) -> None:
    """Refuse a sweep of more than :attr:`Limits.max_sizes` sizes."""
    if count > limits.max_sizes:
        shown = f"{count:,.0f}" if math.isfinite(count) else "infinitely many"
        raise ScenarioError(
            f"{what} gives {shown} sizes; at most {limits.max_sizes:,} are accepted (each is a "
            "row of output, and a discrete-event simulation each; nccl-tests sweeps have ~30): "
            "use fewer sizes, e.g. a larger --step-factor"
        )


def check_trace_length(
    count: int, what: str, error: type[Exception] = ScenarioError, limits: Limits = LIMITS
) -> None:
    """Refuse a trace of more than :attr:`Limits.max_trace_calls` calls."""
    if count > limits.max_trace_calls:
        raise error(
            f"{what}: more than {limits.max_trace_calls:,} calls; longer traces are not accepted "
            f"(a discrete-event replay of that many takes "
            f"{estimate(calls=limits.max_trace_calls, limits=limits).describe()} on 2 nodes, "
            "see docs/limits.md); split the trace"
        )


def check_message_size(
    size_bytes: float, what: str, error: type[Exception] = ScenarioError, limits: Limits = LIMITS
) -> None:
    """Refuse a message size that is not finite and positive, or above 1 PiB."""
    if not (math.isfinite(size_bytes) and size_bytes > 0):
        raise error(f"{what} must be a positive finite number of bytes")
    if size_bytes > limits.max_message_bytes:
        raise error(
            f"{what} is above the largest message accepted, {limits.max_message_bytes:.4g} "
            "bytes (1 PiB, more than any accepted fabric moves in one collective)"
        )


def check_time(
    seconds: float, what: str, error: type[Exception] = ScenarioError, limits: Limits = LIMITS
) -> None:
    """Refuse a start time or gap that is not finite and non-negative, or above one year."""
    if not (math.isfinite(seconds) and seconds >= 0):
        raise error(f"{what} must be a finite non-negative number of seconds, got {seconds!r}")
    if seconds > limits.max_time_s:
        raise error(
            f"{what} = {seconds:.4g} s is above one year ({limits.max_time_s:.4g} s); beyond "
            "that a float64 time cannot resolve a nanosecond and call durations would be lost"
        )
