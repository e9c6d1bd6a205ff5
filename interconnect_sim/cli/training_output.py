"""Text output of ``train`` and ``validate-training`` (formatting only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interconnect_sim.training.memory import fits_memory
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate
from interconnect_sim.units import format_duration

if TYPE_CHECKING:
    from interconnect_sim.validation.training_score import TrainingScore

__all__ = ["format_step", "format_timeline", "format_validation"]

_COLLECTIVES = {
    "tp": "TP all-gather / reduce-scatter (all-reduce without SP) per layer",
    "cp": "CP ring exchange of K and V per layer",
    "ep": "EP all-to-all dispatch and combine per MoE layer",
    "pp": "PP send/recv of activations (pipeline warm-up and cool-down)",
    "dp": "DP gradient reduce-scatter and parameter all-gather",
}


def _layout(p: ParallelConfig) -> str:
    split = ""
    if p.pp_embedding_in_split or p.pp_loss_in_split:
        split = " (embedding and loss counted as layers in the pipeline split)"
    elif p.pp_first_stage_layers or p.pp_last_stage_layers:
        split = f" (first/last stage {p.pp_first_stage_layers}/{p.pp_last_stage_layers} layers)"
    moe = f", ep {p.ep}, etp {p.expert_tp}" if p.ep > 1 else ""
    return (
        f"tp {p.tp}, pp {p.pp}, cp {p.cp}, dp {p.dp}{moe}, vpp {p.vpp}{split}; micro-batch "
        f"{p.micro_batch}, global batch {p.global_batch} x {p.seq_len} tokens; {p.precision}; "
        f"recompute {p.recompute}" + (f"; LoRA rank {p.lora_rank}" if p.lora_rank else "")
    )


def _memory_line(step: StepEstimate) -> str:
    gb = 1e9
    mem = step.memory
    verdict = fits_memory(mem, step.memory_capacity_bytes)
    tail = {"yes": "", "maybe": " -- above capacity, within the memory model's uncertainty"}
    return (
        f"memory per GPU {mem.total_bytes / gb:.1f} GB of {step.memory_capacity_bytes / gb:.0f} "
        f"GB on pipeline rank {mem.rank} (parameters {mem.parameters_bytes / gb:.1f}, gradients "
        f"{mem.gradients_bytes / gb:.1f}, optimizer {mem.optimizer_bytes / gb:.1f}, activations "
        f"{mem.activations_bytes / gb:.1f}){tail.get(verdict, '')}"
    )


def _time_to_train_line(ttt: dict[str, Any]) -> str:
    line = (
        f"time to train {ttt['tokens'] / 1e12:g}T tokens: "
        f"{ttt['time_to_train_days']:.1f} days, {ttt['gpu_hours'] / 1e6:.2f} M GPU-hours"
    )
    if ttt.get("goodput") is not None:
        line += (
            f"; with failures: goodput {100 * ttt['goodput']:.1f} %, "
            f"{ttt['expected_days_with_failures']:.1f} days (optimal checkpoint every "
            f"{format_duration(ttt['optimal_checkpoint_interval_s'])})"
        )
    return line


def _benchmark_line(mlperf: dict[str, Any]) -> str:
    return (
        f"MLPerf {mlperf['benchmark']}: {mlperf['time_to_train_min']:.1f} minutes to the "
        f"quality target ({mlperf['samples_to_target']:.0f} sequences, {mlperf['steps']:.0f} "
        f"steps, {mlperf['evaluations']:.0f} evaluations taking "
        f"{format_duration(mlperf['eval_s'])}; initialisation not timed)"
    )


def format_step(
    model_name: str,
    fabric_name: str,
    p: ParallelConfig,
    step: StepEstimate,
    engine: str,
    ttt: dict[str, Any] | None = None,
    mlperf: dict[str, Any] | None = None,
) -> str:
    """The ``train`` report."""
    lines = [
        f"{model_name} on {fabric_name} ({p.world_size} GPUs): {_layout(p)}; {engine} engine",
        f"step time {format_duration(step.step_time_s)}, {step.tokens_per_s / 1e6:.3f} M tokens/s, "
        f"{step.tflops_per_gpu:.0f} TFLOP/s per GPU (model FLOPs: 3 passes, full attention, no "
        f"recompute), MFU {step.mfu_pct:.1f} % of the dense {p.precision.upper()} peak",
        _memory_line(step),
        "step breakdown: "
        + ", ".join(
            f"{k.replace('exposed_', 'exposed ')} {format_duration(v)}"
            for k, v in step.breakdown_s.items()
            if v > 0
        ),
    ]
    if p.pp > 1:
        lines.append(
            f"pipeline: layers per rank {step.rank_layers}; rank {step.slowest_rank} is the "
            "slowest and sets the pace"
        )
    if step.limiting_collectives:
        lines.append("collectives that limit it (exposed time per step, largest first):")
        lines.extend(
            f"  {_COLLECTIVES[name]}: {format_duration(sec)}"
            for name, sec in step.limiting_collectives
        )
    else:
        lines.append("all communication is hidden behind compute")
    if ttt is not None:
        lines.append(_time_to_train_line(ttt))
    if mlperf is not None:
        lines.append(_benchmark_line(mlperf))
    lines.extend(f"warning: {w}" for w in step.warnings)
    return "\n".join(lines)


def format_timeline(timeline: dict[str, Any]) -> str:
    """The timeline's size and, with a what-if, what it changed and where that went."""
    classes = timeline["classes"]
    sizes = " + ".join(str(len(c)) for c in classes)
    lines = [
        f"timeline: {timeline['events']:,} trace events ({timeline['schedule']} schedule; "
        f"{len(classes)} class(es) of identical replica blocks, {sizes} blocks), "
        f"{timeline['simulation_events']:,} simulation events"
    ]
    whatif = timeline.get("whatif")
    if whatif:
        absorbed = ", ".join(
            f"{a['where']} {'+' if a['seconds'] >= 0 else ''}{format_duration(a['seconds'])}"
            for a in whatif["absorbed_by"]
        )
        lines.append(
            f"what-if ({whatif['description']}): step {format_duration(whatif['step_time_s'])} "
            f"vs {format_duration(whatif['baseline_step_time_s'])} without it "
            f"({whatif['change_pct']:+.1f} %)" + (f"; absorbed by: {absorbed}" if absorbed else "")
        )
    if timeline.get("trace_file"):
        lines.append(
            f"trace written to {timeline['trace_file']} (replay: {timeline['replay_command']}), "
            f"timeline picture to {timeline['picture_file']}"
        )
    return "\n".join(lines)


def format_validation(score: TrainingScore) -> str:
    """The ``validate-training`` table, its summaries and the rows not mapped."""
    lines = [
        f"{'row':>5}  {'model':<52}{'metric':<22}{'measured':>12}{'predicted':>12}"
        f"{'error':>8}  role"
    ]
    for row in score.rows:
        lines.append(
            f"{row['row_id']:>5}  {row['model'][:50]:<52}{row['metric']:<22}"
            f"{row['measured']:>12.2f}{row['predicted']:>12.2f}{row['abs_pct_error']:>7.1f}%"
            f"  {row['fit_role']}"
        )
    o = score.overall
    lines.append(
        f"overall: {o['n']} rows, median {o['median_abs_pct_error']:.1f} %, max "
        f"{o['max_abs_pct_error']:.1f} % (fit rows median {o['median_abs_pct_error_fit']:.1f} %, "
        f"held-out median {o['median_abs_pct_error_holdout']:.1f} %)"
    )
    for group, parts in score.breakdown.items():
        lines.append(
            f"by {group}: "
            + "; ".join(
                f"{name} {v['n']} rows median {v['median_abs_pct_error']:.1f} %"
                for name, v in parts.items()
            )
        )
    lines.append(f"not mapped ({len(score.unmapped)}):")
    lines.extend(
        f"  {row['row_id']:>5}  {row['model'][:58]:<60}{row['reason']}" for row in score.unmapped
    )
    return "\n".join(lines)
