"""Published training runs: map each row to a model, a parallel layout and a preset fabric.

Rows use the schema of the shared ``time_to_train.csv`` (model dimensions, parallelism, GPU model,
GPU count, the system as text, the FLOP convention as text). :func:`map_row` turns one into
something the step model can time, or says why it cannot; nothing is dropped silently. What a row
leaves unstated is filled with a default that is written into the mapping note. GPU and precision
names are parsed exactly (:mod:`.run_names`).

Categories: ``paper_benchmark`` and ``vendor_perf_table`` rows are throughput measurements
(compared as tokens/s per GPU when given, which needs no FLOP convention, else TFLOP/s under the
row's convention, else step time); ``mlperf_training`` rows are minutes to the benchmark's
quality target and ``full_training_run`` rows GPU-hours of a whole run (:mod:`.whole_runs`).
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
from interconnect_sim.validation.run_names import GpuName, parse_gpu, parse_precision

__all__ = [
    "SHIPPED_TRAINING_RUNS",
    "MappedRun",
    "describe_failure",
    "load_training_runs",
    "map_row",
    "number",
    "row_layout",
    "row_model",
]

SHIPPED_TRAINING_RUNS = Path(__file__).parent / "data" / "training_runs.csv"
REQUIRED_COLUMNS = ("row_id", "model_name", "gpu_model", "n_gpus", "tp", "pp")
THROUGHPUT = ("paper_benchmark", "vendor_perf_table")

_PRESET_NAMES = {
    "llama2-7b": "llama2-7b",
    "llama2-13b": "llama2-13b",
    "llama2-70b": "llama2-70b",
    "llama3-8b": "llama3-8b",
    "llama3-70b": "llama3-70b",
    "llama3.1-405b": "llama3-405b",
    "gpt3-175b": "gpt3-175b",
    "gpt-3-175b": "gpt3-175b",
    "gpt-oss-120b": "gpt-oss-120b",
    "qwen3-30b-a3b": "qwen3-30b-a3b",
    "qwen3-235b-a22b": "qwen3-235b-a22b",
}

# Megatron-Bridge v0.2.0 (NeMo 25.11) H100 MoE recipes: scripts/performance/configs/*/
# workload_base_configs.py set expert_tensor_parallel_size=1 and, for Qwen3, moe_a2a_overlap=True.
_MEGATRON_BRIDGE_MOE = {
    "qwen3-30b-a3b": {"etp": 1, "moe_a2a_overlap": True},
    "qwen3-235b-a22b": {"etp": 1, "moe_a2a_overlap": True},
    "gpt-oss-120b": {"etp": 1, "moe_a2a_overlap": False},
}


# Row corrections, each with its reason. The Megatron-Bridge 25.11 H100 table gives GPT-OSS 120B
# MBS 4 and GA 2 with PP 4 and 64 GPUs, which cannot all hold (GBS 512 / (16 x 4) = 8); v0.2.0's
# H100 recipe (workload_base_configs.py: BASE_GPT_OSS_120B_CONFIG micro_batch_size=1, H100:
# pipeline_model_parallel_size=4) gives micro-batch 1.
_MEGATRON_BRIDGE_MICRO_BATCH = {
    "105": (
        1,
        "micro-batch 1 from Megatron-Bridge v0.2.0's H100 recipe: the table's MBS 4 and GA 2 "
        "contradict PP 4 with 64 GPUs and GBS 512",
    )
}


_SQUAD_DOCUMENT_TOKENS = 256
"""[inferred] Mean SQuAD v1.1 example (context paragraph of ~120 words, question and answer in the
SFT prompt template) in Llama 2 tokens. NeMo's own TFLOP/s for these rows count no attention core
(787 TFLOP/s / 10176 tokens/s = 77 GFLOP per token for Llama 2 13B, the GEMMs alone), consistent
with short documents."""


@dataclass(frozen=True, slots=True)
class MappedRun:
    """A published run the step model can time."""

    row_id: str
    name: str
    model: ModelConfig
    parallel: ParallelConfig
    system: str
    nodes: int
    metric: str  # tflops_per_gpu | step_time_s | tokens_per_s_per_gpu | time_to_train_min | ...
    measured: float
    convention: Convention
    flash_attention: bool
    fit_role: str
    notes: list[str] = field(default_factory=list)
    category: str = "paper_benchmark"
    gpu: GpuName | None = None
    tokens: float = 0.0  # whole runs: tokens trained on
    extra: dict[str, Any] = field(default_factory=dict)


def load_training_runs(path: Path | None = None) -> pd.DataFrame:
    """Read a runs CSV in the shared schema (the shipped copy by default)."""
    path = Path(path) if path is not None else SHIPPED_TRAINING_RUNS
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise MeasurementError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise MeasurementError(f"{path}: missing column(s) {missing}")
    return frame


def number(text: str) -> float | None:
    """A plain number cell (``2048``, ``8.0``, ``4K``), or None."""
    text = str(text).strip().replace(",", "")
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?(?:[eE]\d+)?)\s*([KkM]?)", text)
    if not match:
        return None
    scale = {"": 1, "K": 1024, "k": 1024, "M": 1024**2}[match.group(2)]
    return float(match.group(1)) * scale


def _int(row: pd.Series, column: str) -> int | None:
    value = number(row.get(column, ""))
    return None if value is None else round(value)


def _preset(name: str) -> str | None:
    text = name.lower().replace(" ", "-").replace("_", "-")
    for key, preset in _PRESET_NAMES.items():
        if re.match(rf"{re.escape(key)}(?![0-9.])", text):
            return preset
    return None


def row_model(row: pd.Series, notes: list[str]) -> ModelConfig:
    """The model a row trains: its stated dimensions, or a preset matched by name."""
    name = str(row["model_name"])
    layers, hidden, heads = _int(row, "n_layers"), _int(row, "hidden_size"), _int(row, "n_heads")
    preset = _preset(name)
    if layers is None or hidden is None or heads is None:
        if preset is None:
            raise MeasurementError("model dimensions are not given and no preset matches")
        notes.append(f"dimensions from preset {preset}")
        return load_model(preset)
    if preset is not None and load_model(preset).moe is not None:
        return load_model(preset)
    ffn = _int(row, "ffn_size")
    kv = _int(row, "n_kv_heads") or heads
    vocab = _int(row, "vocab") or 51200
    mlp = "gelu"
    if preset is not None:
        base = load_model(preset)
        ffn, mlp, vocab = ffn or base.ffn, base.mlp, max(vocab, base.vocab)
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
    # NeMo's long-sequence tables (2025) and Megatron-Bridge count attention causally (half the
    # core); the 24.07 summary and Megatron-LM 2024 count it in full (shared/data/README.md).
    causal = "performance_long_sequence" in source or "Megatron-Bridge" in source
    return "model-causal" if causal else "model"


def _virtual_stages(row: pd.Series, model: ModelConfig, pp: int, notes: list[str]) -> int:
    vpp = _int(row, "vpp")
    if vpp is not None or pp == 1:
        return vpp or 1
    if (model.layers // pp) % 2 == 0 and model.layers % pp == 0:
        notes.append("interleaved schedule with 2 virtual stages (v not stated)")
        return 2
    notes.append("no interleaving (v not stated and 2 does not divide the layers per stage)")
    return 1


def _pipeline_split(model: ModelConfig, pp: int, vpp: int, notes: list[str]) -> dict[str, bool]:
    if model.layers % (pp * vpp) == 0 or (model.layers + 2) % (pp * vpp):
        return {}
    notes.append("embedding and loss counted as layers in the pipeline split (Megatron-Bridge)")
    return {"pp_embedding_in_split": True, "pp_loss_in_split": True}


def row_layout(row: pd.Series, model: ModelConfig, notes: list[str]) -> tuple[ParallelConfig, int]:
    """The parallel layout a row states (defaults noted), and its GPU count."""
    name = str(row["model_name"])
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
    micro = _int(row, "micro_batch")
    recipe_micro = _MEGATRON_BRIDGE_MICRO_BATCH.get(str(row["row_id"]))
    if recipe_micro is not None:
        notes.append(recipe_micro[1])
        micro = recipe_micro[0]
    if micro is None:
        micro = 1
        notes.append("micro-batch 1 (not stated)")
    vpp = _virtual_stages(row, model, pp, notes)
    source = str(row.get("source_url", ""))
    note = str(row.get("source_note", ""))
    paper_2021_22 = "2104.04473" in source or "2205.05198" in source or "Korthikanti" in name
    recompute_text = str(row.get("activation_recompute", "")).lower()
    if "remateriali" in recompute_text:
        recompute_text = "full"
    recompute = "full" if "full" in recompute_text else "none"
    recompute = "selective" if "selective" in recompute_text else recompute
    sequence_parallel = (not paper_2021_22) or "seq" in name.lower()
    overlap = "--tp-comm-overlap" in note or "NeMo" in note or "nemo" in source.lower()
    precision, precision_note = parse_precision(str(row.get("precision", "")))
    if precision_note:
        notes.append(precision_note)
    zero_text = f"{row.get('zero_stage_fsdp', '')} {name}".lower()
    zero = 3 if ("zero-3" in zero_text or "fsdp sharding" in zero_text) else 1
    zero = 0 if paper_2021_22 and zero == 1 else zero
    packing: dict[str, Any] = {}
    if "squad packed" in name.lower():
        packing["packed_document_tokens"] = _SQUAD_DOCUMENT_TOKENS
        notes.append(
            f"SQuAD examples packed into each sequence, attention within ~{_SQUAD_DOCUMENT_TOKENS}"
            "-token documents [inferred]"
        )
    moe: dict[str, Any] = {}
    if model.moe is not None:
        moe = dict(_MEGATRON_BRIDGE_MOE.get(model.id, {"etp": 1}))
        notes.append(
            f"etp 1, a2a overlap {'on' if moe['moe_a2a_overlap'] else 'off'} "
            "(Megatron-Bridge v0.2.0 recipe); balanced dropless routing (force-balanced)"
            if "moe_a2a_overlap" in moe
            else "etp 1 (not stated)"
        )
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
            seq_len=_int(row, "seq_len") or model.seq_len,
            sequence_parallel=sequence_parallel,
            zero_stage=zero,
            recompute=cast(Recompute, recompute),
            precision=cast(Precision, precision),
            tp_comm_overlap=overlap,
            # Megatron-LM of April 2021 ran the backward TP all-reduce blocking (async since
            # September 2021, commit 16c90445e7)
            tp_async_backward="2104.04473" not in source,
            **{**_pipeline_split(model, pp, vpp, notes), **moe, **packing},
        )
    except InterconnectSimError as exc:
        raise MeasurementError(str(exc)) from None
    return parallel, gpus


def _metric(row: pd.Series) -> tuple[str, float]:
    for column in ("tokens_per_s_per_gpu", "tflops_per_gpu", "step_time_s"):
        value = number(row.get(column, ""))
        if value is not None:
            return column, value
    raise MeasurementError("no tokens/s, TFLOP/s or step time to compare with")


def map_row(row: pd.Series) -> MappedRun:
    """Map one published row, or raise :class:`MeasurementError` saying why it cannot be."""
    category = str(row.get("category", ""))
    if category in ("mlperf_training", "full_training_run"):
        from interconnect_sim.validation.whole_runs import map_whole_run

        return map_whole_run(row)
    if category not in THROUGHPUT:
        raise MeasurementError(f"category {category!r} is not a measured benchmark")
    notes: list[str] = []
    name = str(row["model_name"])
    if "lora" in name.lower():
        raise MeasurementError("LoRA fine-tuning: adapter rank and targets not stated")
    gpu = parse_gpu(str(row["gpu_model"]))
    if gpu.note:
        notes.append(gpu.note)
    model = row_model(row, notes)
    parallel, gpus = row_layout(row, model, notes)
    metric, measured = _metric(row)
    source = str(row.get("source_url", ""))
    note = str(row.get("source_note", ""))
    assert gpu.system is not None
    return MappedRun(
        row_id=str(row["row_id"]),
        name=name,
        model=model,
        parallel=parallel,
        system=gpu.system,
        nodes=max(1, math.ceil(gpus / 8)),
        metric=metric,
        measured=measured,
        convention=_convention(str(row.get("tflops_basis", "")), note + " " + source),
        flash_attention=not ("2104.04473" in source or "2205.05198" in source),
        fit_role="fit" if is_fit_row(name, source) else "holdout",
        notes=notes,
        category=category,
        gpu=gpu,
    )


def is_fit_row(name: str, source: str) -> bool:
    """Weak-scaling tables (Narayanan 2021 Table 1 on A100, Megatron-Core on H100) and NeMo 24.07
    pre-training fit the GEMM efficiencies and memory traffic; Megatron-Bridge 25.11's Llama 3 8B
    and 70B rows the FP8 current-scaling efficiency, its Qwen3 30B-A3B row (the most
    routing-bound MoE row) the MoE routing time. The rest is held out (Korthikanti 2022, ZeRO-3
    comparisons, fine-tuning, long context, the other Megatron-Bridge rows, MLPerf, whole
    runs)."""
    lowered = name.lower()
    if "weak scaling" in lowered:
        return True
    if "Megatron-Bridge 25.11" in name and lowered.startswith(
        ("qwen3_30b", "llama3_8b", "llama3_70b")
    ):
        return True
    return "performance_summary.md" in source and "pretraining" in lowered


def describe_failure(row: pd.Series, error: Exception) -> dict[str, Any]:
    """A row that could not be mapped, and why."""
    return {
        "row_id": str(row["row_id"]),
        "model": str(row["model_name"]),
        "category": str(row.get("category", "")),
        "reason": str(error),
    }
