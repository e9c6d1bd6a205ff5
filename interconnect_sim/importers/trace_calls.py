"""Per-rank observations of collectives become one trace of calls (``docs/trace-format.md``).

A profiler trace is one file per rank; every rank of a group sees the same call. The calls of a
process group are issued in the same order on every rank, so the k-th call of group G on one
rank is the k-th on all of them (point-to-point transfers are matched per sender and receiver).

Timing without a shared clock: each rank's file has its own clock, so only differences inside a
file are used. A call depends on the latest call its rank had *finished* when it started (calls
still running at that moment overlap it), and its ``compute_s`` is the longest gap any of its
ranks spent between that call's end and this one's start: the compute between them. A call with
no earlier call starts at its offset from the rank's first GPU activity (the latest over ranks).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.errors import TraceError
from interconnect_sim.workload.trace import TraceCall

__all__ = ["Observation", "calls_from_observations"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One rank's view of one collective call.

    Attributes
    ----------
    rank : int
        Global rank whose file this came from.
    op : CollectiveOp
    size_bytes : float
        nccl-tests' size convention for ``op`` (0 when unknown).
    ranks : tuple of int
        Global ranks of the group (the pair for point-to-point).
    group : str
        Process-group name (``p2p`` for point-to-point).
    start_us, end_us : float
        Start and end on this rank's clock (us).
    order_key : tuple
        What identifies the call across ranks besides its position (the pair for p2p).
    source : str
        File and event, for messages.
    """

    rank: int
    op: CollectiveOp
    size_bytes: float
    ranks: tuple[int, ...]
    group: str
    start_us: float
    end_us: float
    order_key: tuple[object, ...] = ()
    source: str = ""


def _name(op: CollectiveOp, group: str, index: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.:@-]+", "_", group)[:40] or "g"
    return f"{op.value}-{safe}-{index}"


def calls_from_observations(
    observations: list[Observation], origins_us: dict[int, float]
) -> list[TraceCall]:
    """One :class:`TraceCall` per call, with dependencies and compute gaps.

    Parameters
    ----------
    observations : list of Observation
        Every rank's collectives.
    origins_us : dict
        Per rank, the time (its clock, us) its first GPU activity started.

    Raises
    ------
    TraceError
        Ranks that disagree about the size of the same call.
    """
    by_rank: dict[int, list[Observation]] = defaultdict(list)
    for obs in observations:
        by_rank[obs.rank].append(obs)
    call_of: dict[int, str] = {}  # id(observation) -> call id
    members: dict[str, list[Observation]] = defaultdict(list)
    for rank_obs in by_rank.values():
        rank_obs.sort(key=lambda o: o.start_us)
        counters: dict[tuple[object, ...], int] = defaultdict(int)
        for obs in rank_obs:
            key = (obs.group, obs.op, obs.ranks, *obs.order_key)
            index = counters[key]
            counters[key] += 1
            label = _pair(obs) if obs.order_key else f"{obs.group}@{obs.ranks[0]}"
            call_id = _name(obs.op, label, index)
            call_of[id(obs)] = call_id
            members[call_id].append(obs)
    finished = {rank: _Finished(rank_obs) for rank, rank_obs in by_rank.items()}
    calls = [
        _call(call_id, obs_list, finished, call_of, origins_us)
        for call_id, obs_list in members.items()
    ]
    first_start = {
        call_id: min(o.start_us - origins_us.get(o.rank, 0.0) for o in obs_list)
        for call_id, obs_list in members.items()
    }
    return sorted(calls, key=lambda c: (first_start[c.id], c.id))


class _Finished:
    """A rank's calls by end time: which had finished when another started."""

    def __init__(self, observations: list[Observation]) -> None:
        self.by_end = sorted(observations, key=lambda o: o.end_us)
        self.ends = [o.end_us for o in self.by_end]

    def latest_before(self, start_us: float) -> Observation | None:
        position = bisect_right(self.ends, start_us)
        return self.by_end[position - 1] if position else None


def _pair(obs: Observation) -> str:
    return f"{obs.ranks[0]}to{obs.ranks[-1]}"


def _call(
    call_id: str,
    obs_list: list[Observation],
    finished: dict[int, _Finished],
    call_of: dict[int, str],
    origins_us: dict[int, float],
) -> TraceCall:
    sizes = {o.size_bytes for o in obs_list if o.size_bytes > 0}
    if len(sizes) > 1:
        raise TraceError(
            f"{obs_list[0].source}: call {call_id} has different sizes on different ranks "
            f"({', '.join(f'{s:.0f}' for s in sorted(sizes))} B); are these traces of one job?"
        )
    after: set[str] = set()
    gap_us = 0.0
    start_us = 0.0
    for obs in obs_list:
        last = finished[obs.rank].latest_before(obs.start_us)
        if last is not None and last is not obs:
            after.add(call_of[id(last)])
            gap_us = max(gap_us, obs.start_us - last.end_us)
        else:
            start_us = max(start_us, obs.start_us - origins_us.get(obs.rank, obs.start_us))
    first = obs_list[0]
    p2p = first.op is CollectiveOp.SENDRECV
    return TraceCall(
        id=call_id,
        op=first.op,
        size_bytes=sizes.pop() if sizes else 0.0,
        ranks=first.ranks,
        start_s=None if after else round(max(start_us, 0.0) * 1e-6, 9),
        after=tuple(sorted(after)),
        compute_s=round(max(gap_us, 0.0) * 1e-6, 9) if after else 0.0,
        p2p_comm="pairs" if p2p else "group",
    )
