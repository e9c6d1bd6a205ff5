"""The columns of ``designs.parquet`` / ``designs.csv``: one row per design point.

Every row has every column (a failed design point has its inputs, ``error`` and nulls), so
part files written at different times share one schema and read back as one table.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["COLUMNS", "SCHEMA", "empty_row"]

_S, _F, _I, _B = pa.string(), pa.float64(), pa.int64(), pa.bool_()

COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    # identity and inputs
    "design_id": (_S, "hash of every input"),
    "sweep": (_S, "sweep name"),
    "error": (_S, "why the design point failed (null when it did not)"),
    "system": (_S, "system preset id or file"),
    "network": (_S, "label of the network axis entry, if any"),
    "nodes": (_I, "systems (NVL72: racks)"),
    "gpus_per_node": (_I, "GPUs per system (the NVLink domain)"),
    "gpus": (_I, "GPUs the job uses"),
    "nic": (_S, "compute NIC"),
    "nic_count": (_I, "compute NICs (rails) per node"),
    "switch": (_S, "leaf/spine/core switch"),
    "levels": (_I, "network levels"),
    "oversubscription": (_F, "leaf down:up ratio"),
    "model": (_S, "model id"),
    "tokens": (_F, "training tokens"),
    "global_batch": (_I, "sequences per step"),
    "seq": (_I, "sequence length"),
    "precision": (_S, "GEMM precision"),
    "layout_mode": (_S, "auto (searched) or explicit"),
    "tp_overlap": (_B, "TP communication overlapped"),
    "engine": (_S, "collective engine"),
    "pue": (_F, "facility / IT power"),
    "inputs_json": (_S, "every input of the design point, as JSON"),
    # chosen layout
    "tp": (_I, ""),
    "pp": (_I, ""),
    "vpp": (_I, ""),
    "cp": (_I, ""),
    "dp": (_I, ""),
    "ep": (_I, ""),
    "zero": (_I, "ZeRO stage"),
    "micro_batch": (_I, ""),
    "recompute": (_S, ""),
    "pp_split": (_S, "pipeline split: even, embedding/loss in split, or first / last layers"),
    "pp_first_stage_layers": (_I, "layers on the first pipeline rank (uneven split)"),
    "pp_last_stage_layers": (_I, "layers on the last pipeline rank (uneven split)"),
    "layout_json": (_S, "the layout as an explicit layout table takes it, JSON"),
    "layouts_evaluated": (_I, "layouts timed by the search (1 when explicit)"),
    # step
    "step_time_s": (_F, "one iteration"),
    "tokens_per_s": (_F, "throughput"),
    "tflops_per_gpu": (_F, "model FLOPs per GPU"),
    "mfu_pct": (_F, "model FLOPs utilisation, % of the dense peak of the precision"),
    "memory_per_gpu_gb": (_F, "GB (1e9 B)"),
    "memory_capacity_gb": (_F, "GB"),
    "fits_memory": (_B, ""),
    "compute_s": (_F, "step breakdown"),
    "bubble_s": (_F, ""),
    "exposed_tp_s": (_F, ""),
    "exposed_cp_s": (_F, ""),
    "exposed_ep_s": (_F, ""),
    "exposed_pp_s": (_F, ""),
    "exposed_dp_s": (_F, ""),
    "optimizer_s": (_F, ""),
    "breakdown_json": (_S, "the whole step breakdown, seconds"),
    "limiting": (_S, "largest non-compute term of the step"),
    "limiting_tier": (_S, "nvlink, network, pipeline or hbm"),
    # time to train
    "time_to_train_days": (_F, "without failures"),
    "time_to_train_with_failures_days": (_F, "expected wall-clock with interruptions"),
    "gpu_hours": (_F, "without failures"),
    "goodput": (_F, "effective training share"),
    "expected_interruptions": (_F, ""),
    "job_mtbf_h": (_F, "mean time between interruptions of the job"),
    "checkpoint_interval_h": (_F, "work between checkpoints (Daly's optimum by default)"),
    "checkpoint_cost_s": (_F, ""),
    "restart_s": (_F, ""),
    # bill of materials
    "bom_nodes": (_I, ""),
    "bom_hosts": (_I, "servers / compute trays (failure exposure)"),
    "bom_gpus": (_I, "GPUs bought (NVL72: whole racks)"),
    "bom_racks": (_I, "compute racks"),
    "bom_nics": (_I, ""),
    "bom_management_ports": (_I, "leaf ports for UFM appliances"),
    "bom_leaf_switches": (_I, ""),
    "bom_leaf_ports_used": (_I, ""),
    "bom_leaf_ports_free": (_I, ""),
    "bom_spine_switches": (_I, ""),
    "bom_spine_ports_used": (_I, ""),
    "bom_spine_ports_free": (_I, ""),
    "bom_core_switches": (_I, ""),
    "bom_core_ports_used": (_I, ""),
    "bom_core_ports_free": (_I, ""),
    "bom_node_leaf_cables": (_I, "incl. management ports"),
    "bom_node_leaf_media": (_S, ""),
    "bom_node_leaf_split_cables": (_I, ""),
    "bom_leaf_spine_cables": (_I, ""),
    "bom_leaf_spine_media": (_S, ""),
    "bom_leaf_spine_split_cables": (_I, ""),
    "bom_spine_core_cables": (_I, ""),
    "bom_spine_core_media": (_S, ""),
    "bom_spine_core_split_cables": (_I, ""),
    "bom_transceivers": (_I, "transceivers and active cable ends"),
    "bom_transceiver_types": (_S, "id=count;..."),
    # power
    "power_nodes_kw": (_F, "systems at maximum power"),
    "power_gpus_tdp_kw": (_F, "GPU TDP alone (part of the nodes)"),
    "power_switches_kw": (_F, ""),
    "power_optics_kw": (_F, ""),
    "power_it_kw": (_F, ""),
    "power_facility_kw": (_F, "IT x PUE"),
    "power_notes": (_S, ""),
    # cost
    "currency": (_S, ""),
    "capex": (_F, "hardware at the price table's prices"),
    "capex_systems": (_F, ""),
    "capex_switches": (_F, ""),
    "capex_nics": (_F, ""),
    "capex_optics": (_F, ""),
    "capex_fibre": (_F, ""),
    "energy_mwh": (_F, "facility energy of the run (with failures)"),
    "energy_cost": (_F, ""),
    "run_cost": (_F, "hardware share of its life plus energy"),
    "cost_per_million_tokens": (_F, ""),
    "prices_missing": (_S, "ids without a price"),
    # verdict
    "objective": (_F, "the sweep's objective value (lower is better)"),
    "feasible": (_B, "meets every constraint"),
    "infeasible_reasons": (_S, ""),
    "warnings": (_S, ""),
}
"""Column name -> (Arrow type, meaning)."""

SCHEMA = pa.schema([(name, dtype) for name, (dtype, _) in COLUMNS.items()])
"""Arrow schema of every part file."""


def empty_row() -> dict[str, Any]:
    """A row with every column null."""
    return dict.fromkeys(COLUMNS)
