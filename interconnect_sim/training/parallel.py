"""How a training job is split: parallel degrees, batch, recompute, precision, rank layout.

Ranks follow Megatron-LM's default order ``tp-cp-dp-pp``: tensor parallel innermost (so a TP
group is consecutive GPUs of one node), pipeline outermost. Mixture-of-experts layers fold the
same ranks of a pipeline stage differently (Megatron-Core's "MoE parallel folding"): expert tensor
parallel (``etp``) innermost, then expert parallel (``ep``), then expert data parallel, so that
``etp x ep`` divides ``tp x cp x dp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from interconnect_sim.errors import ScenarioError

__all__ = ["PRECISIONS", "ParallelConfig", "Precision", "Recompute", "gemm_input_bytes"]

Recompute = Literal["none", "selective", "full"]
Precision = Literal["bf16", "fp8", "fp8-delayed", "fp8-current", "fp8-block", "mxfp8", "nvfp4"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
"""Training precisions by their exact names: ``fp8`` is per-tensor FP8 with delayed scaling
(what NeMo and Megatron called FP8 before 2025; ``fp8-delayed`` is the same recipe by its full
name), ``fp8-current`` per-tensor current scaling, ``fp8-block`` DeepSeek-style 1x128 / 128x128
block scaling, ``mxfp8`` OCP microscaling FP8 (32-element blocks, Blackwell), ``nvfp4`` NVIDIA's
FP4 with 16-element blocks (Blackwell)."""


_GEMM_INPUT_BYTES = {
    "bf16": 2.0,
    "fp8": 1.0,
    "fp8-delayed": 1.0,
    "fp8-current": 1.0,
    "fp8-block": 1.0 + 4.0 / 128,  # an FP32 scale per 1 x 128 block (DeepSeek-V3, TE)
    "mxfp8": 1.0 + 1.0 / 32,  # an E8M0 scale per 32 values (OCP MX v1.0)
    "nvfp4": 0.5 + 1.0 / 16,  # an E4M3 scale per 16 values (NVIDIA NVFP4)
}


def gemm_input_bytes(precision: str) -> float:
    """Bytes per value of a GEMM input in the training precision, as Transformer Engine keeps it
    for the backward pass and gathers it under sequence parallelism: it quantises the input
    once, scales included (``transformer_engine/pytorch/module/linear.py``: the quantised
    ``inputmat`` is what it gathers and saves).

    Examples
    --------
    >>> gemm_input_bytes("bf16"), gemm_input_bytes("fp8-current"), gemm_input_bytes("mxfp8")
    (2.0, 1.0, 1.03125)
    """
    return _GEMM_INPUT_BYTES[precision]


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{name} must be a positive whole number, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelConfig:
    """A training configuration.

    Attributes
    ----------
    tp, pp, dp, cp, ep : int
        Tensor, pipeline, data, context and expert parallel degrees.
    etp : int, optional
        Expert tensor parallel degree (default: ``tp``, as Megatron-Core); ``etp x ep`` must
        divide ``tp x cp x dp``, the GPUs of one pipeline stage.
    vpp : int
        Virtual pipeline stages per rank (interleaved 1F1B when > 1).
    pp_first_stage_layers, pp_last_stage_layers : int, optional
        Transformer layers on the first / last pipeline rank (Megatron's
        ``--decoder-first-pipeline-num-layers`` / ``--decoder-last-pipeline-num-layers``); the
        rest split evenly over the other ranks.
    pp_embedding_in_split, pp_loss_in_split : bool
        Count the input embedding / the output layer and loss as one layer each when splitting
        (Megatron's ``--account-for-embedding-in-pipeline-split`` and
        ``--account-for-loss-in-pipeline-split``; Llama 3 405B's 126 layers + 2 over 16 stages).
    micro_batch, global_batch : int
        Sequences per micro-batch and per step.
    seq_len : int
        Tokens per sequence.
    sequence_parallel : bool
        Megatron sequence parallelism (TP all-gather/reduce-scatter instead of all-reduce).
    zero_stage : int
        0 (replicated), 1 (distributed optimizer), 2, or 3 (= FSDP).
    fp32_gradients : bool
        Gradients accumulated and reduced in FP32 (4 bytes per parameter; Megatron-LM's default
        for BF16, and Llama 3), instead of 16-bit.
    recompute : {"none", "selective", "full"}
        Activation recomputation.
    precision : str
        Tensor-core precision of the GEMMs (:data:`PRECISIONS`).
    tp_comm_overlap : bool
        Tensor-parallel communication overlapped with GEMMs (NeMo's userbuffers).
    tp_async_backward : bool
        The column-parallel layers' backward collectives (the input-gradient all-reduce; with
        sequence parallelism the input re-gather and the input-gradient reduce-scatter) run on
        their own stream beside the backward GEMMs: Megatron-LM since September 2021
        (``--async-tensor-model-parallel-allreduce``, then always), Megatron-Core and
        Transformer Engine. False: blocking, as Megatron-LM in Narayanan et al. (2021).
    moe_capacity_factor : float, optional
        Expert capacity as a multiple of the mean tokens per expert (tokens beyond it are
        dropped); ``None`` is dropless routing.
    moe_load_imbalance : float
        Tokens the busiest expert-parallel rank receives over the mean (1 = balanced, as the
        force-balanced Megatron-Bridge benchmarks).
    moe_a2a_overlap : bool
        Expert-parallel all-to-all hidden behind another micro-batch's compute (Megatron-Core's
        ``--overlap-moe-expert-parallel-comm``, DeepSeek's DualPipe).
    lora_rank : int
        0 trains every weight; > 0 is LoRA fine-tuning with adapters of this rank on the
        attention QKV and output projections (frozen base: no weight gradients, no optimizer
        state for the base weights).
    lora_mlp : bool
        LoRA adapters on the MLP projections too.
    packed_document_tokens : int, optional
        Mean length of the documents packed into each sequence, with attention masked to each
        document (sequence packing for fine-tuning); None: one document per sequence.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int | None = None
    vpp: int = 1
    pp_first_stage_layers: int | None = None
    pp_last_stage_layers: int | None = None
    pp_embedding_in_split: bool = False
    pp_loss_in_split: bool = False
    micro_batch: int = 1
    global_batch: int = 1
    seq_len: int = 2048
    sequence_parallel: bool = True
    zero_stage: int = 1
    fp32_gradients: bool = False
    recompute: Recompute = "none"
    precision: Precision = "bf16"
    tp_comm_overlap: bool = False
    tp_async_backward: bool = True
    moe_capacity_factor: float | None = None
    moe_load_imbalance: float = 1.0
    moe_a2a_overlap: bool = False
    lora_rank: int = 0
    lora_mlp: bool = False
    packed_document_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "global_batch", "seq_len"):
            _positive(name, getattr(self, name))
        for name in (
            "etp",
            "pp_first_stage_layers",
            "pp_last_stage_layers",
            "packed_document_tokens",
        ):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        stage = self.tp * self.cp * self.dp
        if stage % (self.ep * self.expert_tp):
            raise ScenarioError(
                f"ep x etp ({self.ep} x {self.expert_tp}) must divide tp x cp x dp ({stage}), "
                "the GPUs of one pipeline stage" + ("; try etp = 1" if self.expert_tp > 1 else "")
            )
        if self.global_batch % (self.dp * self.micro_batch):
            raise ScenarioError(
                f"global batch {self.global_batch} is not a multiple of dp x micro-batch "
                f"({self.dp} x {self.micro_batch})"
            )
        if self.zero_stage not in (0, 1, 2, 3):
            raise ScenarioError(f"zero stage must be 0-3, got {self.zero_stage}")
        if self.recompute not in ("none", "selective", "full"):
            raise ScenarioError(
                f"recompute must be none, selective or full, got {self.recompute!r}"
            )
        if self.precision not in PRECISIONS:
            raise ScenarioError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.seq_len % self.cp:
            raise ScenarioError(f"cp ({self.cp}) must divide the sequence length {self.seq_len}")
        self._check_moe_and_lora()

    def _check_moe_and_lora(self) -> None:
        factor = self.moe_capacity_factor
        if factor is not None and not factor > 0:
            raise ScenarioError(f"moe capacity factor must be positive, got {factor!r}")
        if not self.moe_load_imbalance >= 1.0:
            raise ScenarioError(
                f"moe load imbalance is busiest / mean and must be >= 1, got "
                f"{self.moe_load_imbalance!r}"
            )
        if isinstance(self.lora_rank, bool) or not isinstance(self.lora_rank, int):
            raise ScenarioError(f"lora rank must be a whole number, got {self.lora_rank!r}")
        if self.lora_rank < 0:
            raise ScenarioError(f"lora rank must be >= 0, got {self.lora_rank}")

    @property
    def expert_tp(self) -> int:
        """Expert tensor parallel degree (``etp``, defaulting to ``tp``)."""
        return self.tp if self.etp is None else self.etp

    @property
    def expert_dp(self) -> int:
        """Expert data parallel degree: replicas of each expert shard in a pipeline stage."""
        return self.tp * self.cp * self.dp // (self.ep * self.expert_tp)

    @property
    def world_size(self) -> int:
        """GPUs: tp x cp x dp x pp."""
        return self.tp * self.cp * self.dp * self.pp

    @property
    def microbatches(self) -> int:
        """Micro-batches each pipeline runs per step."""
        return self.global_batch // (self.dp * self.micro_batch)

    @property
    def tokens_per_step(self) -> int:
        """Tokens the whole job trains on per step."""
        return self.global_batch * self.seq_len

    @property
    def moe_token_factor(self) -> float:
        """Tokens the busiest expert rank processes, over the balanced mean."""
        if self.moe_capacity_factor is None:
            return self.moe_load_imbalance
        return min(self.moe_load_imbalance, self.moe_capacity_factor)

    def group(self, kind: str) -> list[int]:
        """Ranks of the group of ``kind`` that contains rank 0 (``tp``, ``cp``, ``dp``, ``pp``,
        ``ep``, ``etp``, ``edp``)."""
        stage = self.tp * self.cp * self.dp
        strides = {
            "tp": 1,
            "cp": self.tp,
            "dp": self.tp * self.cp,
            "pp": stage,
            "etp": 1,
            "ep": self.expert_tp,
            "edp": self.expert_tp * self.ep,
        }
        sizes = {
            "tp": self.tp,
            "cp": self.cp,
            "dp": self.dp,
            "pp": self.pp,
            "etp": self.expert_tp,
            "ep": self.ep,
            "edp": self.expert_dp,
        }
        if kind not in strides:
            raise ScenarioError(f"unknown group {kind!r}")
        return [i * strides[kind] for i in range(sizes[kind])]
