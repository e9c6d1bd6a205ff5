"""``train --layout auto`` and the inputs ``train --json`` repeats (parsing and wiring only)."""

from __future__ import annotations

import argparse
from typing import Any

from interconnect_sim.calibration import load_calibration
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import UnitError
from interconnect_sim.planning.layout_search import SearchSpace, recheck, search_layouts
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.units import parse_rate

__all__ = ["add_layout_options", "auto_layout", "rate", "used_inputs"]


def rate(text: str) -> float:
    """A data rate with units (``100 GB/s``)."""
    try:
        return parse_rate(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_layout_options(train: argparse.ArgumentParser) -> None:
    """``--layout auto`` and the failure-model inputs beyond the node MTBF."""
    train.add_argument(
        "--layout",
        choices=("auto",),
        help="search the parallel layout (tp, pp, vpp, cp, ep, dp, ZeRO, micro-batch, "
        "recompute); --tp etc. given with it fix that knob",
    )
    train.add_argument("--failure-profile", help="published interruption statistics to use")
    train.add_argument(
        "--storage-bandwidth",
        type=rate,
        metavar="RATE",
        help="checkpoint write bandwidth, e.g. '100 GB/s' (sets the checkpoint cost)",
    )


def auto_layout(
    values: dict[str, Any], model: ModelConfig, fabric: Fabric, catalog: Catalog, seq: int
) -> tuple[ParallelConfig, dict[str, Any]]:
    """The fastest layout that fits, and a JSON-ready account of the search."""
    fixed: dict[str, Any] = {k: (values[k],) for k in ("tp", "pp", "cp", "ep") if values.get(k)}
    if values.get("vpp") not in (None, "auto"):
        fixed["vpp"] = (int(values["vpp"]),)
    if values.get("micro_batch"):
        fixed["micro_batch"] = (values["micro_batch"],)
    if values.get("zero") is not None:
        fixed["zero_stages"] = (values["zero"],)
    if values.get("recompute"):
        fixed["recompute"] = (values["recompute"],)
    batch = values.get("global_batch") or max(1, round(4_194_304 / seq))
    compute = load_compute_calibration()
    result = search_layouts(
        model,
        fabric,
        catalog,
        compute,
        global_batch=batch,
        seq_len=seq,
        precision=values.get("precision") or "bf16",
        space=SearchSpace(**fixed),
        tp_comm_overlap=bool(values.get("tp_overlap")),
        flash_attention=not values.get("no_flash_attention", False),
        analytic=AnalyticEngine(catalog, load_calibration(values.get("calibration"))),
    )
    best = result.best
    if (values.get("engine") or "analytic") == "des":
        best = recheck(best[:3], model, fabric, catalog, compute)
    info = result.to_json()
    info["best"] = [{"layout": r.describe(), "step_time_s": r.step.step_time_s} for r in best]
    return best[0].parallel, info


def used_inputs(
    values: dict[str, Any], request: FabricRequest, p: ParallelConfig
) -> dict[str, Any]:
    """Every input the estimate used, after defaults and the layout search."""
    return {
        "scenario": None if values.get("scenario") is None else str(values["scenario"]),
        "model": values["model"],
        "fabric": {
            "system": request.system,
            "gpu": request.gpu,
            "nodes": request.node_count,
            "scalable_units": request.scalable_units,
            "nic": request.nic,
            "nic_count": request.nic_count,
            "switch": request.switch,
            "levels": request.levels,
            "oversubscription": request.oversubscription,
        },
        "layout_mode": "auto" if values.get("layout") == "auto" else "explicit",
        "parallel": {
            "tp": p.tp,
            "pp": p.pp,
            "dp": p.dp,
            "cp": p.cp,
            "ep": p.ep,
            "vpp": p.vpp,
            "micro_batch": p.micro_batch,
            "global_batch": p.global_batch,
            "seq": p.seq_len,
            "sequence_parallel": p.sequence_parallel,
            "zero": p.zero_stage,
            "recompute": p.recompute,
            "precision": p.precision,
            "tp_overlap": p.tp_comm_overlap,
        },
        "flash_attention": not values.get("no_flash_attention", False),
        "engine": values.get("engine") or "analytic",
        "tokens": values.get("tokens"),
        "failures": {
            k: values.get(k)
            for k in (
                "mtbf_node",
                "failure_profile",
                "storage_bandwidth",
                "checkpoint_interval",
                "checkpoint_cost",
                "restart",
            )
        },
    }
