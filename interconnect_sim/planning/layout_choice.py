"""The layout of one design point: searched (``layout = "auto"``) or as the sweep gives it.

Both return the layout, its step estimate, how many layouts were timed and how long that took.
A search is kept in the fabric's entry of the worker's cache (:mod:`.evaluate`), so the design
points sharing the fabric, model, batch and search space share it. A layout read back from a row
(``layout_json``) is an explicit layout; re-timing a design on the discrete-event engine uses
that path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.layout_search import SearchSpace, recheck, search_layouts
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate, estimate_step

__all__ = ["Choice", "auto_layout", "explicit_layout", "layout_json"]

Choice = tuple[ParallelConfig, StepEstimate, int, float]
"""(layout, its step, layouts timed, seconds the search took)."""


def layout_json(p: ParallelConfig) -> str:
    """The layout knobs of ``p`` as JSON, as an explicit ``layout`` table takes them."""
    knobs = {
        "tp": p.tp,
        "pp": p.pp,
        "dp": p.dp,
        "cp": p.cp,
        "ep": p.ep,
        "vpp": p.vpp,
        "micro_batch": p.micro_batch,
        "zero": p.zero_stage,
        "recompute": p.recompute,
        "pp_first_stage_layers": p.pp_first_stage_layers,
        "pp_last_stage_layers": p.pp_last_stage_layers,
        "pp_embedding_in_split": p.pp_embedding_in_split,
        "pp_loss_in_split": p.pp_loss_in_split,
    }
    return json.dumps({k: v for k, v in knobs.items() if v is not None}, sort_keys=True)


def auto_layout(
    entry: dict[str, Any],
    inputs: Mapping[str, Any],
    model: ModelConfig,
    gpus: int,
    compute: ComputeCalibration,
) -> Choice:
    """The fastest fitting layout of the search space (``entry``: the fabric's cache entry)."""
    seq = inputs.get("seq") or model.seq_len
    search = inputs.get("search") or {}
    key = (
        model.id,
        gpus,
        inputs["global_batch"],
        seq,
        inputs["precision"],
        json.dumps(search, sort_keys=True),
        inputs["tp_overlap"],
        inputs["engine"],
    )
    if key not in entry["searches"]:
        space = SearchSpace(
            **{k: v for k, v in search.items() if k not in ("zero",)},
            **({"zero_stages": search["zero"]} if "zero" in search else {}),
        )
        result = search_layouts(
            model,
            entry["fabric"],
            entry["catalog"],
            compute,
            global_batch=inputs["global_batch"],
            gpus=gpus,
            seq_len=seq,
            precision=inputs["precision"],
            space=space,
            top=3,
            tp_comm_overlap=inputs["tp_overlap"],
            analytic=entry["analytic"],
            cache=entry["cache"],
            nvlink_domain=entry["gpus_per_node_used"],
        )
        best = result.best
        if inputs["engine"] == "des":
            best = recheck(
                best, model, entry["fabric"], entry["catalog"], compute, analytic=entry["analytic"]
            )
        entry["searches"][key] = (best[0], result.evaluated, result.elapsed_s)
    chosen, evaluated, elapsed = entry["searches"][key]
    return chosen.parallel, chosen.step, evaluated, elapsed


def explicit_layout(
    entry: dict[str, Any],
    inputs: Mapping[str, Any],
    model: ModelConfig,
    gpus: int,
    compute: ComputeCalibration,
    *,
    check_memory: bool,
) -> Choice:
    """The sweep's own layout (``inputs["layout"]``), timed on ``inputs["engine"]``."""
    layout = inputs["layout"]
    tp, pp, cp = layout["tp"], layout["pp"], layout.get("cp", 1)
    if gpus % (tp * pp * cp):
        raise ScenarioError(f"{gpus} GPUs do not split into tp x pp x cp = {tp * pp * cp}")
    parallel = ParallelConfig(
        tp=tp,
        pp=pp,
        cp=cp,
        dp=layout.get("dp", gpus // (tp * pp * cp)),
        ep=layout.get("ep", 1),
        vpp=layout.get("vpp", 1),
        pp_first_stage_layers=layout.get("pp_first_stage_layers"),
        pp_last_stage_layers=layout.get("pp_last_stage_layers"),
        pp_embedding_in_split=layout.get("pp_embedding_in_split", False),
        pp_loss_in_split=layout.get("pp_loss_in_split", False),
        micro_batch=layout.get("micro_batch", 1),
        global_batch=inputs["global_batch"],
        seq_len=inputs.get("seq") or model.seq_len,
        sequence_parallel=tp > 1,
        zero_stage=layout.get("zero", 1),
        recompute=layout.get("recompute", "none"),
        precision=inputs["precision"],
        tp_comm_overlap=inputs["tp_overlap"],
    )
    step = estimate_step(
        model,
        parallel,
        entry["fabric"],
        entry["catalog"],
        compute,
        engine=inputs["engine"],
        check_memory=check_memory,
        analytic=entry["analytic"],
        cache=entry["cache"],
    )
    return parallel, step, 1, 0.0
