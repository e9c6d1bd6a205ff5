"""Pipeline schedules: the order in which each pipeline rank runs its forward and backward passes.

A *pass* is one model chunk's forward or backward for one micro-batch. With ``p`` ranks, ``v``
virtual stages per rank and ``m`` micro-batches, chunk ``g`` (of ``p v``) runs on rank
``g % p`` as its virtual stage ``g // p`` (:func:`~.pipeline.stage_chunks`); micro-batch ``j``'s
forward goes through the chunks in order, its backward in reverse.

* **GPipe** (Huang et al. 2019): every forward, then every backward.
* **1F1B** (PipeDream-Flush, Narayanan et al. 2021): rank ``r`` runs ``min(p - r - 1, m)``
  warm-up forwards, then alternates one forward and one backward, then drains the backwards.
* **Interleaved 1F1B** (Megatron-Core): forward passes are taken from a table that visits the
  micro-batches in groups of ``p``, every chunk of a group before the next group; backwards in
  the same order with the chunks reversed. Rank ``r`` warms up with
  ``2 (p - r - 1) + (v - 1) p`` forwards (capped at ``m v``), the count
  :func:`~.pipeline.in_flight_chunks` gives its activation memory.

With equal stages and free communication, 1F1B takes ``(m + p - 1)`` micro-batch slots of
forward plus backward and interleaving ``(m + (p - 1) / v)`` (Narayanan et al. 2021, Section
2.2) when ``m`` is a multiple of ``p``; ``tests/unit/test_training_schedule.py`` checks these
orders against those counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from interconnect_sim.errors import ScenarioError

__all__ = ["SCHEDULES", "Pass", "Schedule", "default_schedule", "rank_passes"]

Schedule = Literal["1f1b", "interleaved", "gpipe"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)


@dataclass(frozen=True, slots=True)
class Pass:
    """One chunk's forward (``backward = False``) or backward for one micro-batch."""

    backward: bool
    microbatch: int
    virtual: int

    @property
    def label(self) -> str:
        """``F3.v1`` / ``B3.v1``."""
        return f"{'B' if self.backward else 'F'}{self.microbatch}.v{self.virtual}"


def default_schedule(vpp: int) -> Schedule:
    """Megatron's choice: interleaved 1F1B with virtual stages, else 1F1B."""
    return "interleaved" if vpp > 1 else "1f1b"


def _table(m: int, v: int, group: int) -> list[tuple[int, int]]:
    """(micro-batch, virtual stage) of the k-th forward, Megatron-Core's schedule table."""
    table: list[tuple[int, int]] = []
    for first in range(0, m, group):
        last = min(first + group, m)
        table.extend((j, chunk) for chunk in range(v) for j in range(first, last))
    return table


def _check(p: int, v: int, m: int, rank: int, schedule: str) -> None:
    if schedule not in SCHEDULES:
        raise ScenarioError(f"schedule {schedule!r} must be one of {', '.join(SCHEDULES)}")
    if not 0 <= rank < p:
        raise ScenarioError(f"pipeline rank {rank} outside 0-{p - 1}")
    if min(p, v, m) < 1:
        raise ScenarioError("pipeline ranks, virtual stages and micro-batches must be >= 1")
    if v > 1 and schedule == "1f1b":
        raise ScenarioError("1F1B runs one chunk per rank; use interleaved (or gpipe) with vpp > 1")
    if v > 1 and schedule == "interleaved" and m % p:
        raise ScenarioError(
            f"interleaved 1F1B needs a number of micro-batches divisible by the pipeline ranks "
            f"({m} micro-batches, {p} ranks), as Megatron-LM required; change vpp or the "
            "global batch"
        )


def rank_passes(p: int, v: int, m: int, rank: int, schedule: Schedule) -> list[Pass]:
    """The passes pipeline rank ``rank`` runs, in order.

    Raises
    ------
    ScenarioError
        An unknown schedule, 1F1B with virtual stages, or interleaving with micro-batches that
        do not divide into groups of ``p`` (Megatron-LM refused it; with a partial last group
        these orders deadlock).

    Examples
    --------
    >>> [x.label for x in rank_passes(2, 1, 3, 0, "1f1b")]
    ['F0.v0', 'F1.v0', 'B0.v0', 'F2.v0', 'B1.v0', 'B2.v0']
    """
    _check(p, v, m, rank, schedule)
    table = _table(m, v, p if v > 1 and schedule == "interleaved" else m)
    forwards = [Pass(False, j, chunk) for j, chunk in table]
    backwards = [Pass(True, j, v - 1 - chunk) for j, chunk in table]
    total = m * v
    if schedule == "gpipe":
        return forwards + backwards
    interleaved_warmup = 2 * (p - rank - 1) + (v - 1) * p
    warmup = min(p - rank - 1, m) if v == 1 else min(interleaved_warmup, total)
    order = forwards[:warmup]
    for k in range(total - warmup):
        order.append(forwards[warmup + k])
        order.append(backwards[k])
    order.extend(backwards[total - warmup :])
    return order
