"""FLOPs of a transformer step, and the conventions papers and vendors count them with.

Per token, one forward pass of layer l costs (multiply-add = 2 FLOPs; GEMMs only):

* attention projections: 2 x (attention weights)  [Q, K, V (GQA-aware), output; MLA: its ranks]
* attention core: 4 x s x (heads x head_dim) for full attention (QK^T and AV); half for causal
* FFN: 2 x matrices x hidden x ffn (MoE: top_k + shared experts, plus the router)

plus the logits, 2 x hidden x vocab, once. The backward pass costs twice the forward.

Conventions (shared/data/README.md lists who uses which):

``model``      3 passes, full attention (Megatron-LM 2024, NeMo 24.07, Korthikanti MFU): for
               GPT-style models 72 B s L h^2 (1 + s/6h + V/12Lh).
``narayanan``  4 passes (full recompute forward counted), full attention: 96 B s L h^2 (1 +
               s/6h + V/16Lh) (Narayanan et al. 2021, Eq. 3).
``hardware``   what the GPUs execute: 3 passes plus the recompute (full: a 4th forward;
               selective: the attention core again), causal attention where kernels skip it.
"""

from __future__ import annotations

from typing import Literal

from interconnect_sim.training.model import ModelConfig

__all__ = ["Convention", "flops_per_token", "forward_flops_per_token"]

Convention = Literal["model", "model-causal", "narayanan", "hardware"]


def _attention_core_per_token(model: ModelConfig, seq_len: int) -> float:
    """Forward FLOPs of QK^T and AV per token, full (non-causal) attention."""
    if model.mla is not None:
        qk = model.mla.qk_nope_head_dim + model.mla.qk_rope_head_dim
        return 2.0 * seq_len * model.heads * (qk + model.mla.v_head_dim)
    return 4.0 * seq_len * model.heads * model.dim_head


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
        Include the output projection onto the vocabulary.

    Examples
    --------
    >>> from interconnect_sim.training.model import ModelConfig
    >>> gpt = ModelConfig(id="g", name="g", layers=1, hidden=64, heads=4, kv_heads=4,
    ...                   ffn=256, vocab=100, seq_len=32, mlp="gelu")
    >>> forward_flops_per_token(gpt, 32, logits=False) == 24 * 64**2 + 4 * 32 * 64
    True
    """
    h = model.hidden
    core = _attention_core_per_token(model, seq_len) * (0.5 if causal else 1.0)
    total = 0.0
    for layer in layers if layers is not None else range(model.layers):
        total += 2.0 * model.attention_parameters() + core
        if model.is_moe_layer(layer):
            e = model.moe
            assert e is not None
            active = e.top_k + e.shared_experts
            total += 2.0 * model.mlp_matrices * h * e.expert_ffn * active + 2.0 * h * e.experts
        else:
            total += 2.0 * model.mlp_matrices * h * model.ffn
    if logits:
        total += 2.0 * h * model.vocab
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
    fwd = forward_flops_per_token(model, seq_len, causal=True)
    if recompute == "full":
        return 4.0 * fwd - 2.0 * model.hidden * model.vocab
    if recompute == "selective":
        return 3.0 * fwd + model.layers * _attention_core_per_token(model, seq_len) * 0.5
    return 3.0 * fwd
