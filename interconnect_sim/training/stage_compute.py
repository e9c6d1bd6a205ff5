"""Compute time of one pipeline chunk for one micro-batch on one GPU.

Per micro-batch a GPU holds ``T = b s / cp`` tokens of its tensor-parallel group and runs:

* the GEMMs every token uses (attention projections, dense FFN or shared experts, router,
  the output layer on the last chunk), ``T x FLOPs / tp``, at the dense tensor peak of the
  training precision times a fitted achievable fraction (:mod:`.compute`);
* the routed-expert GEMMs of the tokens its experts receive (:func:`.moe.routed_tokens_per_gpu`:
  ``k`` copies of its ``T / tp`` tokens, times the busiest rank's load factor), at the same rate;
* the attention core (QK^T and AV, causal halving with flash attention, sliding windows) in BF16;
* memory-bound work (norms, residuals, activations, RoPE, casts) from HBM bandwidth: a fitted
  number of bytes per token per layer in units of the hidden size;
* for MoE layers, the routing work of every routed token copy (permutation, sorting, the host
  synchronisation of dropless variable-sized expert batches): a fitted time per copy, a third of
  it in the forward pass.

Backward costs twice the forward (data and weight gradients); full recompute adds a forward,
selective recompute the attention core. LoRA freezes the base weights: their weight-gradient
GEMMs are not run, so backward GEMMs cost one forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs.model import GpuSpec
from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.flops import layer_flops, logits_flops_per_token, mtp_flops_per_token
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.moe import routed_tokens_per_gpu
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk

__all__ = ["ChunkCompute", "GpuRates", "chunk_compute", "gpu_rates"]


@dataclass(frozen=True, slots=True)
class GpuRates:
    """What one GPU sustains: GEMMs in the training precision, attention in BF16, HBM."""

    gemm_flops_per_s: float
    attention_flops_per_s: float
    memory_bytes_per_s: float
    peak_flops_per_s: float  # dense tensor peak of the training precision (MFU's denominator)
    notes: tuple[str, ...] = ()


_TENSOR_FORMAT = {
    "bf16": "bf16",
    "fp8": "fp8",
    "fp8-delayed": "fp8",
    "fp8-current": "fp8",
    "fp8-block": "fp8",
    "mxfp8": "mxfp8",
    "nvfp4": "nvfp4",
}


def _peak(gpu: GpuSpec, precision: str) -> float:
    """Dense tensor rate of the GEMMs of a training precision (the datasheet's)."""
    rate = gpu.dense_flops_per_s(_TENSOR_FORMAT[precision])  # type: ignore[arg-type]
    if not rate:
        raise ScenarioError(
            f"{gpu.name} has no {precision.upper()} tensor cores (its formats: "
            f"{', '.join(_formats(gpu))}); choose another --precision"
        )
    return rate


def _formats(gpu: GpuSpec) -> list[str]:
    return [p for p, f in _TENSOR_FORMAT.items() if gpu.dense_flops_per_s(f)]  # type: ignore[arg-type]


def gpu_rates(
    gpu: GpuSpec, architecture_class: str, precision: str, compute: ComputeCalibration
) -> GpuRates:
    """Sustained rates of ``gpu`` training in ``precision``.

    Raises
    ------
    ScenarioError
        The GPU has no tensor cores for the precision (FP8 on Ampere, FP4 before Blackwell).
    """
    peak = _peak(gpu, precision)
    gemm_eff, gemm_note = compute.lookup(architecture_class, precision)
    attn_eff, attn_note = compute.lookup(architecture_class, "bf16")
    bf16 = _peak(gpu, "bf16")
    notes = tuple(dict.fromkeys(n for n in (gemm_note, attn_note) if n))
    return GpuRates(peak * gemm_eff, bf16 * attn_eff, gpu.memory_bandwidth_bytes_per_s, peak, notes)


@dataclass(frozen=True, slots=True)
class ChunkCompute:
    """Seconds of one chunk's forward pass for one micro-batch, by unit, and its backward."""

    gemm_s: float
    attention_s: float
    memory_s: float
    backward_s: float

    @property
    def forward_s(self) -> float:
        """Forward time."""
        return self.gemm_s + self.attention_s + self.memory_s


def _forward_parts(
    model: ModelConfig, parallel: ParallelConfig, chunk: Chunk, *, flash_attention: bool
) -> tuple[float, float, float, float]:
    """(GEMM FLOPs, attention FLOPs, memory bytes, MoE routed copies) of one forward on one GPU."""
    p = parallel
    tokens = p.micro_batch * p.seq_len / p.cp
    routed = routed_tokens_per_gpu(model, p)
    gemm = attention = copies = 0.0
    for layer in chunk.layers:
        f = layer_flops(
            model,
            layer,
            p.seq_len,
            causal=flash_attention,
            local_attention=True,
            document_tokens=p.packed_document_tokens,
        )
        gemm += tokens * f.dense_gemm / p.tp
        attention += tokens * f.attention_core / p.tp
        if f.expert_gemm:
            assert model.moe is not None
            gemm += routed * f.expert_gemm / model.moe.top_k
            copies += routed
    if chunk.loss:
        head = logits_flops_per_token(model) + mtp_flops_per_token(
            model, p.seq_len, causal=flash_attention
        )
        gemm += tokens * head / p.tp
    hidden_layers = len(chunk.layers) + (model.mtp_layers if chunk.loss else 0)
    memory = hidden_layers * tokens * model.hidden / p.tp
    return gemm, attention, memory, copies


def chunk_compute(
    model: ModelConfig,
    parallel: ParallelConfig,
    chunk: Chunk,
    rates: GpuRates,
    compute: ComputeCalibration,
    *,
    flash_attention: bool = True,
) -> ChunkCompute:
    """Forward and backward seconds of ``chunk`` for one micro-batch (see module doc)."""
    gemm_flops, attn_flops, token_hidden, copies = _forward_parts(
        model, parallel, chunk, flash_attention=flash_attention
    )
    gemm = gemm_flops / rates.gemm_flops_per_s
    attention = attn_flops / rates.attention_flops_per_s
    traffic = compute.memory_bytes_per_token_layer_hidden * token_hidden
    routing = compute.moe_routing_s_per_copy * copies / 3.0
    memory = traffic / rates.memory_bytes_per_s + routing
    forward = gemm + attention + memory
    backward = (gemm if parallel.lora_rank else 2.0 * gemm) + 2.0 * (attention + memory)
    if parallel.recompute == "full":
        backward += forward
    elif parallel.recompute == "selective":
        backward += attention
    return ChunkCompute(gemm, attention, memory, backward)
