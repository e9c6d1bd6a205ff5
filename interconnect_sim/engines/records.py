"""Output records every engine returns, so engines can be compared line by line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from interconnect_sim.collectives.ops import CollectiveOp, busbw_factor

__all__ = ["CollectiveEstimate"]


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
