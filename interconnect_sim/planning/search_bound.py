"""A lower bound on a layout's step time, for the layout search to skip what cannot win.

``estimate_step`` assembles a step from the pipeline ranks' times per micro-batch ``t_r`` (compute
plus the communication compute does not hide): ``m`` micro-batches at the slowest rank's pace
plus every other rank's chunk-passes filling and draining the pipeline,

    pipe = m t_s + (sum_r t_r - t_s) / v = (m - 1/v) t_s + sum_r t_r / v,

then adds the exposed pipeline sends, data-parallel sync and optimizer step (all >= 0). Since
``t_s = max t_r >= sum_r t_r / pp``, ``m >= 1 >= 1/v``, and ``t_r`` is at least the rank's
compute ``C_r``, whose sum over the ranks is the compute of the whole model ``C`` (every term of
:func:`~interconnect_sim.training.stage_compute.chunk_compute` is a sum over layers, the output
layer counted once):

    step >= C ((m - 1/v) / pp + 1/v).

The bound does not depend on how the layers are split, on ZeRO or on the network, so one ``C``
serves every layout that shares the tensor, context and expert split, micro-batch, recompute and
precision. The search evaluates layouts in the order of their bounds and stops once a bound
exceeds the time of the last layout it keeps: nothing it skips could have made the list.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from interconnect_sim.training.compute import ComputeCalibration
from interconnect_sim.training.model import ModelConfig
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.pipeline import Chunk
from interconnect_sim.training.stage_compute import GpuRates, chunk_compute

__all__ = ["StepLowerBound"]


class StepLowerBound:
    """``step_time_s >= bound(p)`` for every layout ``p`` of one model on one GPU type."""

    def __init__(
        self,
        model: ModelConfig,
        rates: GpuRates,
        compute: ComputeCalibration,
        *,
        flash_attention: bool = True,
    ) -> None:
        self.model = model
        self.rates = rates
        self.compute = compute
        self.flash_attention = flash_attention
        self._whole: dict[tuple[Any, ...], float] = {}

    def whole_model_compute_s(self, p: ParallelConfig) -> float:
        """Forward and backward compute of every layer and the output layer, one micro-batch,
        on one GPU of the tensor, context and expert split of ``p``."""
        key = (
            p.tp,
            p.cp,
            p.ep,
            p.etp,
            p.micro_batch,
            p.seq_len,
            p.recompute,
            p.precision,
            p.lora_rank,
            p.packed_document_tokens,
            p.moe_token_factor,
        )
        if key not in self._whole:
            flat = replace(
                p,
                pp=1,
                vpp=1,
                pp_first_stage_layers=None,
                pp_last_stage_layers=None,
                pp_embedding_in_split=False,
                pp_loss_in_split=False,
            )
            every = Chunk(0, 0, range(self.model.layers), embedding=True, loss=True)
            part = chunk_compute(
                self.model,
                flat,
                every,
                self.rates,
                self.compute,
                flash_attention=self.flash_attention,
            )
            self._whole[key] = part.forward_s + part.backward_s
        return self._whole[key]

    def __call__(self, p: ParallelConfig) -> float:
        """The bound on the step time of layout ``p`` (seconds)."""
        m, v = p.microbatches, p.vpp
        return self.whole_model_compute_s(p) * ((m - 1.0 / v) / p.pp + 1.0 / v)
