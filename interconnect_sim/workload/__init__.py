"""Workloads: traces of collective calls and compute (JSON Lines)."""

from interconnect_sim.workload.trace import (
    TraceCall,
    TraceCompute,
    TraceEvent,
    read_trace,
    resolve_copies,
    resolve_ranks,
    write_trace,
)

__all__ = [
    "TraceCall",
    "TraceCompute",
    "TraceEvent",
    "read_trace",
    "resolve_copies",
    "resolve_ranks",
    "write_trace",
]
