"""Layout search: never returns a layout that does not fit, never misses a faster one.

The brute force below enumerates every integer combination of the knobs in wide ranges, and every
pipeline split Megatron accepts (even, embedding/loss counted as layers, any first/last stage layer
counts), keeps what the framework rules allow (written out again here, independently of the
search) and times each with ``estimate_step`` checking memory itself. The search must time
exactly the fitting layouts of its documented space, return one that fits, and nothing in the
brute-force set, inside its space or outside (splits with a busier rank), may beat it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import replace
from typing import Any

import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.layout_search import SearchSpace, recheck, search_layouts
from interconnect_sim.specs import Catalog
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import ModelConfig, MoE
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import stage_chunks
from interconnect_sim.training.step import estimate_step

# Wide enough that ZeRO 0 with tp = pp = 1 does not fit in 80 GB, narrow enough to brute-force.
DENSE = ModelConfig(
    id="test-dense",
    name="test dense",
    layers=8,
    hidden=8192,
    heads=64,
    kv_heads=8,
    ffn=28672,
    vocab=32000,
    seq_len=2048,
)
MOE = ModelConfig(
    id="test-moe",
    name="test MoE",
    layers=4,
    hidden=4096,
    heads=32,
    kv_heads=8,
    ffn=14336,
    vocab=32000,
    seq_len=2048,
    moe=MoE(experts=8, top_k=2, expert_ffn=14336),
)
SPACE = SearchSpace(micro_batch=(1, 2, 4), max_cp=4, zero_stages=(0, 1, 2, 3))
# Ten layers: pipelines of 3, 4, 6, 7 ... ranks need an uneven split; the output layer over a
# 32k vocabulary makes a lighter last stage pay off.
ODD = replace(DENSE, id="test-odd", name="test odd", layers=10, vocab=128256)
ODD_SPACE = SearchSpace(
    micro_batch=(1, 2, 4), max_cp=4, zero_stages=(0, 1), recompute=("none", "full")
)


def _allowed(
    model: ModelConfig,
    gpus: int,
    per_node: int,
    tp: int,
    pp: int,
    vpp: int,
    cp: int,
    ep: int,
    mb: int,
    batch: int,
) -> bool:
    """Framework rules besides the pipeline split, restated."""
    if gpus % (tp * pp * cp) or per_node % tp or model.heads % tp or model.kv_heads % tp:
        return False
    dp = gpus // (tp * pp * cp)
    if pp > model.layers or (pp == 1 and vpp > 1):
        return False
    if cp > 1 and (cp & (cp - 1) or model.seq_len % (2 * cp)):
        return False
    if batch % (dp * mb) or (vpp > 1 and (batch // (dp * mb)) % pp):
        return False
    experts = model.moe.experts if model.moe else 1
    return experts % ep == 0 and (cp * dp) % ep == 0


Split = tuple[int | None, int | None, bool, bool]  # first, last, embedding, loss


@functools.cache
def _splits(model: ModelConfig, pp: int, vpp: int) -> list[tuple[Split, bool]]:
    """Every split Megatron accepts (stage_chunks builds it), and whether the search's band
    holds it: even, embedding/loss in the split, or first/last stage layers that leave no rank
    empty and whose busiest rank has at most one vpp step more than the fewest possible (restated
    from the docs)."""
    layers = model.layers
    fewest = vpp * -(-layers // (pp * vpp))
    options: list[Split] = [(None, None, False, False)]
    options += [(None, None, e, lo) for e, lo in ((True, False), (False, True), (True, True))]
    if pp > 1:
        options += [
            (f, la, False, False) for f in range(1, layers + 1) for la in range(1, layers + 1)
        ]
    found: list[tuple[Split, bool]] = []
    seen: set[tuple[tuple[int, int], ...]] = set()
    for first, last, embedding, loss in options:
        p = ParallelConfig(
            pp=pp,
            vpp=vpp,
            pp_first_stage_layers=first,
            pp_last_stage_layers=last,
            pp_embedding_in_split=embedding,
            pp_loss_in_split=loss,
            global_batch=pp,
        )
        try:
            chunks = stage_chunks(model, p)
        except ScenarioError:
            continue
        cut = tuple((c.layers.start, c.layers.stop) for rank in chunks for c in rank)
        if cut in seen:  # the same layers on the same chunks: one layout
            continue
        seen.add(cut)
        counts = [sum(len(c.layers) for c in rank) for rank in chunks]
        band = first is None or (max(counts) <= fewest + vpp and min(counts) >= vpp)
        found.append(((first, last, embedding, loss), band))
    return found


def _brute_force(
    model: ModelConfig, fabric: Any, catalog: Catalog, batch: int, zeros: range, recomputes: tuple
) -> list[tuple[float, bool, ParallelConfig]]:
    """(step time, split in the search's band, layout) of every layout; infinite time when it
    does not fit."""
    gpus, per_node = len(fabric.gpus), 8
    compute, analytic = load_compute_calibration(), AnalyticEngine(catalog, load_calibration())
    cache: dict[Any, Any] = {}
    timed = []
    for tp, pp, vpp, cp, ep, mb in itertools.product(
        range(1, 9), range(1, 9), range(1, 9), range(1, 5), range(1, 9), (1, 2, 4)
    ):
        if not _allowed(model, gpus, per_node, tp, pp, vpp, cp, ep, mb, batch):
            continue
        for ((first, last, emb, loss), band), zero, recompute in itertools.product(
            _splits(model, pp, vpp), zeros, recomputes
        ):
            p = ParallelConfig(
                tp=tp,
                pp=pp,
                vpp=vpp,
                cp=cp,
                ep=ep,
                dp=gpus // (tp * pp * cp),
                pp_first_stage_layers=first,
                pp_last_stage_layers=last,
                pp_embedding_in_split=emb,
                pp_loss_in_split=loss,
                micro_batch=mb,
                global_batch=batch,
                seq_len=model.seq_len,
                sequence_parallel=tp > 1,
                zero_stage=zero,
                recompute=recompute,
            )
            try:
                step = estimate_step(
                    model, p, fabric, catalog, compute, analytic=analytic, cache=cache
                )
            except ScenarioError as exc:
                if "does not fit" not in str(exc):
                    raise
                timed.append((float("inf"), band, p))
                continue
            timed.append((step.step_time_s, band, p))
    return timed


@pytest.mark.parametrize(
    ("model", "space", "zeros", "recomputes"),
    [
        (DENSE, SPACE, range(4), ("none", "selective", "full")),
        (MOE, SPACE, range(4), ("none", "selective", "full")),
        (ODD, ODD_SPACE, range(2), ("none", "full")),
    ],
    ids=["dense", "moe", "odd-layers"],
)
def test_search_matches_brute_force_on_small_cases(  # type: ignore[no-untyped-def]
    model, space, zeros, recomputes, catalog, build
) -> None:
    fabric = build("dgx-h100", node_count=2)
    batch = 16
    result = search_layouts(
        model,
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=batch,
        space=space,
        analytic=AnalyticEngine(catalog, load_calibration()),
        top=3,
    )
    brute = _brute_force(model, fabric, catalog, batch, zeros, recomputes)
    searched = [t for t, band, _ in brute if band]
    assert searched, "the brute force found layouts"
    # The search considers exactly the layouts of its documented space ...
    assert result.candidates == len(searched)
    # ... times only some (the rest cannot beat its list), and returns the fastest that fits.
    assert result.pruned > 0
    assert result.fitting <= sum(1 for t in searched if t < float("inf"))
    assert result.best[0].step.step_time_s == pytest.approx(min(searched), rel=1e-12)
    assert [r.step.step_time_s for r in result.best] == pytest.approx(sorted(searched)[:3])
    # No split of any kind Megatron accepts, in the band or not, beats the search's choice; nor,
    # for any pipeline depth, the best the band holds for that depth.
    assert min(t for t, _, _ in brute) >= result.best[0].step.step_time_s * (1 - 1e-12)
    for pp in {p.pp for _, _, p in brute}:
        band_best = min((t for t, band, p in brute if band and p.pp == pp), default=float("inf"))
        assert min(t for t, _, p in brute if p.pp == pp) >= band_best * (1 - 1e-12), pp
    for found in result.best:
        # Fits: estimate_step's own memory check passes.
        estimate_step(model, found.parallel, fabric, catalog, load_compute_calibration())
        assert found.parallel.tp <= 8
    # Not everything fits: the search really prunes by memory.
    assert float("inf") in searched


def test_tp_crosses_nodes_only_when_asked(catalog, build) -> None:  # type: ignore[no-untyped-def]
    fabric = build("dgx-h100", node_count=2)
    wide = replace(DENSE, kv_heads=16)
    inside = search_layouts(
        wide,
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=16,
        space=SearchSpace(micro_batch=(1,), pp=(1,), cp=(1,)),
        top=100,
    )
    assert max(r.parallel.tp for r in inside.best) <= 8
    across = search_layouts(
        wide,
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=16,
        space=SearchSpace(micro_batch=(1,), pp=(1,), cp=(1,), tp_across_nodes=True),
        top=100,
    )
    assert max(r.parallel.tp for r in across.best) == 16
    assert across.candidates > inside.candidates


def test_no_fitting_layout_is_a_clear_error(catalog, build) -> None:  # type: ignore[no-untyped-def]
    fabric = build("dgx-h100", node_count=1)
    with pytest.raises(ScenarioError, match="smallest needs"):
        search_layouts(
            DENSE,
            fabric,
            catalog,
            load_compute_calibration(),
            global_batch=8,
            space=SearchSpace(zero_stages=(0,), recompute=("none",), tp=(1,), pp=(1,)),
        )


def test_top_layouts_can_be_rechecked_on_the_discrete_event_engine(catalog, build) -> None:  # type: ignore[no-untyped-def]
    fabric = build("dgx-h100", node_count=2)
    result = search_layouts(
        DENSE, fabric, catalog, load_compute_calibration(), global_batch=16, space=SPACE, top=2
    )
    checked = recheck(result.best, DENSE, fabric, catalog, load_compute_calibration())
    assert len(checked) == 2
    assert all(r.step.step_time_s > 0 for r in checked)
    assert checked[0].step.step_time_s <= checked[1].step.step_time_s
