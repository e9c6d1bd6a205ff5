"""Pipeline stages as Megatron builds them, and the schedule's time and memory in flight.

**Split.** With ``pp`` ranks and ``vpp`` virtual stages per rank the model is cut into
``pp x vpp`` chunks; chunk ``g`` runs on rank ``g % pp`` as its virtual stage ``g // pp``
(Megatron's interleaved order). By default the layers divide evenly. Megatron's uneven options:

* ``--decoder-first-pipeline-num-layers`` / ``--decoder-last-pipeline-num-layers``: the first and
  last ranks get the stated layer counts, the other ranks split the rest evenly;
* ``--account-for-embedding-in-pipeline-split`` / ``--account-for-loss-in-pipeline-split``: the
  input embedding and the output layer with the loss each count as one layer, so the first chunk
  holds the embedding and one layer fewer, the last chunk the loss and one layer fewer
  (Llama 3 405B: 126 layers + 2 = 128 = 16 stages x 8).

**Schedule.** Under 1F1B every rank runs ``m`` micro-batches through each of its chunks. The
slowest rank sets the pace of the steady state (``m`` times its per-micro-batch time); filling and
draining the pipeline costs one chunk-pass of every other rank, ``(p - 1) / v`` micro-batch slots
when ranks are equal (Narayanan et al. 2021, Section 2.2). **Memory**: rank ``r`` holds the
activations of the forward chunk-passes it ran before its first backward, Megatron-Core's warm-up
count ``2 (p - r - 1) + (v - 1) N + 1`` (``N = p`` micro-batches per virtual-stage group), capped
at ``m v``; without interleaving ``p - r`` micro-batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig

__all__ = ["Chunk", "PipelineTime", "in_flight_chunks", "pipeline_time", "stage_chunks"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One model chunk: what one rank runs as one virtual stage."""

    rank: int
    virtual: int
    layers: range
    embedding: bool = False
    loss: bool = False


def _even(count: int, parts: int, what: str) -> list[int]:
    if parts == 0:
        if count:
            raise ScenarioError(f"{count} {what} left over with no stage to hold them")
        return []
    if count % parts:
        raise ScenarioError(f"{count} {what} do not split evenly over {parts}")
    return [count // parts] * parts


def _rank_layer_counts(model: ModelConfig, p: ParallelConfig) -> list[int]:
    """Transformer layers per pipeline rank (before the virtual-stage split)."""
    first, last = p.pp_first_stage_layers, p.pp_last_stage_layers
    if p.pp == 1:
        return [model.layers]
    inner = p.pp - (first is not None) - (last is not None)
    rest = model.layers - (first or 0) - (last or 0)
    if rest < 0:
        raise ScenarioError(
            f"first ({first}) and last ({last}) stage layers exceed the model's {model.layers}"
        )
    try:
        middle = _even(rest, inner, f"layers (of {model.layers}) on the middle pipeline ranks")
    except ScenarioError as exc:
        raise ScenarioError(
            f"{exc}; set pp_first_stage_layers / pp_last_stage_layers "
            "(--pp-first-stage-layers, --pp-last-stage-layers) or count the embedding and loss "
            "as layers (--pp-embedding-in-split, --pp-loss-in-split)"
        ) from None
    return ([first] if first is not None else []) + middle + ([last] if last is not None else [])


def stage_chunks(model: ModelConfig, parallel: ParallelConfig) -> list[list[Chunk]]:
    """The chunks of every pipeline rank, ``result[rank][virtual]``.

    Raises
    ------
    ScenarioError
        The layers do not split as asked (saying how they could).
    """
    p, v = parallel.pp, parallel.vpp
    emb, loss = parallel.pp_embedding_in_split, parallel.pp_loss_in_split
    uneven = parallel.pp_first_stage_layers is not None or parallel.pp_last_stage_layers is not None
    if uneven and (emb or loss):
        raise ScenarioError(
            "give either the first/last stage layer counts or the embedding/loss accounting, "
            "not both"
        )
    if emb or loss:
        slots = model.layers + emb + loss
        per_chunk = _even(slots, p * v, f"layers (+ embedding/loss = {slots})")
    else:
        per_rank = _rank_layer_counts(model, parallel)
        for rank, count in enumerate(per_rank):
            if count % v:
                raise ScenarioError(
                    f"pipeline rank {rank}'s {count} layers do not split over vpp = {v}"
                )
        per_chunk = [per_rank[g % p] // v for g in range(p * v)]  # chunk g = virtual * p + rank
    chunks: list[list[Chunk]] = [[] for _ in range(p)]
    start = 0
    for g, slots in enumerate(per_chunk):
        first, last = g == 0, g == p * v - 1
        count = slots - (emb and first) - (loss and last)
        if count < 0:
            raise ScenarioError("a chunk would hold fewer than zero layers")
        chunks[g % p].append(Chunk(g % p, g // p, range(start, start + count), first, last))
        start += count
    if start != model.layers:
        raise ScenarioError(f"the split places {start} of {model.layers} layers")
    return chunks


def in_flight_chunks(parallel: ParallelConfig, rank: int) -> int:
    """Forward chunk-passes rank ``rank`` holds activations for at its peak (see module doc):
    Megatron-Core's warm-up count plus the steady state's first forward
    (``pipeline_parallel/schedules.py``, ``get_pp_rank_microbatches``), one more warm-up
    forward when interleaving with the expert-parallel all-to-all overlapped
    (``overlap_moe_expert_parallel_comm``)."""
    p, v, m = parallel.pp, parallel.vpp, parallel.microbatches
    if v == 1:
        return min(p - rank, m)
    extra = 1 if parallel.moe_a2a_overlap else 0
    return min(2 * (p - rank - 1) + (v - 1) * p + 1 + extra, m * v)


@dataclass(frozen=True, slots=True)
class PipelineTime:
    """The pipelined part of a step: steady state of the slowest rank plus fill and drain."""

    total_s: float
    steady_s: float
    bubble_s: float
    slowest_rank: int


def pipeline_time(rank_microbatch_s: Sequence[float], parallel: ParallelConfig) -> PipelineTime:
    """Time of ``m`` micro-batches through ranks taking ``rank_microbatch_s`` each (forward and
    backward of all their chunks, exposed communication included).

    Examples
    --------
    Equal stages give Narayanan's ``(m + (p - 1) / v)`` slots:

    >>> from interconnect_sim.training.parallel import ParallelConfig
    >>> p = ParallelConfig(pp=4, vpp=2, global_batch=8)
    >>> pipeline_time([1.0] * 4, p).total_s == 8 + 3 / 2
    True
    """
    m, v = parallel.microbatches, parallel.vpp
    slowest = max(range(len(rank_microbatch_s)), key=lambda r: rank_microbatch_s[r])
    steady = m * rank_microbatch_s[slowest]
    bubble = sum(t for r, t in enumerate(rank_microbatch_s) if r != slowest) / v
    return PipelineTime(steady + bubble, steady, bubble, slowest)
