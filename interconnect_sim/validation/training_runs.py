"""Published training runs: map each row to a model, a parallel layout and a preset fabric.

Rows use the schema of the shared ``time_to_train.csv`` (model dimensions, parallelism, GPU model,
GPU count, the system as text, the FLOP convention as text). :func:`map_row` turns one into
something the step model can time, or says why it cannot; nothing is dropped silently. What a row
leaves unstated is filled with a default that is written into the mapping note.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.training.flops import Convention
from interconnect_sim.training.model import ModelConfig, load_model
from interconnect_sim.training.parallel import ParallelConfig, Precision, Recompute
from interconnect_sim.validation.csv_table import read_csv_table

__all__ = ["SHIPPED_TRAINING_RUNS", "MappedRun", "load_training_runs", "map_row"]

SHIPPED_TRAINING_RUNS = Path(__file__).parent / "data" / "training_runs.csv"
REQUIRED_COLUMNS = ("row_id", "model_name", "gpu_model", "n_gpus", "tp", "pp")

_PRESET_NAMES = {
    "llama2-7b": "llama2-7b",
    "llama2-13b": "llama2-13b",
    "llama2-70b": "llama2-70b",
    "llama3-8b": "llama3-8b",
    "llama3-70b": "llama3-70b",
    "gpt3-175b": "gpt3-175b",
}


@dataclass(frozen=True, slots=True)
class MappedRun:
    """A published run the step model can time."""

    row_id: str
    name: str
    model: ModelConfig
    parallel: ParallelConfig
    system: str
    nodes: int
    metric: str  # tflops_per_gpu | step_time_s | tokens_per_s_per_gpu
    measured: float
    convention: Convention
    flash_attention: bool
    fit_role: str
    notes: list[str] = field(default_factory=list)


def load_training_runs(path: Path | None = None) -> pd.DataFrame:
    """Read a runs CSV in the shared schema (the shipped copy by default)."""
    path = Path(path) if path is not None else SHIPPED_TRAINING_RUNS
    return read_csv_table(path, "training-run", MeasurementError, required=REQUIRED_COLUMNS)


_LARGEST = 1e15
"""No count or measured value in a run (GPUs, tokens/s, layers) comes near it."""


def _number(text: str) -> float | None:
    """A non-negative number with an optional K/M suffix (``4K`` = 4096), or None if the cell
    is empty or is not one (ASCII digits; values past 1e15 are not numbers of a real run)."""
    text = str(text).strip()
    if not text:
        return None
    match = re.fullmatch(r"([0-9]{1,16}(?:\.[0-9]{1,16})?)\s*([KkM]?)", text)
    if not match:
        return None
    scale = {"": 1, "K": 1024, "k": 1024, "M": 1024**2}[match.group(2)]
    value = float(match.group(1)) * scale
    return value if value <= _LARGEST else None


def _int(row: pd.Series, column: str) -> int | None:
    """A whole, positive count (``2.0`` is 2), None if not given (empty, or text such as
    "interleaved (v not stated)").

    Raises
    ------
    MeasurementError
        The cell holds zero or a fraction (``0.4`` layers would round to 0 and divide by zero
        further on).
    """
    text = str(row.get(column, "")).strip()
    value = _number(text)
    if value is None:
        return None
    if value < 1 or not float(value).is_integer():
        raise MeasurementError(f"{column} {text!r} is not a whole number of at least 1")
    return int(value)


def _system(gpu_model: str) -> str | None:
    text = gpu_model.upper()
    if "NOT A GPU" in text or "TPU" in text:
        return None
    for key, system in (
        ("A100", "dgx-a100"),
        ("H100", "dgx-h100"),
        ("H200", "dgx-h200"),
        ("B200", "dgx-b200"),
    ):
        if key in text:
            return system
    return None


def _model(row: pd.Series, notes: list[str]) -> ModelConfig:
    name = str(row["model_name"])
    layers, hidden, heads = _int(row, "n_layers"), _int(row, "hidden_size"), _int(row, "n_heads")
    text = name.lower().replace(" ", "-")
    preset = next(
        (p for k, p in _PRESET_NAMES.items() if re.match(rf"{re.escape(k)}(?![0-9.])", text)), None
    )
    if layers is None or hidden is None or heads is None:
        if preset is None:
            raise MeasurementError("model dimensions are not given and no preset matches")
        notes.append(f"dimensions from preset {preset}")
        return load_model(preset)
    ffn = _int(row, "ffn_size")
    kv = _int(row, "n_kv_heads") or heads
    vocab = _int(row, "vocab") or 51200
    mlp = "gelu"
    if preset is not None:
        base = load_model(preset)
        ffn, mlp, vocab = ffn or base.ffn, base.mlp, vocab or base.vocab
    elif ffn is None:
        ffn = 4 * hidden
        notes.append("ffn = 4 x hidden, GELU (GPT architecture; not stated)")
    elif "llama" in name.lower():
        mlp = "swiglu"
    seq = _int(row, "seq_len") or 2048
    return ModelConfig(
        id=f"row-{row['row_id']}",
        name=name,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv,
        ffn=ffn,
        vocab=vocab,
        seq_len=seq,
        mlp=mlp,
    )


def _convention(basis: str, source: str) -> Convention:
    if "Eq.3" in basis:
        return "narayanan"
    # NeMo's long-sequence tables (2025) count attention causally (half the core); the 24.07
    # summary and Megatron-LM 2024 count it in full (shared/data/README.md).
    return "model-causal" if "performance_long_sequence" in source else "model"


def map_row(row: pd.Series) -> MappedRun:
    """Map one published row, or raise :class:`MeasurementError` saying why it cannot be."""
    notes: list[str] = []
    category = str(row.get("category", ""))
    if category not in ("paper_benchmark", "vendor_perf_table"):
        raise MeasurementError(f"category {category!r} is not a measured benchmark")
    name = str(row["model_name"])
    if "lora" in name.lower():
        raise MeasurementError("LoRA fine-tuning: adapter FLOPs and memory are not modelled")
    system = _system(str(row["gpu_model"]))
    if system is None:
        raise MeasurementError(f"GPU {row['gpu_model']!r} has no preset system")
    gpus = _int(row, "n_gpus")
    tp, pp = _int(row, "tp"), _int(row, "pp")
    if gpus is None or tp is None or pp is None:
        raise MeasurementError("GPU count or tensor/pipeline parallel degrees not given")
    cp = _int(row, "cp") or 1
    dp = _int(row, "dp") or gpus // (tp * pp * cp)
    if tp * pp * cp * dp != gpus:
        raise MeasurementError(f"tp x pp x cp x dp = {tp * pp * cp * dp} != {gpus} GPUs")
    batch = _int(row, "global_batch_sequences")
    if batch is None:
        raise MeasurementError("global batch not given")
    model = _model(row, notes)
    seq = _int(row, "seq_len") or model.seq_len
    micro = _int(row, "micro_batch")
    if micro is None:
        micro = 1
        notes.append("micro-batch 1 (not stated)")
    vpp = _int(row, "vpp")
    if vpp is None:
        vpp = 2 if pp > 1 else 1
        if pp > 1:
            notes.append("interleaved schedule with 2 virtual stages (v not stated)")
    source = str(row.get("source_url", ""))
    note = str(row.get("source_note", ""))
    paper_2021_22 = "2104.04473" in source or "2205.05198" in source or "Korthikanti" in name
    recompute_text = str(row.get("activation_recompute", "")).lower()
    recompute = (
        "full"
        if "full" in recompute_text
        else ("selective" if "selective" in recompute_text else "none")
    )
    sequence_parallel = (
        (not paper_2021_22)
        or "sequence parallel" in name.lower()
        or ("seq parallel" in name.lower())
    )
    overlap = "--tp-comm-overlap" in note or "NeMo" in note or "nemo" in source.lower()
    precision = "fp8" if "FP8" in str(row.get("precision", "")).upper() else "bf16"
    zero_text = f"{row.get('zero_stage_fsdp', '')} {name}".lower()
    zero = 3 if ("zero-3" in zero_text or "fsdp" in zero_text) else (0 if paper_2021_22 else 1)
    try:
        parallel = ParallelConfig(
            tp=tp,
            pp=pp,
            dp=dp,
            cp=cp,
            ep=_int(row, "ep") or 1,
            vpp=vpp,
            micro_batch=micro,
            global_batch=batch,
            seq_len=seq,
            sequence_parallel=sequence_parallel,
            zero_stage=zero,
            recompute=cast(Recompute, recompute),
            precision=cast(Precision, precision),
            tp_comm_overlap=overlap,
        )
    except InterconnectSimError as exc:
        raise MeasurementError(str(exc)) from None
    metric, measured = "", math.nan
    for column in ("tflops_per_gpu", "step_time_s", "tokens_per_s_per_gpu"):
        value = _number(row.get(column, ""))
        if value is not None:
            metric, measured = column, value
            break
    if not metric:
        raise MeasurementError("no TFLOP/s, step time or tokens/s to compare with")
    if not measured > 0:
        raise MeasurementError(f"{metric} {measured:g} is not a positive measured value")
    fit_role = "fit" if _is_fit_row(name, source) else "holdout"
    return MappedRun(
        row_id=str(row["row_id"]),
        name=name,
        model=model,
        parallel=parallel,
        system=system,
        nodes=max(1, math.ceil(gpus / 8)),
        metric=metric,
        measured=measured,
        convention=_convention(str(row.get("tflops_basis", "")), note + " " + source),
        flash_attention=not paper_2021_22,
        fit_role=fit_role,
        notes=notes,
    )


def _is_fit_row(name: str, source: str) -> bool:
    """Weak-scaling tables (Narayanan 2021 Table 1 on A100, Megatron-Core on H100) and NeMo 24.07
    pre-training fit; the rest is held out (Korthikanti 2022, ZeRO-3 comparisons, fine-tuning,
    long context)."""
    lowered = name.lower()
    if "weak scaling" in lowered:
        return True
    return "performance_summary.md" in source and "pretraining" in lowered


def describe_failure(row: pd.Series, error: Exception) -> dict[str, Any]:
    """A row that could not be mapped, and why."""
    return {"row_id": str(row["row_id"]), "model": str(row["model_name"]), "reason": str(error)}
