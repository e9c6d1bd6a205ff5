"""Rows that measure a whole run: MLPerf time-to-train and published pre-training totals.

* ``mlperf_training``: minutes from ``run_start`` to ``run_stop`` of an MLPerf Training result
  (initialisation excluded). Mapped to the benchmark (:mod:`~interconnect_sim.training.benchmarks`)
  and the layout the submission's config states; the prediction is the steps to the benchmark's
  reference convergence point at the submitted global batch plus its evaluations.
* ``full_training_run``: GPU-hours of a pre-training run with its stated tokens and layout;
  rows that state no layout (or tokens) are listed with the reason, not guessed. Goodput comes
  from stated interruption figures where a row has them (none of the shipped rows does, so their
  predictions are the failure-free GPU-hours, said in the notes).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from interconnect_sim.errors import MeasurementError
from interconnect_sim.training.benchmarks import load_benchmark
from interconnect_sim.training.model import load_model
from interconnect_sim.validation.run_names import parse_gpu
from interconnect_sim.validation.training_runs import MappedRun, number, row_layout, row_model

__all__ = ["map_whole_run"]

_MLPERF_BENCHMARKS = {"gpt3": "gpt3-175b"}
# NVIDIA's MLPerf v3.x GPT-3 implementation (training_results_v3.1 NVIDIA/benchmarks/gpt3/
# implementations/pytorch): conf/custom.yaml defaults INTERLEAVED_PIPELINE to 12 and the
# config_DGXH100_*.sh files set TP_COMM_OVERLAP=True, FP8 with delayed scaling (config_fp8.sh).
_NVIDIA_GPT3_VPP = 12
# Jean Zay (BLOOM): 4 Omni-Path 100 Gb/s links per node, modelled as 4 EDR (100 Gb/s) ports.
_FABRICS = {"Jean Zay": {"nic": "connectx-4", "nic_count": 4}}


def map_whole_run(row: pd.Series) -> MappedRun:
    """Map an ``mlperf_training`` or ``full_training_run`` row, or say why it cannot be."""
    if str(row.get("category", "")) == "mlperf_training":
        return _map_mlperf(row)
    return _map_full_run(row)


def _map_mlperf(row: pd.Series) -> MappedRun:
    notes: list[str] = []
    name = str(row["model_name"])
    key = name.split("MLPerf ")[-1].split(":")[0].strip() if "MLPerf " in name else ""
    if key not in _MLPERF_BENCHMARKS:
        raise MeasurementError(f"MLPerf benchmark {key!r} is not modelled")
    benchmark = load_benchmark(_MLPERF_BENCHMARKS[key])
    model = load_model(benchmark.model)
    stated = (number(row.get("n_layers", "")), number(row.get("hidden_size", "")))
    if stated != (None, None) and stated != (model.layers, model.hidden):
        raise MeasurementError(f"model dimensions {stated} differ from {benchmark.model}")
    gpu = parse_gpu(str(row["gpu_model"]))
    row = row.copy()
    if not str(row.get("vpp", "")).strip():
        row["vpp"] = str(_NVIDIA_GPT3_VPP)
        notes.append("vpp 12 (NVIDIA's GPT-3 config default, not overridden)")
    parallel, gpus = row_layout(row, model, notes)
    parallel = replace(parallel, tp_comm_overlap=True, sequence_parallel=True)
    if "DGX" not in str(row.get("system", "")).upper() and "dgx" not in str(row["source_url"]):
        notes.append("HGX/ND H100 system (8 GPUs, 8 x 400 Gb/s InfiniBand) timed as DGX H100")
    minutes = number(row.get("time_to_train_min", ""))
    if minutes is None:
        raise MeasurementError("no time_to_train_min")
    assert gpu.system is not None
    return MappedRun(
        row_id=str(row["row_id"]),
        name=name,
        model=model,
        parallel=parallel,
        system=gpu.system,
        nodes=max(1, math.ceil(gpus / 8)),
        metric="time_to_train_min",
        measured=minutes,
        convention="model",
        flash_attention=True,
        fit_role="holdout",
        notes=notes,
        category="mlperf_training",
        gpu=gpu,
        extra={"benchmark": benchmark.id},
    )


def _map_full_run(row: pd.Series) -> MappedRun:
    notes: list[str] = []
    name = str(row["model_name"])
    gpu = parse_gpu(str(row["gpu_model"]))
    tokens = number(row.get("total_training_tokens", ""))
    if number(row.get("tp", "")) is None or number(row.get("n_gpus", "")) is None:
        raise MeasurementError("whole run: GPU count or parallel layout not stated")
    if tokens is None:
        raise MeasurementError("whole run: tokens trained on not stated as a number")
    model = row_model(row, notes)
    row = row.copy()
    if "checkpointing" in str(row.get("activation_recompute", "")).lower():
        row["activation_recompute"] = "full"
        notes.append("activation checkpointing (granularity not stated) taken as full recompute")
    parallel, gpus = row_layout(row, model, notes)
    parallel = replace(
        parallel, sequence_parallel=False, tp_comm_overlap=False, tp_async_backward=False
    )
    notes.append(
        "A100-era run: no sequence parallelism, no flash attention, no TP overlap, blocking "
        "backward TP all-reduce (BigScience's Megatron-DeepSpeed: copy_to_tensor_model_parallel"
        "_region)"
    )
    gpu_hours = number(row.get("gpu_hours", ""))
    if gpu_hours is None:
        raise MeasurementError("whole run: no GPU-hours to compare with")
    notes.append("no interruption figures stated: failure-free GPU-hours predicted")
    fabric = next((f for k, f in _FABRICS.items() if k in str(row.get("system", ""))), {})
    if fabric:
        notes.append("Omni-Path 100 Gb/s links modelled as EDR InfiniBand ports [inferred]")
    assert gpu.system is not None
    return MappedRun(
        row_id=str(row["row_id"]),
        name=name,
        model=model,
        parallel=parallel,
        system=gpu.system,
        nodes=max(1, math.ceil(gpus / 8)),
        metric="gpu_hours",
        measured=gpu_hours,
        convention="model",
        flash_attention=False,
        fit_role="holdout",
        notes=notes,
        category="full_training_run",
        gpu=gpu,
        tokens=tokens,
        extra={"fabric": fabric},
    )
