"""FLOPs of a transformer step, and the conventions papers and vendors count them with.

Per token, one forward pass of layer l costs (multiply-add = 2 FLOPs; GEMMs only):

* attention projections: 2 x (attention weights)  [Q, K, V (GQA-aware), output; MLA: its ranks]
* attention core: 4 x s x (heads x head_dim) for full attention (QK^T and AV); half for causal
* FFN: 2 x matrices x hidden x ffn (MoE: top_k + shared experts, plus the router)

plus the logits, 2 x hidden x vocab, once, and DeepSeek's multi-token-prediction modules (one
more block, a 2h x h projection and the logits again per depth). The backward pass costs twice
the forward.

Conventions (shared/data/README.md lists who uses which):

``model``      3 passes, full attention (Megatron-LM 2024, NeMo 24.07, Korthikanti MFU): for
               GPT-style models 72 B s L h^2 (1 + s/6h + V/12Lh).
``narayanan``  4 passes (full recompute forward counted), full attention: 96 B s L h^2 (1 +
               s/6h + V/16Lh) (Narayanan et al. 2021, Eq. 3).
``hardware``   what the GPUs execute: 3 passes plus the recompute (full: a 4th forward of the
               layers; selective: the attention core again), causal attention where kernels
               skip it, sliding windows where the model has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from interconnect_sim.training.model import ModelConfig

__all__ = [
    "Convention",
    "LayerFlops",
    "flops_per_token",
    "forward_flops_per_token",
    "layer_flops",
    "logits_flops_per_token",
    "mtp_flops_per_token",
]

Convention = Literal["model", "model-causal", "narayanan", "hardware"]


def _attention_core_per_token(model: ModelConfig, seq_len: int) -> float:
    """Forward FLOPs of QK^T and AV per token, full (non-causal) attention over ``seq_len``."""
    if model.mla is not None:
        qk = model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim
        return 2.0 * seq_len * model.heads * (qk + model.mla.v_head_dim)
    return 4.0 * seq_len * model.heads * model.dim_head


@dataclass(frozen=True, slots=True)
class LayerFlops:
    """Forward FLOPs per token of one transformer layer, by the unit that runs them."""

    dense_gemm: float  # attention projections, dense FFN or shared experts, router
    expert_gemm: float  # routed experts a token visits (top-k)
    attention_core: float  # QK^T and AV

    @property
    def total(self) -> float:
        """All forward FLOPs of the layer."""
        return self.dense_gemm + self.expert_gemm + self.attention_core


def layer_flops(
    model: ModelConfig,
    layer: int,
    seq_len: int,
    *,
    causal: bool = False,
    local_attention: bool = False,
    document_tokens: int | None = None,
) -> LayerFlops:
    """Forward FLOPs per token of ``layer``.

    ``causal`` counts half of the attention core (kernels skip masked blocks); ``local_attention``
    limits it to the layer's sliding window (what the kernels compute; FLOP conventions count the
    whole sequence on every layer, as Megatron-Bridge does); ``document_tokens`` to the documents
    packed into a sequence (attention masked to each document).
    """
    if document_tokens is not None:
        seq_len = min(seq_len, document_tokens)
    span = model.attention_span(layer, seq_len) if local_attention else seq_len
    windowed = span < seq_len
    core = _attention_core_per_token(model, span)
    if causal and not windowed:
        core *= 0.5
    dense = 2.0 * (model.attention_parameters() + model.dense_ffn_parameters(layer))
    experts = 2.0 * model.expert_parameters(active=True) if model.is_moe_layer(layer) else 0.0
    return LayerFlops(dense, experts, core)


def logits_flops_per_token(model: ModelConfig) -> float:
    """Forward FLOPs of the output projection onto the vocabulary."""
    return 2.0 * model.hidden * model.vocab


def mtp_flops_per_token(model: ModelConfig, seq_len: int, *, causal: bool = False) -> float:
    """Forward FLOPs of the multi-token-prediction modules: per depth a block like the last
    layer, the 2h x h projection and another pass of the output head."""
    if not model.mtp_layers:
        return 0.0
    block = layer_flops(model, model.layers - 1, seq_len, causal=causal).total
    projection = 2.0 * 2 * model.hidden * model.hidden
    return model.mtp_layers * (block + projection + logits_flops_per_token(model))


def forward_flops_per_token(
    model: ModelConfig,
    seq_len: int,
    *,
    causal: bool = False,
    layers: range | None = None,
    logits: bool = True,
) -> float:
    """Forward FLOPs per token (GEMMs and attention core).

    Parameters
    ----------
    model : ModelConfig
        The architecture.
    seq_len : int
        Sequence length (attention core grows with it).
    causal : bool
        Count half of the attention core (kernels that skip masked blocks).
    layers : range, optional
        Only these layers (a pipeline stage); default all.
    logits : bool
        Include the output projection onto the vocabulary (and the multi-token-prediction
        modules, which share it).

    Examples
    --------
    >>> from interconnect_sim.training.model import ModelConfig
    >>> gpt = ModelConfig(id="g", name="g", layers=1, hidden=64, heads=4, kv_heads=4,
    ...                   ffn=256, vocab=100, seq_len=32, mlp="gelu")
    >>> forward_flops_per_token(gpt, 32, logits=False) == 24 * 64**2 + 4 * 32 * 64
    True
    """
    chosen = layers if layers is not None else range(model.layers)
    total = sum(layer_flops(model, layer, seq_len, causal=causal).total for layer in chosen)
    if logits:
        total += logits_flops_per_token(model) + mtp_flops_per_token(model, seq_len, causal=causal)
    return total


def flops_per_token(
    model: ModelConfig, seq_len: int, convention: Convention = "model", *, recompute: str = "none"
) -> float:
    """Training FLOPs per token under a counting convention.

    Parameters
    ----------
    convention : {"model", "model-causal", "narayanan", "hardware"}
        See the module docstring.
    recompute : {"none", "selective", "full"}
        Only used by the ``hardware`` convention.

    Examples
    --------
    GPT-3 175B at s = 2048, Korthikanti's 72 B s L h^2 (1 + s/6h + V/12Lh):

    >>> from interconnect_sim.training.model import ModelConfig
    >>> m = ModelConfig(id="g", name="g", layers=96, hidden=12288, heads=96, kv_heads=96,
    ...                 ffn=4 * 12288, vocab=51200, seq_len=2048, mlp="gelu")
    >>> paper = 72 * 96 * 12288**2 * (1 + 2048 / (6 * 12288) + 51200 / (12 * 12288 * 96))
    >>> abs(flops_per_token(m, 2048) / paper - 1) < 1e-12
    True
    """
    if convention == "model":
        return 3.0 * forward_flops_per_token(model, seq_len)
    if convention == "model-causal":
        return 3.0 * forward_flops_per_token(model, seq_len, causal=True)
    if convention == "narayanan":
        # Eq. 3 counts the recompute forward of the transformer layers, not of the logits.
        layers = forward_flops_per_token(model, seq_len, logits=False)
        return 4.0 * layers + 3.0 * 2.0 * model.hidden * model.vocab
    per_layer = [
        layer_flops(model, layer, seq_len, causal=True, local_attention=True)
        for layer in range(model.layers)
    ]
    layers_fwd = sum(f.total for f in per_layer)
    head = logits_flops_per_token(model) + mtp_flops_per_token(model, seq_len, causal=True)
    if recompute == "full":
        return 4.0 * layers_fwd + 3.0 * head
    if recompute == "selective":
        return 3.0 * (layers_fwd + head) + sum(f.attention_core for f in per_layer)
    return 3.0 * (layers_fwd + head)
