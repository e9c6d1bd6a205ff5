"""Placing a second job's trace on the fabric beside the first: which nodes, and its ranks
renamed onto them.

A trace numbers its ranks from 0 over its own nodes (rank = node x GPUs per node + local GPU).
Placed on fabric nodes ``nodes[0], nodes[1], ...`` its rank ``r`` becomes
``nodes[r // g] x g + r % g``. Policies choose the nodes among the ones the first job leaves
free: ``packed`` (the lowest free nodes, next to the first job), ``spread`` (evenly over the
free nodes, so the two jobs share as many leaf switches as they can) or ``random`` (a seeded
sample). Copies of a line are written out one by one (the placement need not keep the offsets
between them), each waiting for the same copy of its dependencies when those have as many.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from interconnect_sim.errors import ScenarioError
from interconnect_sim.workload.events import TraceEvent, copy_offsets

__all__ = ["PLACEMENTS", "choose_nodes", "place_trace", "repeat_trace", "trace_nodes"]

PLACEMENTS = ("packed", "spread", "random")


def trace_nodes(events: Sequence[TraceEvent], gpus_per_node: int) -> int:
    """Nodes a trace's ranks (copies included) span."""
    top = 0
    for event in events:
        if event.ranks is None:
            raise ScenarioError(
                f"neighbour trace event {event.id!r} names a group ({event.group}); a trace to "
                "place beside another job must list its ranks"
            )
        top = max(top, max(event.ranks) + max(copy_offsets(event.copies)))
    return top // gpus_per_node + 1


def choose_nodes(policy: str, count: int, free: Sequence[int], *, seed: int = 0) -> list[int]:
    """``count`` of the ``free`` nodes by ``policy`` (``packed``, ``spread``, ``random``).

    Raises
    ------
    ScenarioError
        An unknown policy, or fewer free nodes than the job needs.
    """
    if policy not in PLACEMENTS:
        raise ScenarioError(f"placement {policy!r} must be one of {', '.join(PLACEMENTS)}")
    if count > len(free):
        raise ScenarioError(
            f"the neighbour job needs {count} nodes; the fabric has {len(free)} left free by the "
            "training job (add nodes with --nodes)"
        )
    if policy == "packed":
        return list(free[:count])
    if policy == "spread":
        return [free[i * len(free) // count] for i in range(count)]
    return sorted(random.Random(seed).sample(list(free), count))


def repeat_trace(events: Sequence[TraceEvent], times: int) -> list[TraceEvent]:
    """The trace ``times`` times back to back (ids suffixed ``@i``): each run starts when the
    previous one's last events have ended (a job that keeps running through the step)."""
    if times == 1:
        return list(events)
    needed = {dep for e in events for dep in e.after}
    sinks = tuple(e.id for e in events if e.id not in needed)
    runs: list[TraceEvent] = []
    for i in range(times):
        previous = tuple(f"{sink}@{i - 1}" for sink in sinks) if i else ()
        for e in events:
            after = tuple(f"{d}@{i}" for d in e.after) or previous
            start = e.start_s if not after else None
            runs.append(replace(e, id=f"{e.id}@{i}", after=after, start_s=start))
    return runs


def place_trace(
    events: Sequence[TraceEvent],
    nodes: Sequence[int],
    gpus_per_node: int,
    *,
    prefix: str = "nb:",
) -> list[TraceEvent]:
    """The events on fabric nodes ``nodes``, ids prefixed, copies written out one by one
    (call :func:`trace_nodes` first: it checks every event lists its ranks)."""
    copies = {e.id: list(copy_offsets(e.copies)) for e in events}

    def rank(r: int) -> int:
        node, local = divmod(r, gpus_per_node)
        if node >= len(nodes):
            raise ScenarioError(f"neighbour rank {r} is beyond its {len(nodes)} placed nodes")
        return nodes[node] * gpus_per_node + local

    placed: list[TraceEvent] = []
    for event in events:
        mine = copies[event.id]
        for k, offset in enumerate(mine):
            after: list[str] = []
            for dep in event.after:
                count = len(copies[dep])
                if count == 1:
                    after.append(f"{prefix}{dep}")
                elif count == len(mine):
                    after.append(f"{prefix}{dep}#{k}")
                else:
                    after.extend(f"{prefix}{dep}#{j}" for j in range(count))
            placed.append(
                replace(
                    event,
                    id=f"{prefix}{event.id}" + (f"#{k}" if len(mine) > 1 else ""),
                    ranks=tuple(rank(r + offset) for r in event.ranks or ()),
                    group=None,
                    copies=(),
                    after=tuple(after),
                    tag=event.tag or "neighbour",
                )
            )
    return placed
