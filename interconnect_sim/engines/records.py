"""Output records every engine returns, so engines can be compared line by line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor

__all__ = ["CallRecord", "CollectiveEstimate", "LinkLoad", "ReplayResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectiveEstimate:
    """Predicted time of one collective at each message size.

    Sizes follow nccl-tests' conventions (see :mod:`interconnect_sim.collectives.ops`); ``time_s``
    is per call. ``algorithm``, ``protocol`` and ``bottleneck`` are per size, since the choice
    changes with size.
    """

    op: CollectiveOp
    rank_count: int
    node_count: int
    gpus_per_node: int
    size_bytes: NDArray[np.float64]
    time_s: NDArray[np.float64]
    algorithm: tuple[str, ...]
    protocol: tuple[str, ...]
    bottleneck: tuple[str, ...]
    engine: str

    @property
    def algbw_bytes_per_s(self) -> NDArray[np.float64]:
        """nccl-tests algorithm bandwidth, bytes per second."""
        return self.size_bytes / self.time_s

    @property
    def busbw_bytes_per_s(self) -> NDArray[np.float64]:
        """nccl-tests bus bandwidth, bytes per second."""
        return self.algbw_bytes_per_s * busbw_factor(self.op, self.rank_count)

    def rows(self) -> list[dict[str, Any]]:
        """One dict per size with nccl-tests units: ``bytes``, ``time_us``, ``*_GBps``."""
        return [
            {
                "bytes": int(size),
                "time_us": float(time * 1e6),
                "algbw_GBps": float(alg / 1e9),
                "busbw_GBps": float(bus / 1e9),
                "algo": algo,
                "proto": proto,
                "bottleneck": neck,
            }
            for size, time, alg, bus, algo, proto, neck in zip(
                self.size_bytes,
                self.time_s,
                self.algbw_bytes_per_s,
                self.busbw_bytes_per_s,
                self.algorithm,
                self.protocol,
                self.bottleneck,
                strict=True,
            )
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """When one traced event ran (a collective call, or compute with ``op == "compute"``,
    no bytes and no algorithm)."""

    id: str
    op: str
    size_bytes: float
    rank_count: int
    group: str
    start_s: float
    end_s: float
    algorithm: str
    protocol: str
    tag: str = ""
    copies: int = 1

    @property
    def duration_s(self) -> float:
        """End minus start, seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkLoad:
    """Average utilisation of one directed link over the whole replay."""

    src: str
    dst: str
    utilisation: float
    busy_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """What a replay produced: per-call times, link loads and engine statistics."""

    engine: str
    calls: tuple[CallRecord, ...]
    makespan_s: float
    links: tuple[LinkLoad, ...] = ()
    intervals: tuple[Any, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()
    events: int = 0
    rate_computations: int = 0

    def to_json(self, top_links: int = 10) -> dict[str, Any]:
        """``makespan_s``, ``calls`` and the most loaded ``links``."""
        return {
            "engine": self.engine,
            "makespan_s": self.makespan_s,
            "calls": [
                {
                    "id": c.id,
                    "op": c.op,
                    "bytes": c.size_bytes,
                    "ranks": c.rank_count,
                    "group": c.group,
                    "start_s": c.start_s,
                    "end_s": c.end_s,
                    "duration_s": c.duration_s,
                    "algo": c.algorithm,
                    "proto": c.protocol,
                    **({"tag": c.tag} if c.tag else {}),
                    **({"copies": c.copies} if c.copies > 1 else {}),
                }
                for c in self.calls
            ],
            "links": [
                {"src": link.src, "dst": link.dst, "utilisation": link.utilisation}
                for link in self.links[:top_links]
            ],
        }
