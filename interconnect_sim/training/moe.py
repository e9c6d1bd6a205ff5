"""Mixture-of-experts as Megatron-Core runs it: who holds which experts, what each GPU sends.

Within a pipeline stage the ``tp x cp x dp`` GPUs are folded for the MoE layers into expert
tensor parallel (``etp``), expert parallel (``ep``) and expert data parallel groups. Each GPU
routes its own tokens (sequence parallelism splits a micro-batch's ``b s / cp`` tokens over the
``tp`` ranks), so it sends ``k`` copies of each of its ``b s / (cp tp)`` tokens, ``h`` 16-bit
values each, in the dispatch all-to-all, and receives the same in the combine; backward repeats
both. The bytes per GPU do not grow with ``ep``: a larger group only sends a larger share of them
off the GPU (``(ep - 1) / ep``). Routed experts are divided over ``ep x etp`` GPUs and replicated
``edp`` times; their optimizer state is sharded over the ``edp`` replicas.

The busiest rank sets the pace: dropless routing with a load imbalance ``L`` (busiest / mean)
gives it ``L`` times the mean tokens; a capacity factor ``c`` caps that at ``c``.
"""

from __future__ import annotations

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig

__all__ = [
    "ACTIVATION_BYTES",
    "dispatch_bytes_per_gpu",
    "local_experts",
    "routed_tokens_per_gpu",
    "tokens_per_gpu",
]

ACTIVATION_BYTES = 2.0  # hidden states travel in 16-bit (BF16) unless the dispatcher quantizes


def tokens_per_gpu(parallel: ParallelConfig) -> float:
    """Tokens one GPU routes per micro-batch: ``b s / (cp tp)`` (sequence-parallel shard)."""
    return parallel.micro_batch * parallel.seq_len / (parallel.cp * parallel.tp)


def routed_tokens_per_gpu(model: ModelConfig, parallel: ParallelConfig) -> float:
    """Token copies the busiest GPU's experts process per micro-batch and MoE layer.

    Examples
    --------
    Mixtral 8x7B (top-2), one 4096-token sequence per micro-batch, no TP: 8192 copies.

    >>> from interconnect_sim.training.model import load_model
    >>> p = ParallelConfig(dp=8, ep=8, global_batch=8, seq_len=4096)
    >>> routed_tokens_per_gpu(load_model("mixtral-8x7b"), p)
    8192.0
    """
    if model.moe is None:
        return 0.0
    return tokens_per_gpu(parallel) * model.moe.top_k * parallel.moe_token_factor


def dispatch_bytes_per_gpu(model: ModelConfig, parallel: ParallelConfig) -> float:
    """Send buffer of one GPU in one dispatch (or combine) all-to-all, nccl-tests' ``size``:
    routed token copies x hidden x 2 bytes."""
    return routed_tokens_per_gpu(model, parallel) * model.hidden * ACTIVATION_BYTES


def local_experts(model: ModelConfig, parallel: ParallelConfig) -> int:
    """Routed experts each expert-parallel rank holds per MoE layer.

    Raises
    ------
    ScenarioError
        ``ep`` does not divide the number of experts.
    """
    if model.moe is None:
        return 0
    if model.moe.experts % parallel.ep:
        raise ScenarioError(
            f"ep ({parallel.ep}) must divide the {model.moe.experts} experts of {model.name}"
        )
    return model.moe.experts // parallel.ep
