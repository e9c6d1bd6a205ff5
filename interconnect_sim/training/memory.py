"""GPU memory of a training configuration, by the published formulas.

* **Model states** (Rajbhandari et al. 2020, ZeRO, Section 3.1 and Figure 1): mixed-precision Adam
  keeps 2 bytes of parameters, 2 of gradients and K = 12 of optimizer state (fp32 master copy,
  momentum, variance) per parameter; ZeRO stage 1 shards the optimizer state over the
  data-parallel group, stage 2 also the gradients, stage 3 (FSDP) also the parameters. Tensor and
  pipeline parallelism divide the parameters a GPU holds; expert parallelism the experts.
* **Activations** (Korthikanti et al. 2022, Section 4): per layer and micro-batch
  ``s b h (34 + 5 a s / h)`` bytes with 16-bit activations, divided by t with tensor + sequence
  parallelism; selective recompute drops the ``5 a s / h`` attention term; full recompute keeps
  only each layer's input, ``2 s b h``. The first pipeline stage holds ``p`` micro-batches in
  flight under 1F1B, so the total is the per-layer figure times the layer count, times
  ``1 + (p - 1) / (p v)`` when interleaved. SwiGLU and grouped-query attention change the
  per-layer count (the ``34``), as derived in ``activation_bytes_per_layer``.
"""

from __future__ import annotations

from dataclasses import dataclass

from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig

__all__ = ["MemoryEstimate", "activation_bytes_per_layer", "estimate_memory", "model_state_bytes"]

OPTIMIZER_BYTES_PER_PARAMETER = 12.0  # ZeRO's K for mixed-precision Adam


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Bytes per GPU (the most loaded pipeline stage)."""

    parameters_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Sum of all parts."""
        return (
            self.parameters_bytes
            + self.gradients_bytes
            + self.optimizer_bytes
            + self.activations_bytes
        )


def model_state_bytes(
    parameters: float, data_parallel: int, zero_stage: int
) -> tuple[float, float, float]:
    """(parameters, gradients, optimizer) bytes for ``parameters`` held by one model replica.

    Examples
    --------
    ZeRO's Figure 1: 7.5B parameters on 64 data-parallel GPUs, stage 1 = 31.4 GB:

    >>> round(sum(model_state_bytes(7.5e9, 64, 1)) / 1e9, 1)
    31.4
    """
    p, g, o = 2.0 * parameters, 2.0 * parameters, OPTIMIZER_BYTES_PER_PARAMETER * parameters
    if zero_stage >= 1:
        o /= data_parallel
    if zero_stage >= 2:
        g /= data_parallel
    if zero_stage >= 3:
        p /= data_parallel
    return p, g, o


def activation_bytes_per_layer(
    model: ModelConfig, parallel: ParallelConfig, *, flash_attention: bool = False
) -> float:
    """Activation bytes one layer keeps for one micro-batch (16-bit activations).

    For a GPT layer (GELU, ffn = 4h, multi-head attention) this is Korthikanti's
    ``s b h (34 + 5 a s / h)``: attention 11 s b h + 5 a s^2 b, MLP 19 s b h, norms 4 s b h.
    SwiGLU keeps gate and up projections (2 x 2 s b f + 2 s b f + 3 s b h for the MLP) and GQA
    smaller keys and values. Flash attention never stores the ``5 a s^2 b`` scores (it keeps
    only per-row softmax statistics and recomputes the rest), as selective recompute does.
    """
    s = parallel.seq_len / parallel.cp
    b, h, a = parallel.micro_batch, model.hidden, model.heads
    kv = model.kv_heads * model.dim_head
    f = (
        model.ffn
        if model.moe is None
        else model.moe.expert_ffn * (model.moe.top_k + model.moe.shared_experts)
    )
    attention = s * b * (2 * h + 2 * h + 2 * 2 * kv + 2 * h + h)  # = 11 sbh for MHA
    scores = 5 * a * s * s * b
    gated = 2 if model.mlp == "swiglu" else 1
    mlp = s * b * (2 * h + 2 * f * gated + 2 * f + h)  # = 19 sbh for GELU with f = 4h
    norms = 4 * s * b * h
    if parallel.recompute == "full":
        per_layer = 2 * s * b * h
    elif parallel.recompute == "selective" or flash_attention:
        per_layer = attention + mlp + norms
    else:
        per_layer = attention + mlp + norms + scores
    t = parallel.tp
    if parallel.sequence_parallel:
        return per_layer / t
    if parallel.recompute == "full":
        return per_layer
    # Without sequence parallelism the norms, the block inputs and the two dropout masks
    # (10 s b h) are replicated on every tensor-parallel rank (Korthikanti Eq. 2).
    replicated = 10 * s * b * h
    return replicated + (per_layer - replicated) / t


def estimate_memory(
    model: ModelConfig, parallel: ParallelConfig, *, flash_attention: bool = False
) -> MemoryEstimate:
    """Memory per GPU of the first pipeline stage (the most loaded under 1F1B)."""
    dense_params = (
        model.parameters()
        - model.ffn_parameters()
        + (
            model.ffn_parameters()
            if model.moe is None
            else (model.layers - model.moe_layer_count())
            * model.mlp_matrices
            * model.hidden
            * model.ffn
        )
    )
    expert_params = (
        model.ffn_parameters()
        - (model.layers - model.moe_layer_count()) * model.mlp_matrices * model.hidden * model.ffn
        if model.moe is not None
        else 0.0
    )
    per_gpu = dense_params / (parallel.tp * parallel.pp) + expert_params / (
        parallel.tp * parallel.pp * parallel.ep
    )
    shard = parallel.dp * parallel.cp
    params, grads, optimizer = model_state_bytes(per_gpu, shard, parallel.zero_stage)
    layers_per_stage = model.layers / parallel.pp
    in_flight = min(parallel.pp, parallel.microbatches)
    interleave = 1 + (parallel.pp - 1) / (parallel.pp * parallel.vpp) if parallel.vpp > 1 else 1
    activations = (
        activation_bytes_per_layer(model, parallel, flash_attention=flash_attention)
        * layers_per_stage
        * in_flight
        * interleave
    )
    return MemoryEstimate(params, grads, optimizer, activations)
