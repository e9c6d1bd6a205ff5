"""Layout search: never returns a layout that does not fit, never misses a faster one.

The brute force below enumerates every integer combination of the knobs in wide ranges, keeps
what the framework rules allow (written out again here, independently of the search) and times
each with ``estimate_step`` checking memory itself. The search must return a layout that fits and
that nothing in the brute-force set beats.
"""

from __future__ import annotations

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
    """Framework rules, restated."""
    if gpus % (tp * pp * cp) or per_node % tp or model.heads % tp or model.kv_heads % tp:
        return False
    dp = gpus // (tp * pp * cp)
    if model.layers % pp or (model.layers // pp) % vpp or (pp == 1 and vpp > 1):
        return False
    if cp > 1 and (cp & (cp - 1) or model.seq_len % (2 * cp)):
        return False
    if batch % (dp * mb) or (vpp > 1 and (batch // (dp * mb)) % pp):
        return False
    experts = model.moe.experts if model.moe else 1
    return experts % ep == 0 and (cp * dp) % ep == 0


def _brute_force(
    model: ModelConfig, fabric: Any, catalog: Catalog, batch: int
) -> list[tuple[float, ParallelConfig]]:
    gpus, per_node = len(fabric.gpus), 8
    compute, analytic = load_compute_calibration(), AnalyticEngine(catalog, load_calibration())
    timed = []
    for tp, pp, vpp, cp, ep, mb in itertools.product(
        range(1, 9), range(1, 9), range(1, 9), range(1, 5), range(1, 9), (1, 2, 4)
    ):
        if not _allowed(model, gpus, per_node, tp, pp, vpp, cp, ep, mb, batch):
            continue
        for zero, recompute in itertools.product(range(4), ("none", "selective", "full")):
            p = ParallelConfig(
                tp=tp,
                pp=pp,
                vpp=vpp,
                cp=cp,
                ep=ep,
                dp=gpus // (tp * pp * cp),
                micro_batch=mb,
                global_batch=batch,
                seq_len=model.seq_len,
                sequence_parallel=tp > 1,
                zero_stage=zero,
                recompute=recompute,  # type: ignore[arg-type]
            )
            try:
                step = estimate_step(model, p, fabric, catalog, compute, analytic=analytic)
            except ScenarioError as exc:
                if "does not fit" not in str(exc):
                    raise
                continue
            timed.append((step.step_time_s, p))
    return timed


@pytest.mark.parametrize("model", [DENSE, MOE], ids=["dense", "moe"])
def test_search_matches_brute_force_on_small_cases(model, catalog, build) -> None:  # type: ignore[no-untyped-def]
    fabric = build("dgx-h100", node_count=2)
    batch = 16
    result = search_layouts(
        model,
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=batch,
        space=SPACE,
        analytic=AnalyticEngine(catalog, load_calibration()),
        top=3,
    )
    brute = _brute_force(model, fabric, catalog, batch)
    assert brute, "the brute force found layouts"
    assert result.fitting == len(brute)
    fastest = min(t for t, _ in brute)
    assert result.best[0].step.step_time_s == pytest.approx(fastest, rel=1e-12)
    for found in result.best:
        # Fits: estimate_step's own memory check passes.
        estimate_step(model, found.parallel, fabric, catalog, load_compute_calibration())
        assert found.parallel.tp <= 8
    # Not everything fits: the search really prunes by memory.
    assert result.fitting < result.candidates


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
