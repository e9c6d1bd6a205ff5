"""The layouts the search considers: the rules Megatron-style frameworks follow.

* **TP** divides the attention heads, the key/value groups and the hidden size, and stays
  inside one NVLink domain (a DGX board, an NVL72 rack) unless ``tp_across_nodes``.
* **PP** splits the layers evenly, with the embedding and loss counted as layers, or with
  fewer (or more) layers on the first and last ranks (:mod:`.pipeline_splits`: which splits and
  why); **VPP** (interleaved 1F1B, only with PP > 1) cuts every rank's layers into equal virtual
  stages, and needs the micro-batch count to be a multiple of PP.
* **CP** is a power of two with ``seq % (2 cp) == 0`` (load-balanced causal chunks).
* **EP** (MoE models only) divides the experts and ``cp x dp`` (expert groups lie inside one
  pipeline stage; expert TP = TP).
* **DP** = GPUs / (TP x PP x CP); the micro-batch size divides ``global batch / DP``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from interconnect_sim.planning.pipeline_splits import Split, pipeline_splits
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig, Precision, Recompute

__all__ = ["SearchSpace", "candidate_layouts", "split_of", "tiebreak"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpace:
    """Which values each knob may take (``None``: every value the rules allow).

    ZeRO-3 (FSDP) is searched only when asked (``zero_stages=(0, 1, 2, 3)``): the step model
    hides its per-layer gathers behind compute, which ``validate-training`` shows to be far too
    optimistic (its known ZeRO-3 miss), so a default search would pick it everywhere.
    ``uneven_splits = False`` keeps to even pipeline splits (layers divisible by PP x VPP).
    """

    tp: tuple[int, ...] | None = None
    pp: tuple[int, ...] | None = None
    vpp: tuple[int, ...] | None = None
    cp: tuple[int, ...] | None = None
    ep: tuple[int, ...] | None = None
    micro_batch: tuple[int, ...] = (1, 2, 4, 8)
    zero_stages: tuple[int, ...] = (0, 1, 2)
    recompute: tuple[Recompute, ...] = ("none", "selective", "full")
    max_cp: int = 8
    tp_across_nodes: bool = False
    uneven_splits: bool = True


def split_of(p: ParallelConfig) -> Split:
    """The pipeline split of a layout."""
    return Split(
        p.pp_first_stage_layers, p.pp_last_stage_layers, p.pp_embedding_in_split, p.pp_loss_in_split
    )


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _tp_values(model: ModelConfig, gpus: int, domain: int, space: SearchSpace) -> list[int]:
    limit = gpus if space.tp_across_nodes else min(domain, gpus)
    values = space.tp or tuple(_divisors(limit))
    return [
        t
        for t in values
        if limit % t == 0
        and model.heads % t == 0
        and model.kv_heads % t == 0
        and model.hidden % t == 0
    ]


def _cp_values(seq_len: int, space: SearchSpace) -> list[int]:
    values = space.cp or tuple(
        2**k for k in range(space.max_cp.bit_length()) if 2**k <= space.max_cp
    )
    return [c for c in values if c == 1 or seq_len % (2 * c) == 0]


def _ep_values(model: ModelConfig, cp_dp: int, space: SearchSpace) -> list[int]:
    if model.moe is None:
        return [1]
    values = space.ep or tuple(_divisors(model.moe.experts))
    return [e for e in values if model.moe.experts % e == 0 and cp_dp % e == 0]


def candidate_layouts(
    model: ModelConfig,
    gpus: int,
    *,
    nvlink_domain: int,
    global_batch: int,
    seq_len: int,
    precision: Precision = "bf16",
    space: SearchSpace | None = None,
    tp_comm_overlap: bool = False,
) -> Iterator[ParallelConfig]:
    """Every layout of ``gpus`` GPUs the framework rules allow (see the module docstring)."""
    space = space or SearchSpace()
    pps = space.pp or tuple(range(1, model.layers + 1))
    for tp in _tp_values(model, gpus, nvlink_domain, space):
        for pp in pps:
            if pp > model.layers or not (space.uneven_splits or model.layers % pp == 0):
                continue
            for cp in _cp_values(seq_len, space):
                if gpus % (tp * pp * cp):
                    continue
                dp = gpus // (tp * pp * cp)
                for ep in _ep_values(model, cp * dp, space):
                    yield from _inner(
                        model,
                        space,
                        tp,
                        pp,
                        cp,
                        dp,
                        ep,
                        global_batch,
                        seq_len,
                        precision,
                        tp_comm_overlap,
                    )


def _inner(
    model: ModelConfig,
    space: SearchSpace,
    tp: int,
    pp: int,
    cp: int,
    dp: int,
    ep: int,
    global_batch: int,
    seq_len: int,
    precision: Precision,
    tp_comm_overlap: bool,
) -> Iterator[ParallelConfig]:
    # With the embedding and loss counted as layers a chunk may hold just one of them.
    most = -(-(model.layers + 2 * space.uneven_splits) // pp)
    vpps = [1] if pp == 1 else space.vpp or range(1, most + 1)
    splits = {v: pipeline_splits(model.layers, pp, v, uneven=space.uneven_splits) for v in vpps}
    for mb, vpp in itertools.product(space.micro_batch, vpps):
        if global_batch % (dp * mb) or not splits[vpp]:
            continue
        if vpp > 1 and (global_batch // (dp * mb)) % pp:
            continue
        for split, zero, recompute in itertools.product(
            splits[vpp], space.zero_stages, space.recompute
        ):
            yield ParallelConfig(
                tp=tp,
                pp=pp,
                dp=dp,
                cp=cp,
                ep=ep,
                vpp=vpp,
                pp_first_stage_layers=split.first,
                pp_last_stage_layers=split.last,
                pp_embedding_in_split=split.embedding,
                pp_loss_in_split=split.loss,
                micro_batch=mb,
                global_batch=global_batch,
                seq_len=seq_len,
                sequence_parallel=tp > 1,
                zero_stage=zero,
                recompute=recompute,
                precision=precision,
                tp_comm_overlap=tp_comm_overlap,
            )


def tiebreak(p: ParallelConfig) -> tuple[int, ...]:
    """Among equally fast layouts prefer the simpler one (less model parallelism, less sharding)."""
    order = {"none": 0, "selective": 1, "full": 2}
    split = split_of(p)
    return (
        p.tp * p.pp * p.cp * p.ep,
        p.vpp,
        split.kind,
        p.zero_stage,
        order[p.recompute],
        p.micro_batch,
        split.first or 0,
        split.last or 0,
    )
