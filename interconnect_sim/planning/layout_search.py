"""Search the parallel layout: TP, PP, VPP, CP, EP, DP, ZeRO stage, micro-batch and recompute.

The space is the layouts a Megatron-style framework accepts (:mod:`.layout_space`: TP inside the
NVLink domain, the pipeline splits of :mod:`.pipeline_splits`, CP, EP dividing the experts, DP
the rest). Each layout the search looks at is checked for memory (:func:`estimate_memory`, the
formula ``estimate_step`` checks) and, when it fits, timed with ``estimate_step`` sharing one
cache. Layouts are taken in the order of a lower bound on their step time
(:mod:`.search_bound`), and the search stops when the next bound exceeds the time of the last
layout it keeps, so it returns the fastest fitting layouts of the space; nothing is skipped on a
guess (``tests/unit/test_layout_search.py`` checks this against a brute force on small cases).
Communicator analyses are shared across layouts through the cache
(``benchmarks/bench_plan.py`` times a 16,384-GPU search).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import InterconnectSimError, ScenarioError
from interconnect_sim.planning.layout_space import (
    SearchSpace,
    candidate_layouts,
    split_of,
    tiebreak,
)
from interconnect_sim.planning.search_bound import StepLowerBound
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.memory import estimate_memory
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig, Precision
from interconnect_sim.training.stage_compute import gpu_rates
from interconnect_sim.training.step import StepEstimate, estimate_step

__all__ = [
    "LayoutResult",
    "SearchResult",
    "SearchSpace",
    "candidate_layouts",
    "recheck",
    "search_layouts",
]


@dataclass(frozen=True, slots=True)
class LayoutResult:
    """One evaluated layout."""

    parallel: ParallelConfig
    step: StepEstimate

    def describe(self) -> str:
        """``tp 4, pp 4, vpp 5, cp 2, dp 32, ep 1, zero 1, mb 1, recompute none`` (and the
        pipeline split when it is not even)."""
        p = self.parallel
        split = split_of(p)
        return (
            f"tp {p.tp}, pp {p.pp}, vpp {p.vpp}, cp {p.cp}, dp {p.dp}, ep {p.ep}, "
            f"zero {p.zero_stage}, mb {p.micro_batch}, recompute {p.recompute}"
        ) + ("" if split.kind == 0 else f", split {split.describe()}")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best layouts and what the search looked at."""

    best: list[LayoutResult]
    candidates: int
    fitting: int
    evaluated: int
    elapsed_s: float
    failures: dict[str, int] = field(default_factory=dict)
    pruned: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "candidates": self.candidates,
            "pruned": self.pruned,
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
        "pp_first_stage_layers": p.pp_first_stage_layers,
        "pp_last_stage_layers": p.pp_last_stage_layers,
        "pp_embedding_in_split": p.pp_embedding_in_split,
        "pp_loss_in_split": p.pp_loss_in_split,
    }


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

    Layouts are taken in the order of a lower bound on their step time
    (:mod:`.search_bound`); once the bound of the next one exceeds the time of the ``top``-th
    best found, no later one can enter the list and the search stops (``pruned`` counts what it
    skipped). ``nvlink_domain`` is the number of the job's GPUs per NVLink domain (default: the
    fabric's GPUs per node).

    Raises
    ------
    ScenarioError
        No layout of the space fits (the message says the smallest memory any layout needs).
    """
    start = time.perf_counter()
    gpus = gpus or len(fabric.gpus)
    gpu = catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"]))
    domain = nvlink_domain or int(fabric.graph.graph.get("gpus_per_node") or len(fabric.gpus))
    analytic = analytic or AnalyticEngine(catalog)
    arch = analytic.calibration.arch_class(gpu.architecture)
    bound = StepLowerBound(
        model, gpu_rates(gpu, arch, precision, compute), compute, flash_attention=flash_attention
    )
    layouts = list(
        candidate_layouts(
            model,
            gpus,
            nvlink_domain=domain,
            global_batch=global_batch,
            seq_len=seq_len or model.seq_len,
            precision=precision,
            space=space,
            tp_comm_overlap=tp_comm_overlap,
        )
    )
    ranked = sorted(((bound(p), tiebreak(p), i) for i, p in enumerate(layouts)))
    timer = _Timer(model, fabric, catalog, compute, analytic, cache, flash_attention)
    kept: list[LayoutResult] = []
    checked = 0
    for limit, _, i in ranked:
        if len(kept) >= top and limit > kept[top - 1].step.step_time_s * (1 + 1e-9):
            break
        checked += 1
        result = timer.time(layouts[i], gpu.memory_bytes)
        if result is not None:
            kept.append(result)
            kept.sort(key=lambda r: (r.step.step_time_s, tiebreak(r.parallel)))
            del kept[top:]
    if not kept:
        raise timer.nothing_fits(model, gpus, global_batch, domain, len(layouts), gpu.memory_bytes)
    return SearchResult(
        best=kept,
        candidates=len(layouts),
        fitting=timer.fitting,
        evaluated=timer.evaluated,
        elapsed_s=time.perf_counter() - start,
        failures=timer.failures,
        pruned=len(layouts) - checked,
    )


class _Timer:
    """Checks a layout's memory and times the ones that fit, counting what happened."""

    def __init__(
        self,
        model: ModelConfig,
        fabric: Fabric,
        catalog: Catalog,
        compute: ComputeCalibration,
        analytic: AnalyticEngine,
        cache: dict[Any, Any] | None,
        flash_attention: bool,
    ) -> None:
        self.model, self.fabric, self.catalog, self.compute = model, fabric, catalog, compute
        self.analytic, self.flash_attention = analytic, flash_attention
        self.cache = {} if cache is None else cache
        self.fitting = self.evaluated = 0
        self.smallest = float("inf")
        self.failures: dict[str, int] = {}

    def time(self, parallel: ParallelConfig, capacity_bytes: float) -> LayoutResult | None:
        """The layout timed, or ``None`` when it does not fit or cannot be timed."""
        need = estimate_memory(
            self.model, parallel, flash_attention=self.flash_attention
        ).total_bytes
        self.smallest = min(self.smallest, need)
        if need > capacity_bytes:
            return None
        self.fitting += 1
        try:
            step = estimate_step(
                self.model,
                parallel,
                self.fabric,
                self.catalog,
                self.compute,
                flash_attention=self.flash_attention,
                check_memory=False,
                analytic=self.analytic,
                cache=self.cache,
            )
        except InterconnectSimError as exc:
            key = str(exc)[:100]
            self.failures[key] = self.failures.get(key, 0) + 1
            return None
        self.evaluated += 1
        return LayoutResult(parallel, step)

    def nothing_fits(
        self,
        model: ModelConfig,
        gpus: int,
        global_batch: int,
        domain: int,
        candidates: int,
        capacity_bytes: float,
    ) -> ScenarioError:
        """Why no layout came out (every candidate was checked: nothing is pruned then)."""
        if self.failures:
            reasons = "; ".join(f"{n} x {why}" for why, n in sorted(self.failures.items()))
            return ScenarioError(
                f"none of {self.fitting} fitting layouts could be timed: {reasons}"
            )
        if not candidates:
            return ScenarioError(
                f"no parallel layout of {gpus} GPUs satisfies the framework rules for "
                f"{model.id} with global batch {global_batch} (tp within {domain} GPUs, "
                f"layers {model.layers} over pp, dp x micro-batch dividing the batch)"
            )
        return ScenarioError(
            f"none of {candidates} layouts of {model.id} on {gpus} GPUs fits: the smallest "
            f"needs {self.smallest / 1e9:.1f} GB per GPU, the GPU has "
            f"{capacity_bytes / 1e9:.0f} GB"
        )


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
