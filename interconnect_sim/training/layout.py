"""Small layout choices ``train`` makes when the user leaves them open.

* **Pipeline split**: when the layers do not divide over the pipeline ranks, count the embedding
  and the loss as one layer each (Megatron's ``--account-for-embedding-in-pipeline-split`` and
  ``--account-for-loss-in-pipeline-split``), which is how Llama 3 405B's 126 layers ran on 16
  stages (Llama 3 paper, Section 3.3.2: "we reduce one Transformer layer each from the first and
  the last stages").
* **Virtual stages** (``--vpp auto``): the interleaving, among those the split allows, with the
  shortest modelled step whose memory fits (:data:`~.memory.MEMORY_UNCERTAINTY`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.memory import fits_memory
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import stage_chunks
from interconnect_sim.training.step import StepEstimate, estimate_step

__all__ = ["default_pipeline_split", "fastest_virtual_stages", "virtual_stage_options"]


def default_pipeline_split(model: ModelConfig, parallel: ParallelConfig) -> ParallelConfig:
    """``parallel`` unchanged if its split works, else with the embedding and loss counted as
    layers when that makes the layers divide (the error of the plain split otherwise)."""
    try:
        stage_chunks(model, parallel)
        return parallel
    except ScenarioError as plain:
        if parallel.pp_first_stage_layers or parallel.pp_last_stage_layers:
            raise
        accounted = replace(parallel, pp_embedding_in_split=True, pp_loss_in_split=True)
        try:
            stage_chunks(model, accounted)
        except ScenarioError:
            raise plain from None
        return accounted


def virtual_stage_options(model: ModelConfig, parallel: ParallelConfig) -> list[int]:
    """Virtual stages per rank the split allows (1 always when the plain split works)."""
    options = []
    for v in range(1, model.layers + 3):
        try:
            stage_chunks(model, default_pipeline_split(model, replace(parallel, vpp=v)))
        except ScenarioError:
            continue
        options.append(v)
    if not options:
        stage_chunks(model, parallel)  # raises the plain error
    return options


def fastest_virtual_stages(
    model: ModelConfig,
    parallel: ParallelConfig,
    fabric: Fabric,
    catalog: Catalog,
    compute: ComputeCalibration,
    *,
    scheduled: bool = False,
    **step_options: Any,
) -> tuple[ParallelConfig, StepEstimate]:
    """The interleaving with the shortest step that fits memory (or, when none fits, the one
    that needs least memory, for the caller to report). With ``scheduled`` only interleavings
    a schedule can run (micro-batches divisible by the pipeline ranks, :mod:`.schedule`). The
    tries share one cache of communicator analyses and collective times (``estimate_step``'s
    ``cache``)."""
    step_options.setdefault("cache", {})
    if parallel.pp == 1:
        p = default_pipeline_split(model, replace(parallel, vpp=1))
        return p, estimate_step(
            model, p, fabric, catalog, compute, check_memory=False, **step_options
        )
    tried = []
    for v in virtual_stage_options(model, parallel):
        if scheduled and v > 1 and parallel.microbatches % parallel.pp:
            continue
        p = default_pipeline_split(model, replace(parallel, vpp=v))
        step = estimate_step(model, p, fabric, catalog, compute, check_memory=False, **step_options)
        tried.append((p, step))
    fitting = [t for t in tried if fits_memory(t[1].memory, t[1].memory_capacity_bytes) != "no"]
    if fitting:
        return min(fitting, key=lambda t: t[1].step_time_s)
    return min(tried, key=lambda t: t[1].memory.total_bytes)
