"""The ``train`` and ``validate-training`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import (
    add_calibration_option,
    add_catalog_option,
    add_fabric_options,
    calibration_from,
    catalog_from,
    fabric_request_from,
    positive_int,
    print_warnings,
    prior_note,
)
from interconnect_sim.cli.training_options import (
    benchmark_setup,
    duration,
    options_of,
    parallel_of,
    time_to_train_of,
    token_count,
)
from interconnect_sim.cli.training_output import format_step, format_validation
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.training.benchmarks import (
    benchmark_time,
    list_benchmarks,
)
from interconnect_sim.training.compute import (
    COMPUTE_CALIBRATION,
    load_compute_calibration,
    write_compute_calibration,
)
from interconnect_sim.training.layout import default_pipeline_split, fastest_virtual_stages
from interconnect_sim.training.memory import fits_memory, shortfall_message
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import PRECISIONS
from interconnect_sim.training.step import estimate_step

__all__ = ["add_training_commands", "run_training_command"]

_FLOPS_HELP = (
    "TFLOP/s count model FLOPs: forward + backward (3 passes), full (non-causal) attention, no "
    "recompute; MoE layers count the routed top-k and shared experts, DeepSeek's multi-token "
    "prediction is included. MFU divides them by the dense tensor peak of the training "
    "precision (FP8 peak for the FP8 recipes, FP4 for NVFP4). validate-training compares each "
    "published row under that row's own convention (docs/training.md)."
)


def virtual_stages(text: str) -> int | str:
    """``auto`` or a positive whole number."""
    return "auto" if text == "auto" else positive_int(text)


def positive_float(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _add_parallel_options(train: argparse.ArgumentParser) -> None:
    for name in ("tp", "pp", "dp", "cp", "ep"):
        train.add_argument(f"--{name}", type=positive_int)
    train.add_argument("--etp", type=positive_int, help="expert tensor parallel (default: tp)")
    train.add_argument(
        "--vpp",
        type=virtual_stages,
        default="auto",
        help="virtual pipeline stages per rank, or auto (default): the fastest the split allows "
        "that fits memory",
    )
    train.add_argument("--pp-first-stage-layers", type=positive_int, metavar="N")
    train.add_argument("--pp-last-stage-layers", type=positive_int, metavar="N")
    train.add_argument(
        "--pp-embedding-in-split",
        action="store_true",
        help="count the embedding as a layer in the pipeline split (done automatically when the "
        "layers do not divide, e.g. Llama 3 405B on 16 stages)",
    )
    train.add_argument("--pp-loss-in-split", action="store_true")
    train.add_argument("--seq", type=positive_int, help="sequence length (default: the model's)")
    train.add_argument("--global-batch", type=positive_int, metavar="B", help="sequences per step")
    train.add_argument("--micro-batch", type=positive_int, metavar="M")
    train.add_argument("--recompute", choices=("none", "selective", "full"))
    train.add_argument("--precision", choices=PRECISIONS)
    train.add_argument(
        "--zero",
        type=int,
        choices=(0, 1, 2, 3),
        help="ZeRO stage (1 = distributed optimizer, default; 3 = FSDP)",
    )
    train.add_argument("--fp32-grads", action="store_true", help="FP32 gradient accumulation")
    train.add_argument("--no-sequence-parallel", action="store_true")
    train.add_argument(
        "--tp-overlap", action="store_true", help="tensor-parallel communication overlapped"
    )
    train.add_argument("--moe-capacity-factor", type=positive_float, metavar="C")
    train.add_argument(
        "--moe-load-imbalance",
        type=positive_float,
        metavar="L",
        help="tokens on the busiest expert rank over the mean (default 1, balanced)",
    )
    train.add_argument("--moe-a2a-overlap", action="store_true")
    train.add_argument("--lora-rank", type=positive_int, metavar="R")
    train.add_argument("--lora-mlp", action="store_true", help="LoRA on MLP projections too")
    train.add_argument("--packed-document-tokens", type=positive_int, metavar="N")
    train.add_argument("--no-flash-attention", action="store_true")


def add_training_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``train`` and ``validate-training``."""
    train = commands.add_parser(
        "train",
        help="estimate an LLM training step and time-to-train on a fabric",
        description="Step time, its breakdown, tokens/s, TFLOP/s per GPU, MFU, memory per GPU "
        "and time-to-train of an LLM under data, tensor, pipeline, context and expert "
        "parallelism, or the minutes of an MLPerf LLM benchmark (--benchmark). " + _FLOPS_HELP,
    )
    train.add_argument("--scenario", type=Path, help="read every option from a TOML scenario")
    train.add_argument("--model", help="preset id (e.g. llama3-70b) or a model .toml file")
    train.add_argument(
        "--benchmark",
        help=f"MLPerf LLM benchmark: {', '.join(list_benchmarks())} (needs --global-batch)",
    )
    add_fabric_options(train, system_flag=True, system_required=False)
    _add_parallel_options(train)
    train.add_argument("--tokens", type=token_count, help="training tokens, e.g. 15T")
    train.add_argument(
        "--mtbf-node",
        type=duration,
        metavar="DURATION",
        help="mean time between failures of one node, e.g. '50000 h'",
    )
    train.add_argument("--checkpoint-interval", type=duration, default=3600.0, metavar="D")
    train.add_argument("--checkpoint-cost", type=duration, default=60.0, metavar="D")
    train.add_argument("--restart", type=duration, default=600.0, metavar="D")
    train.add_argument("--engine", choices=("analytic", "des"), default="analytic")
    train.add_argument("--json", action="store_true")
    add_calibration_option(train)

    validate = commands.add_parser(
        "validate-training",
        help="score the step model against published training runs",
        description="Maps each row (schema of time_to_train.csv) to a model, a parallel "
        "layout and a preset fabric, predicts it, and reports the absolute % error of the "
        "quantity the row gives (tokens/s per GPU, else TFLOP/s per GPU under the row's own FLOP "
        "convention, else step time; MLPerf minutes; whole-run GPU-hours), with summaries by fit "
        "role, GPU architecture, dense vs MoE and category. Rows that cannot be mapped are "
        "listed with the reason.",
    )
    validate.add_argument(
        "--runs",
        type=Path,
        metavar="FILE.csv",
        help="rows in the time_to_train.csv schema (default: shipped rows)",
    )
    validate.add_argument("--json", action="store_true")
    add_calibration_option(validate)
    add_catalog_option(validate)
    validate.add_argument(
        "--fit", action="store_true", help="first re-fit the compute calibration on the fit rows"
    )
    validate.add_argument(
        "--out",
        type=Path,
        default=COMPUTE_CALIBRATION,
        metavar="FILE",
        help="with --fit: where to write the calibration",
    )


def run_training_command(args: argparse.Namespace) -> int:
    """Dispatch ``train`` or ``validate-training``."""
    if args.command == "validate-training":
        return _cmd_validate(args)
    values = options_of(args)
    benchmark = benchmark_setup(values)
    catalog = catalog_from(values)
    calibration = calibration_from(args)
    model = load_model(str(values["model"]))
    fabric = build_fabric(catalog, fabric_request_from(values))
    node_count = int(fabric.graph.graph["node_count"])
    parallel = parallel_of(values, len(fabric.gpus), values.get("seq") or model.seq_len)
    if benchmark is not None:
        benchmark.samples_to_target(parallel.global_batch)  # in range, before any work
    options: dict[str, Any] = {
        "engine": values.get("engine") or "analytic",
        "flash_attention": not values.get("no_flash_attention", False),
        "analytic": AnalyticEngine(catalog, calibration),
    }
    compute = load_compute_calibration()
    if (values.get("vpp") or "auto") == "auto":
        parallel, step = fastest_virtual_stages(
            model, parallel, fabric, catalog, compute, **options
        )
    else:
        parallel = default_pipeline_split(model, parallel)
        step = estimate_step(
            model,
            parallel,
            fabric,
            catalog,
            compute,
            check_memory=False,
            engine=options["engine"],
            flash_attention=options["flash_attention"],
            analytic=options["analytic"],
        )
    if fits_memory(step.memory, step.memory_capacity_bytes) == "no":
        gpu_name = catalog.gpu(str(fabric.graph.nodes[fabric.gpus[0]]["spec"])).name
        raise ScenarioError(shortfall_message(step.memory, step.memory_capacity_bytes, gpu_name))
    ttt = time_to_train_of(values, step.tokens_per_s, parallel, node_count)
    mlperf = None
    if benchmark is not None:
        mlperf = benchmark_time(
            benchmark, parallel.global_batch, step.step_time_s, step.forward_fraction
        ).to_json()
    if args.json:
        payload = step.to_json()
        payload.update(
            {
                "model": model.id,
                "system": fabric.graph.graph["system"],
                "gpus": parallel.world_size,
                "vpp": parallel.vpp,
                "time_to_train_days": None if ttt is None else ttt["time_to_train_days"],
            }
        )
        if ttt is not None:
            payload["time_to_train"] = ttt
        if mlperf is not None:
            payload["mlperf"] = mlperf
        note = prior_note(fabric, catalog, calibration)
        payload["fabric_warnings"] = [*fabric.warnings, *([note] if note else [])]
        print(json.dumps(payload, indent=2))
        print_warnings(fabric, stream=sys.stderr, extra=(note,))
    else:
        engine = values.get("engine") or "analytic"
        print(format_step(model.name, fabric.name, parallel, step, engine, ttt, mlperf))
        print_warnings(fabric, stream=sys.stdout, extra=(prior_note(fabric, catalog, calibration),))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    # pandas comes with the runs: imported here so `train` starts without it
    from interconnect_sim.validation.training_runs import SHIPPED_TRAINING_RUNS, load_training_runs
    from interconnect_sim.validation.training_score import fit_compute, score_runs

    catalog = catalog_from(vars(args))
    frame = load_training_runs(args.runs)
    compute = load_compute_calibration()
    if args.fit:
        if not args.out.parent.exists():
            raise ScenarioError(f"--out: folder {str(args.out.parent)!r} does not exist")
        compute, objective = fit_compute(frame, catalog, compute)
        score = score_runs(frame, catalog, compute, AnalyticEngine(catalog, calibration_from(args)))
        fit_rows = [r["row_id"] for r in score.rows if r["fit_role"] == "fit"]
        write_compute_calibration(
            args.out,
            compute,
            {
                "runs": str((args.runs or SHIPPED_TRAINING_RUNS).name),
                "fit_rows": fit_rows,
                "objective": round(objective, 5),
                "median_abs_pct_error_fit": score.overall["median_abs_pct_error_fit"],
                "median_abs_pct_error_holdout": score.overall["median_abs_pct_error_holdout"],
            },
        )
    else:
        score = score_runs(frame, catalog, compute, AnalyticEngine(catalog, calibration_from(args)))
    if args.json:
        print(json.dumps(score.to_json(), indent=2))
        return 0
    print(format_validation(score))
    if args.fit:
        print(f"Compute calibration written to {args.out}")
    return 0
