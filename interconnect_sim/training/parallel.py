"""How a training job is split: parallel degrees, batch, recompute, precision, rank layout.

Ranks follow Megatron-LM's default order ``tp-cp-ep-dp-pp``: tensor parallel innermost (so a TP
group is consecutive GPUs of one node), pipeline outermost. Expert parallelism is carved out of
the data-parallel ranks, as in Megatron-Core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from interconnect_sim.errors import ScenarioError

__all__ = ["ParallelConfig"]

Recompute = Literal["none", "selective", "full"]
Precision = Literal["bf16", "fp8"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelConfig:
    """A training configuration.

    Attributes
    ----------
    tp, pp, dp, cp, ep : int
        Tensor, pipeline, data, context and expert parallel degrees (ep divides dp x cp).
    vpp : int
        Virtual pipeline stages per rank (interleaved 1F1B when > 1).
    micro_batch, global_batch : int
        Sequences per micro-batch and per step.
    seq_len : int
        Tokens per sequence.
    sequence_parallel : bool
        Megatron sequence parallelism (TP all-gather/reduce-scatter instead of all-reduce).
    zero_stage : int
        0 (replicated), 1 (distributed optimizer), 2, or 3 (= FSDP).
    recompute : {"none", "selective", "full"}
        Activation recomputation.
    precision : {"bf16", "fp8"}
        Tensor-core precision of the GEMMs.
    tp_comm_overlap : bool
        Tensor-parallel communication overlapped with GEMMs (NeMo's userbuffers).
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    vpp: int = 1
    micro_batch: int = 1
    global_batch: int = 1
    seq_len: int = 2048
    sequence_parallel: bool = True
    zero_stage: int = 1
    recompute: Recompute = "none"
    precision: Precision = "bf16"
    tp_comm_overlap: bool = False

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "global_batch", "seq_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(f"{name} must be a positive whole number, got {value!r}")
        if (self.dp * self.cp) % self.ep:
            raise ScenarioError(f"ep ({self.ep}) must divide dp x cp ({self.dp * self.cp})")
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
        if self.precision not in ("bf16", "fp8"):
            raise ScenarioError(f"precision must be bf16 or fp8, got {self.precision!r}")
        if self.seq_len % self.cp:
            raise ScenarioError(f"cp ({self.cp}) must divide the sequence length {self.seq_len}")

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

    def group(self, kind: str) -> list[int]:
        """Ranks of the group of ``kind`` that contains rank 0 (``tp``, ``cp``, ``dp``, ``pp``,
        ``ep``)."""
        strides = {
            "tp": 1,
            "cp": self.tp,
            "ep": self.tp * self.cp,
            "dp": self.tp * self.cp,
            "pp": self.tp * self.cp * self.dp,
        }
        sizes = {"tp": self.tp, "cp": self.cp, "ep": self.ep, "dp": self.dp, "pp": self.pp}
        if kind not in strides:
            raise ScenarioError(f"unknown group {kind!r}")
        return [i * strides[kind] for i in range(sizes[kind])]
