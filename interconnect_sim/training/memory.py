"""GPU memory of a training configuration, per pipeline rank, by the published formulas.

* **Model states** (Rajbhandari et al. 2020, ZeRO, Section 3.1; Megatron-LM's
  ``docs/distrib_optimizer.md``): 2 bytes of BF16 parameters, 2 (or 4 with FP32 accumulation)
  of gradients and 12 of optimizer state (FP32 master copy, Adam moments) per parameter. ZeRO
  stage 1 (Megatron's distributed optimizer) shards the optimizer state over the data-parallel
  replicas, stage 2 also the gradients, stage 3 (FSDP) also the parameters. Weights every token
  uses are divided by ``tp`` and replicated over ``dp x cp``; routed experts are divided by
  ``ep x etp`` and replicated over the expert-data-parallel group (:mod:`.moe`), which is what
  their sharding runs over. LoRA keeps the frozen base in BF16 only, with states for adapters.
* **Activations** (Korthikanti et al. 2022, Section 4): per layer and micro-batch
  ``s b h (34 + 5 a s / h)`` bytes for a GPT layer with 16-bit activations, divided by ``t`` with
  tensor + sequence parallelism; selective recompute and flash attention drop the score term;
  full recompute keeps each layer's input, ``2 s b h``. The terms are derived for any attention
  (GQA, MLA), gated MLPs, MoE (``k`` routed copies of each token) and models without dropout in
  :func:`layer_activation_bytes`, as Megatron-Core with Transformer Engine saves them: per layer
  the two norm inputs (BF16), the QKV, FC1 and FC2 GEMM inputs (Transformer Engine keeps the
  quantised copy in FP8 training, one byte a value), flash attention's Q, K, V and output
  (BF16; in FP8 the output projection keeps an FP8 copy beside it) and the FC1 output the
  activation function needs (BF16). Each rank holds the chunk-passes its schedule has in flight
  (:func:`~interconnect_sim.training.pipeline.in_flight_chunks`); the last stage also holds one
  micro-batch of FP32 logits (or the FP32 logit gradients of Transformer Engine's fused
  cross-entropy, the same size) for the loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig, gemm_input_bytes
from interconnect_sim.training.pipeline import Chunk, in_flight_chunks, stage_chunks

__all__ = [
    "MEMORY_UNCERTAINTY",
    "MemoryEstimate",
    "activation_bytes_per_layer",
    "chunk_parameters",
    "estimate_memory",
    "fits_memory",
    "layer_activation_bytes",
    "lora_parameters",
    "model_state_bytes",
    "shortfall_message",
    "stage_memory",
]

OPTIMIZER_BYTES_PER_PARAMETER = 12.0  # ZeRO's K for mixed-precision Adam
MEMORY_UNCERTAINTY = 0.15
"""How far above a GPU's capacity an estimate may be and still be reported as "may fit".

The count follows Megatron-Core with Transformer Engine term by term: the tensors each module
saves for backward (:func:`layer_activation_bytes`) and the chunk-passes its schedule keeps in
flight (:func:`~.pipeline.in_flight_chunks`, Megatron-Core's ``get_pp_rank_microbatches``);
no term is counted twice, so the band is not a correction of the count but room for stacks
leaner than Megatron-Core. The case that sets it: Meta's Llama 3 405B layout (TP 8, PP 16 with
8 virtual stages, sequence 8192, no activation recompute) ran on 80 GB H100s (Llama 3 paper,
Section 3.3.2) with Meta's own pipeline schedule and allocator work, where this count gives
88.5 GB on the busiest rank with Megatron's distributed optimizer (11 % over), 82.2 GB with
the gradients sharded as Meta's FSDP does (``zero_stage = 2``, 3 % over). The paper does not
give the rest (its schedule's in-flight count, what it frees early), so the band is not
fitted and not narrowed."""
_LOGIT_BYTES = 4.0  # Megatron's vocab-parallel cross entropy works on FP32 logits
ACTIVATION_BYTES = 2.0  # BF16 tensors kept for backward (norm inputs, flash attention's, FC1's)


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """Bytes per GPU (the most loaded pipeline rank, or the rank named)."""

    parameters_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    rank: int = 0

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
    parameters: float, data_parallel: int, zero_stage: int, gradient_bytes: float = 2.0
) -> tuple[float, float, float]:
    """(parameters, gradients, optimizer) bytes for ``parameters`` held by one model replica.

    Examples
    --------
    ZeRO's Figure 1: 7.5B parameters on 64 data-parallel GPUs, stage 1 = 31.4 GB:

    >>> round(sum(model_state_bytes(7.5e9, 64, 1)) / 1e9, 1)
    31.4
    """
    p = 2.0 * parameters
    g = gradient_bytes * parameters
    o = OPTIMIZER_BYTES_PER_PARAMETER * parameters
    if zero_stage >= 1:
        o /= data_parallel
    if zero_stage >= 2:
        g /= data_parallel
    if zero_stage >= 3:
        p /= data_parallel
    return p, g, o


def lora_parameters(
    model: ModelConfig, rank: int, layers: Iterable[int], *, mlp: bool = False
) -> float:
    """LoRA adapter weights of ``layers``, ``rank x (inputs + outputs)`` per adapted projection:
    QKV and the attention output (MLPerf's reference), with ``mlp`` FC1 and FC2 too (routed
    experts are not adapted).

    Examples
    --------
    Llama 2 70B, rank 16, attention only: 16 x (8192 + 10240) + 16 x (8192 + 8192) per layer.

    >>> from interconnect_sim.training.model import load_model
    >>> lora_parameters(load_model("llama2-70b"), 16, range(80)) == 80 * 16 * (18432 + 16384)
    True
    """
    if rank == 0:
        return 0.0
    h, d = model.hidden, model.dim_head
    q, kv = model.heads * d, model.kv_heads * d
    gated = 2 if model.mlp == "swiglu" else 1
    total = 0.0
    for layer in layers:
        ffn = model.ffn if mlp and not model.is_moe_layer(layer) else 0
        adapters_mlp = rank * (h + gated * ffn) + rank * (ffn + h) if ffn else 0.0
        total += rank * (h + q + 2 * kv) + rank * (q + h) + adapters_mlp
    return total


def chunk_parameters(model: ModelConfig, chunk: Chunk, pipeline_ranks: int) -> tuple[float, float]:
    """(weights every token uses, routed-expert weights) of one chunk, whole (not yet divided
    by tensor or expert parallelism)."""
    dense = experts = 0.0
    for layer in chunk.layers:
        d, e = model.layer_parameters(layer)
        dense, experts = dense + d, experts + e
    if chunk.embedding:
        dense += model.embedding_parameters()
    if chunk.loss:
        if not model.tied_embeddings or pipeline_ranks > 1:
            dense += model.embedding_parameters()  # output layer (a copy when tied)
        dense += model.hidden  # final norm
        mtp_dense, mtp_experts = model.mtp_parameters()
        dense, experts = dense + mtp_dense, experts + mtp_experts
    return dense, experts


def _rank_states(
    model: ModelConfig, parallel: ParallelConfig, chunks: list[Chunk]
) -> tuple[float, float, float]:
    p = parallel
    dense = experts = 0.0
    layers: list[int] = []
    for chunk in chunks:
        d, e = chunk_parameters(model, chunk, p.pp)
        dense, experts = dense + d, experts + e
        layers.extend(chunk.layers)
    dense_gpu, experts_gpu = dense / p.tp, experts / (p.ep * p.expert_tp)
    grad_bytes = 4.0 if p.fp32_gradients else 2.0
    if p.lora_rank:
        adapters = lora_parameters(model, p.lora_rank, layers, mlp=p.lora_mlp)
        frozen = 2.0 * (dense_gpu + experts_gpu)
        ap, ag, ao = model_state_bytes(adapters / p.tp, p.dp * p.cp, p.zero_stage, grad_bytes)
        return frozen + ap, ag, ao
    dp_, dg, do = model_state_bytes(dense_gpu, p.dp * p.cp, p.zero_stage, grad_bytes)
    ep_, eg, eo = model_state_bytes(experts_gpu, p.expert_dp, p.zero_stage, grad_bytes)
    return dp_ + ep_, dg + eg, do + eo


def _attention_activation(model: ModelConfig, precision: str) -> float:
    """Bytes per token kept by one attention block for backward, flash attention, no dropout:
    the QKV GEMM's input (the norm's output), Q, K and V and the attention output O (flash
    attention's saved tensors, BF16), and the output projection's input. In BF16 that input
    is O itself; in FP8 Transformer Engine quantises the GEMM inputs and keeps the quantised
    copies (one byte a value), so the QKV input shrinks and the projection adds an FP8 copy of
    O beside the BF16 one flash attention keeps."""
    h = model.hidden
    gemm = gemm_input_bytes(precision)
    copy = gemm if gemm < ACTIVATION_BYTES else 0.0
    if model.mla is not None:
        a = model.mla
        q = model.heads * (a.qk_nope_head_dim + a.qk_rope_head_dim)
        v = model.heads * a.v_head_dim
        latents = 2 * a.q_lora_rank + 2 * (a.kv_lora_rank + a.qk_rope_head_dim)  # in and normed
        return gemm * h + ACTIVATION_BYTES * (latents + q + q + v + v) + copy * v
    q = model.heads * model.dim_head
    kv = model.kv_heads * model.dim_head
    return gemm * h + ACTIVATION_BYTES * (q + 2 * kv + q) + copy * q


def _mlp_activation(model: ModelConfig, layer: int, parallel: ParallelConfig) -> float:
    """Bytes per token (of the GPU's sequence-parallel shard) kept by one FFN block: its input,
    the FC1 output (gate and up for SwiGLU; BF16, the activation function's input) and the
    activation output (FC2's input); the GEMM inputs in the training precision's stored width
    (:func:`.parallel.gemm_input_bytes`). For MoE, those of every routed copy plus the
    permuted inputs and expert outputs the combine needs; the router keeps the layer input in
    BF16."""
    h = model.hidden
    gated = 2 if model.mlp == "swiglu" else 1
    gemm = gemm_input_bytes(parallel.precision)

    def ffn(width: int) -> float:
        return ACTIVATION_BYTES * gated * width + gemm * width

    if not model.is_moe_layer(layer):
        return gemm * h + ffn(model.ffn)
    e = model.moe
    assert e is not None
    routed = e.top_k * parallel.moe_token_factor * (gemm * h + ffn(e.expert_ffn) + 2.0 * h)
    shared = e.shared_experts * ffn(e.shared_ffn)
    return 2.0 * h + routed + shared + 4.0 * e.experts


def layer_activation_bytes(
    model: ModelConfig, parallel: ParallelConfig, layer: int, *, flash_attention: bool = False
) -> float:
    """Activation bytes one GPU keeps for ``layer`` and one micro-batch (16-bit activations).

    For a GPT layer (GELU, ffn = 4h, multi-head attention, dropout) this is Korthikanti's
    ``s b h (34 + 5 a s / h)``: attention 11 s b h + 5 a s^2 b, MLP 19 s b h, norms 4 s b h.
    Without dropout the two ``s b h`` masks and the score-sized mask and dropout output go (the
    score term is ``2 a s^2 b``, the softmax output); flash attention and selective recompute
    never store scores.
    """
    s = parallel.seq_len / parallel.cp
    b, h, a = parallel.micro_batch, model.hidden, model.heads
    masks = 1.0 if model.has_dropout else 0.0
    tokens = s * b
    if parallel.recompute == "full":
        per_layer = 2 * tokens * h
    else:
        attention = tokens * (_attention_activation(model, parallel.precision) + masks * h)
        mlp = tokens * (_mlp_activation(model, layer, parallel) + masks * h)
        norms = 4 * tokens * h
        scores = (5 if model.has_dropout else 2) * a * s * s * b
        if parallel.recompute == "selective" or flash_attention:
            scores = 0.0
        per_layer = attention + mlp + norms + scores
    t = parallel.tp
    if parallel.sequence_parallel or t == 1:
        return per_layer / t
    if parallel.recompute == "full":
        return per_layer
    # Without sequence parallelism the norms, the block inputs and the dropout masks
    # (10 s b h with dropout) are replicated on every tensor-parallel rank (Korthikanti Eq. 2).
    replicated = (8 + 2 * masks) * tokens * h
    return replicated + (per_layer - replicated) / t


def activation_bytes_per_layer(
    model: ModelConfig, parallel: ParallelConfig, *, flash_attention: bool = False
) -> float:
    """:func:`layer_activation_bytes` of the model's last layer (a MoE layer in MoE models)."""
    return layer_activation_bytes(
        model, parallel, model.layers - 1, flash_attention=flash_attention
    )


def _chunk_activations(
    model: ModelConfig, parallel: ParallelConfig, chunk: Chunk, flash_attention: bool
) -> float:
    total = sum(
        layer_activation_bytes(model, parallel, layer, flash_attention=flash_attention)
        for layer in chunk.layers
    )
    if chunk.loss and model.mtp_layers:
        last = layer_activation_bytes(
            model, parallel, model.layers - 1, flash_attention=flash_attention
        )
        total += model.mtp_layers * last
    return total


def stage_memory(
    model: ModelConfig, parallel: ParallelConfig, *, flash_attention: bool = False
) -> list[MemoryEstimate]:
    """Memory per GPU of every pipeline rank."""
    p = parallel
    result = []
    for rank, chunks in enumerate(stage_chunks(model, p)):
        params, grads, optimizer = _rank_states(model, p, chunks)
        acts = [_chunk_activations(model, p, c, flash_attention) for c in chunks]
        in_flight = in_flight_chunks(p, rank)
        activations = sum(acts[(k // p.pp) % p.vpp] for k in range(in_flight))
        if any(c.loss for c in chunks):
            tokens = p.micro_batch * p.seq_len / p.cp
            activations += (1 + model.mtp_layers) * tokens * model.vocab * _LOGIT_BYTES / p.tp
        result.append(MemoryEstimate(params, grads, optimizer, activations, rank))
    return result


def shortfall_message(memory: MemoryEstimate, capacity_bytes: float, gpu_name: str) -> str:
    """One line: what the most loaded rank needs, part by part, and what the GPU has."""
    gb = 1e9
    return (
        f"does not fit: needs {memory.total_bytes / gb:.1f} GB per GPU on pipeline rank "
        f"{memory.rank} (parameters {memory.parameters_bytes / gb:.1f}, gradients "
        f"{memory.gradients_bytes / gb:.1f}, optimizer {memory.optimizer_bytes / gb:.1f}, "
        f"activations {memory.activations_bytes / gb:.1f}); {gpu_name} has "
        f"{capacity_bytes / gb:.0f} GB. Raise tp/pp, use ZeRO or recompute."
    )


def fits_memory(memory: MemoryEstimate, capacity_bytes: float) -> str:
    """``"yes"``, ``"maybe"`` (within :data:`MEMORY_UNCERTAINTY` above capacity) or ``"no"``."""
    if memory.total_bytes <= capacity_bytes:
        return "yes"
    return "maybe" if memory.total_bytes <= capacity_bytes * (1 + MEMORY_UNCERTAINTY) else "no"


def estimate_memory(
    model: ModelConfig, parallel: ParallelConfig, *, flash_attention: bool = False
) -> MemoryEstimate:
    """Memory per GPU of the most loaded pipeline rank."""
    return max(
        stage_memory(model, parallel, flash_attention=flash_attention),
        key=lambda m: m.total_bytes,
    )
