"""Workloads: collective traces (JSON Lines) and, later, generated training steps."""

from interconnect_sim.workload.trace import TraceCall, read_trace, resolve_ranks, write_trace

__all__ = ["TraceCall", "read_trace", "resolve_ranks", "write_trace"]
