"""A training scenario: step time and where it goes, memory, time-to-train, and why."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from interconnect_sim.scenarios.describe import fabric_inputs, provenance_of
from interconnect_sim.scenarios.loader import Scenario
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Series, Table
from interconnect_sim.scenarios.run_collective import run_catalog
from interconnect_sim.scenarios.timeline_report import (
    timeline_figure,
    timeline_tables,
    whatif_sentence,
)
from interconnect_sim.scenarios.training import COLLECTIVE_NAMES, TrainingRun, run_training
from interconnect_sim.scenarios.validation_context import training_validation
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.units import format_duration

__all__ = [
    "breakdown_labels",
    "run_training_scenario",
    "training_bottleneck",
    "training_inputs",
    "training_row",
]

_PART_LABELS = {
    "compute": "compute",
    "bubble": "pipeline bubble",
    "exposed_tp": "exposed TP comm",
    "exposed_cp": "exposed CP comm",
    "exposed_ep": "exposed EP comm",
    "exposed_pp": "exposed PP comm",
    "exposed_dp": "exposed DP comm",
    "optimizer": "optimizer step",
}


def breakdown_labels() -> dict[str, str]:
    """Readable names of the step-breakdown parts."""
    return dict(_PART_LABELS)


def training_row(run: TrainingRun) -> dict[str, object]:
    """The headline numbers of one estimate, units in the column names."""
    p, step = run.parallel, run.step
    ttt = run.time_to_train
    return {
        "model": run.model.id,
        "fabric": run.fabric.name,
        "gpus": p.world_size,
        "layout": f"tp{p.tp} pp{p.pp} cp{p.cp} dp{p.dp} ep{p.ep} vpp{p.vpp}",
        "precision": p.precision,
        "step_time_s": round(step.step_time_s, 4),
        "tokens_per_s": round(step.tokens_per_s),
        "tflops_per_gpu": round(step.tflops_per_gpu, 1),
        "mfu_pct": round(step.mfu_pct, 2),
        "exposed_comm_s": round(sum(v for _, v in step.limiting_collectives), 4),
        "memory_per_gpu_GB": round(step.memory.total_bytes / 1e9, 2),
        "time_to_train_days": None if ttt is None else round(ttt.ideal_days, 2),
        "with_failures_days": None
        if ttt is None or ttt.expected_days is None
        else round(ttt.expected_days, 2),
    }


def training_bottleneck(run: TrainingRun) -> str:
    """One sentence: how much of the step is compute, and the largest overhead."""
    step = run.step
    parts = {k: v for k, v in step.breakdown_s.items() if v > 0}
    total = step.step_time_s
    compute = parts.pop("compute", 0.0)
    sentence = (
        f"Compute is {100 * compute / total:.0f} % of the {format_duration(total)} step "
        f"(MFU {step.mfu_pct:.1f} %)"
    )
    if not parts:
        return sentence + "; nothing else shows."
    worst, seconds = max(parts.items(), key=lambda kv: kv[1])
    sentence += (
        f"; the largest overhead is the {_PART_LABELS.get(worst, worst)} "
        f"({format_duration(seconds)}, {100 * seconds / total:.1f} %)"
    )
    kind = worst.removeprefix("exposed_")
    if kind in COLLECTIVE_NAMES:
        sentence += f": {COLLECTIVE_NAMES[kind]}"
    elif worst == "bubble":
        sentence += (
            f": {run.parallel.pp - 1} of {run.parallel.microbatches} micro-batch slots per "
            f"stage idle, divided by vpp {run.parallel.vpp}"
        )
    return sentence + "."


def training_inputs(run: TrainingRun, catalog: Catalog) -> list[tuple[str, str]]:
    """Model, fabric and layout as inputs."""
    p = run.parallel
    rows = [("model", f"{run.model.id} ({run.model.name})")]
    rows += fabric_inputs(run.fabric, catalog, {})
    rows += [
        ("GPUs in the job", f"{p.world_size} of {len(run.fabric.gpus)} ({run.nodes_in_job} nodes)"),
        ("parallel layout", f"tp {p.tp}, pp {p.pp}, cp {p.cp}, dp {p.dp}, ep {p.ep}, vpp {p.vpp}"),
        (
            "batch",
            f"micro-batch {p.micro_batch}, global batch {p.global_batch} x {p.seq_len} tokens",
        ),
        ("precision / recompute / ZeRO", f"{p.precision} / {p.recompute} / {p.zero_stage}"),
        ("sequence parallel, TP overlap", f"{p.sequence_parallel}, {p.tp_comm_overlap}"),
        ("engine", run.engine),
    ]
    if run.time_to_train is not None:
        rows.append(("training tokens", f"{run.time_to_train.tokens / 1e12:g} T"))
    return rows


def _figures(run: TrainingRun) -> list[Figure]:
    step = run.step
    parts = [(k, v) for k, v in step.breakdown_s.items() if v > 0]
    mem = step.memory
    memory = [
        ("parameters", mem.parameters_bytes),
        ("gradients", mem.gradients_bytes),
        ("optimizer states", mem.optimizer_bytes),
        ("activations", mem.activations_bytes),
    ]
    return [
        Figure(
            name="step-breakdown",
            title=f"Where a {format_duration(step.step_time_s)} step goes",
            x_label="seconds per step",
            y_label="part of the step",
            series=(
                Series(
                    label="seconds per step",
                    x=tuple(_PART_LABELS.get(k, k) for k, _ in parts),
                    y=tuple(v for _, v in parts),
                    style="hbar",
                    hover=tuple(
                        f"{_PART_LABELS.get(k, k)}: {format_duration(v)} "
                        f"({100 * v / step.step_time_s:.1f} %)"
                        for k, v in parts
                    ),
                ),
            ),
            x_scale="category",
        ),
        Figure(
            name="memory",
            title=f"Memory per GPU: {mem.total_bytes / 1e9:.1f} GB of "
            f"{step.memory_capacity_bytes / 1e9:.0f} GB",
            x_label="GB per GPU (1 GB = 1e9 bytes)",
            y_label="what is stored",
            series=(
                Series(
                    label="GB per GPU",
                    x=tuple(name for name, _ in memory),
                    y=tuple(value / 1e9 for _, value in memory),
                    style="hbar",
                ),
            ),
            x_scale="category",
        ),
    ]


def _tables(run: TrainingRun) -> list[Table]:
    step = run.step
    breakdown = pd.DataFrame(
        {
            "part": [_PART_LABELS.get(k, k) for k in step.breakdown_s],
            "seconds_per_step": [round(v, 6) for v in step.breakdown_s.values()],
            "share_pct": [round(100 * v / step.step_time_s, 2) for v in step.breakdown_s.values()],
        }
    )
    limiting = pd.DataFrame(
        {
            "collective": [COLLECTIVE_NAMES[k] for k, _ in step.limiting_collectives],
            "exposed_s_per_step": [round(v, 6) for _, v in step.limiting_collectives],
        }
    )
    tables = [
        Table(name="breakdown", title="Step breakdown", frame=breakdown),
        Table(
            name="collectives",
            title="Communication that is not hidden behind compute",
            frame=limiting,
            note="exposed seconds per step, largest first; empty when all of it is hidden",
        ),
    ]
    if run.time_to_train is not None:
        t = run.time_to_train
        rows = [
            ("tokens", f"{t.tokens:.4g}"),
            ("ideal days", f"{t.ideal_days:.2f}"),
            ("GPU-hours", f"{t.gpu_hours:.4g}"),
        ]
        if t.goodput is not None and t.expected_days is not None:
            rows += [
                ("goodput (%)", f"{100 * t.goodput:.2f}"),
                ("expected days with failures", f"{t.expected_days:.2f}"),
                (
                    "optimal checkpoint interval",
                    format_duration(t.optimal_checkpoint_interval_s or 0.0),
                ),
            ]
        tables.append(
            Table(
                name="time-to-train",
                title="Time to train",
                frame=pd.DataFrame(rows, columns=["quantity", "value"]),
            )
        )
    return tables


def run_training_scenario(
    scenario: Scenario, catalog: Catalog, progress: Callable[[str], None] | None = None
) -> ScenarioResult:
    """Run a ``kind = "training"`` scenario."""
    catalog = run_catalog(catalog, scenario.runs[0])
    run = run_training(scenario.runs[0].values, catalog=catalog, progress=progress)
    row = training_row(run)
    headline = [
        f"{run.model.name} on {run.parallel.world_size} GPUs: step "
        f"{format_duration(run.step.step_time_s)}, {run.step.tokens_per_s / 1e6:.3f} M tokens/s, "
        f"{run.step.tflops_per_gpu:.0f} TFLOP/s per GPU, MFU {run.step.mfu_pct:.1f} %.",
    ]
    if run.time_to_train is not None:
        t = run.time_to_train
        line = f"Time to train {t.tokens / 1e12:g}T tokens: {t.ideal_days:.1f} days"
        if t.expected_days is not None and t.goodput is not None:
            line += f" ({t.expected_days:.1f} with failures, goodput {100 * t.goodput:.1f} %)"
        headline.append(line + ".")
    figures, tables = _figures(run), _tables(run)
    if run.timeline is not None:
        title = f"The step as a timeline: {format_duration(run.timeline.run.step_s)}"
        figures.insert(0, timeline_figure(run.timeline, title))
        tables += timeline_tables(run.timeline)
        sentence = whatif_sentence(run.timeline)
        if sentence:
            headline.append(sentence)
    return ScenarioResult(
        name=scenario.name,
        kind=scenario.kind,
        description=scenario.description,
        source=scenario.path,
        text=scenario.text,
        headline=headline,
        bottleneck=training_bottleneck(run),
        summary=Table(
            name="summary",
            title="Training estimate",
            frame=pd.DataFrame([row]),
            note="TFLOP/s count model FLOPs (no recompute); MFU against the dense peak of the "
            "training precision; memory in GB (1e9 bytes).",
        ),
        tables=tables,
        figures=figures,
        fabrics=[(run.fabric.name, run.fabric)],
        inputs=training_inputs(run, catalog),
        provenance=provenance_of(catalog, [run.fabric]),
        validation=training_validation(catalog, run.request.system),
        warnings=list(run.step.warnings),
    )
