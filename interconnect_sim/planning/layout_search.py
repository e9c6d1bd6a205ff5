"""Search the parallel layout: TP, PP, VPP, CP, EP, DP, ZeRO stage, micro-batch and recompute.

The space is the layouts a Megatron-style framework accepts (:func:`candidate_layouts`):

* **TP** divides the attention heads, the key/value groups and the hidden size, and stays
  inside one NVLink domain (a DGX board, an NVL72 rack) unless ``tp_across_nodes``.
* **PP** divides the layers; **VPP** (interleaved 1F1B, only with PP > 1) divides the layers of
  a stage, and needs the micro-batch count to be a multiple of PP.
* **CP** is a power of two with ``seq % (2 cp) == 0`` (load-balanced causal chunks).
* **EP** (MoE models only) divides the experts and ``cp x dp`` (expert groups lie inside one
  pipeline stage; expert TP = TP).
* **DP** = GPUs / (TP x PP x CP); the micro-batch size divides ``global batch / DP``.

Every layout of the space is first checked for memory (:func:`estimate_memory`, the same
formula ``estimate_step`` checks), and every one that fits is timed with ``estimate_step``
sharing one cache, so the search returns the fastest fitting layouts of the space; nothing is
skipped on a guess. Communicator analyses are shared across layouts through the cache, which
keeps a 16,384-GPU search within a minute (``benchmarks/bench_layout_search.py``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.memory import estimate_memory
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig, Precision, Recompute
from interconnect_sim.training.step import StepEstimate, estimate_step

__all__ = [
    "LayoutResult",
    "SearchResult",
    "SearchSpace",
    "candidate_layouts",
    "recheck",
    "search_layouts",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpace:
    """Which values each knob may take (``None``: every value the rules allow).

    ZeRO-3 (FSDP) is searched only when asked (``zero_stages=(0, 1, 2, 3)``): the step model
    hides its per-layer gathers behind compute, which ``validate-training`` shows to be far too
    optimistic (its known ZeRO-3 miss), so a default search would pick it everywhere.
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


@dataclass(frozen=True, slots=True)
class LayoutResult:
    """One evaluated layout."""

    parallel: ParallelConfig
    step: StepEstimate

    def describe(self) -> str:
        """``tp 4, pp 4, vpp 5, cp 2, dp 32, ep 1, zero 1, mb 1, recompute none``."""
        p = self.parallel
        return (
            f"tp {p.tp}, pp {p.pp}, vpp {p.vpp}, cp {p.cp}, dp {p.dp}, ep {p.ep}, "
            f"zero {p.zero_stage}, mb {p.micro_batch}, recompute {p.recompute}"
        )


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best layouts and what the search looked at."""

    best: list[LayoutResult]
    candidates: int
    fitting: int
    evaluated: int
    elapsed_s: float
    failures: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "candidates": self.candidates,
            "fitting": self.fitting,
            "evaluated": self.evaluated,
            "elapsed_s": self.elapsed_s,
            "best": [{"layout": _layout_json(r.parallel), **r.step.to_json()} for r in self.best],
        }


def _layout_json(p: ParallelConfig) -> dict[str, Any]:
    return {
        "tp": p.tp,
        "pp": p.pp,
        "vpp": p.vpp,
        "cp": p.cp,
        "dp": p.dp,
        "ep": p.ep,
        "zero": p.zero_stage,
        "micro_batch": p.micro_batch,
        "recompute": p.recompute,
    }


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
    for tp in _tp_values(model, gpus, nvlink_domain, space):
        for pp in space.pp or tuple(_divisors(model.layers)):
            if model.layers % pp:
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
    stage_layers = model.layers // pp
    vpps = (
        [1]
        if pp == 1
        else [v for v in space.vpp or _divisors(stage_layers) if stage_layers % v == 0]
    )
    for mb, vpp in itertools.product(space.micro_batch, vpps):
        if global_batch % (dp * mb):
            continue
        if vpp > 1 and (global_batch // (dp * mb)) % pp:
            continue
        for zero, recompute in itertools.product(space.zero_stages, space.recompute):
            yield ParallelConfig(
                tp=tp,
                pp=pp,
                dp=dp,
                cp=cp,
                ep=ep,
                vpp=vpp,
                micro_batch=mb,
                global_batch=global_batch,
                seq_len=seq_len,
                sequence_parallel=tp > 1,
                zero_stage=zero,
                recompute=recompute,
                precision=precision,
                tp_comm_overlap=tp_comm_overlap,
            )


def search_layouts(
    model: ModelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    *,
    global_batch: int,
    gpus: int | None = None,
    seq_len: int | None = None,
    precision: Precision = "bf16",
    space: SearchSpace | None = None,
    top: int = 5,
    tp_comm_overlap: bool = False,
    flash_attention: bool = True,
    nvlink_domain: int | None = None,
    analytic: AnalyticEngine | None = None,
    cache: dict[Any, Any] | None = None,
) -> SearchResult:
    """The ``top`` fastest layouts that fit in memory, timed with the analytic engine.

    ``nvlink_domain`` is the number of the job's GPUs per NVLink domain (default: the fabric's
    GPUs per node).

    Raises
    ------
    ScenarioError
        No layout of the space fits (the message says the smallest memory any layout needs).
    """
    start = time.perf_counter()
    gpus = gpus or len(fabric.gpus)
    seq = seq_len or model.seq_len
    capacity = catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"])).memory_bytes
    domain = nvlink_domain or int(fabric.graph.graph.get("gpus_per_node") or len(fabric.gpus))
    analytic = analytic or AnalyticEngine(catalog)
    cache = {} if cache is None else cache
    results: list[LayoutResult] = []
    candidates = fitting = 0
    smallest = float("inf")
    failures: dict[str, int] = {}
    for parallel in candidate_layouts(
        model,
        gpus,
        nvlink_domain=domain,
        global_batch=global_batch,
        seq_len=seq,
        precision=precision,
        space=space,
        tp_comm_overlap=tp_comm_overlap,
    ):
        candidates += 1
        need = estimate_memory(model, parallel, flash_attention=flash_attention).total_bytes
        smallest = min(smallest, need)
        if need > capacity:
            continue
        fitting += 1
        try:
            step = estimate_step(
                model,
                parallel,
                fabric,
                catalog,
                compute,
                flash_attention=flash_attention,
                check_memory=False,
                analytic=analytic,
                cache=cache,
            )
        except InterconnectSimError as exc:
            key = str(exc)[:100]
            failures[key] = failures.get(key, 0) + 1
            continue
        results.append(LayoutResult(parallel, step))
    if not results:
        if failures:
            reasons = "; ".join(f"{n} x {why}" for why, n in sorted(failures.items()))
            raise ScenarioError(f"none of {fitting} fitting layouts could be timed: {reasons}")
        if not candidates:
            raise ScenarioError(
                f"no parallel layout of {gpus} GPUs satisfies the framework rules for "
                f"{model.id} with global batch {global_batch} (tp within {domain} GPUs, "
                f"layers {model.layers} over pp, dp x micro-batch dividing the batch)"
            )
        raise ScenarioError(
            f"none of {candidates} layouts of {model.id} on {gpus} GPUs fits: the smallest "
            f"needs {smallest / 1e9:.1f} GB per GPU, the GPU has {capacity / 1e9:.0f} GB"
        )
    results.sort(key=lambda r: (r.step.step_time_s, _tiebreak(r.parallel)))
    return SearchResult(
        best=results[:top],
        candidates=candidates,
        fitting=fitting,
        evaluated=len(results),
        elapsed_s=time.perf_counter() - start,
        failures=failures,
    )


def _tiebreak(p: ParallelConfig) -> tuple[int, ...]:
    """Among equally fast layouts prefer the simpler one (less model parallelism, less sharding)."""
    order = {"none": 0, "selective": 1, "full": 2}
    return (p.tp * p.pp * p.cp * p.ep, p.vpp, p.zero_stage, order[p.recompute], p.micro_batch)


def recheck(
    results: list[LayoutResult],
    model: ModelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    *,
    engine: str = "des",
    flash_attention: bool = True,
    analytic: AnalyticEngine | None = None,
) -> list[LayoutResult]:
    """Re-time layouts on another engine (the discrete-event one: the step as a timeline) and
    re-rank; interleavings no schedule can run (micro-batches not divisible by the pipeline
    ranks) are left out."""
    analytic = analytic or AnalyticEngine(catalog)
    cache: dict[Any, Any] = {}
    runnable = [
        r
        for r in results
        if engine != "des" or r.parallel.vpp == 1 or r.parallel.microbatches % r.parallel.pp == 0
    ]
    checked = [
        replace(
            r,
            step=estimate_step(
                model,
                r.parallel,
                fabric,
                catalog,
                compute,
                engine=engine,
                flash_attention=flash_attention,
                check_memory=False,
                analytic=analytic,
                cache=cache,
            ),
        )
        for r in runnable
    ]
    if not checked:  # none runs as a timeline: keep the closed form's ranking
        return list(results)
    return sorted(checked, key=lambda r: r.step.step_time_s)
