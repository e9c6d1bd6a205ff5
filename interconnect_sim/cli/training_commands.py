"""The ``train`` and ``validate-training`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from interconnect_sim.calibration import load_calibration
from interconnect_sim.cli.common import (
    add_calibration_option,
    add_catalog_option,
    calibration_from,
    catalog_from,
    print_warnings,
    prior_note,
)
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.cli.training_output import format_step, format_timeline, format_validation
from interconnect_sim.cli.training_timeline import save_timeline_picture
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.scenarios.loader import load_scenario, training_defaults
from interconnect_sim.scenarios.options import add_training_options
from interconnect_sim.scenarios.training import run_training, training_inputs
from interconnect_sim.training.compute import (
    COMPUTE_CALIBRATION,
    load_compute_calibration,
    write_compute_calibration,
)
from interconnect_sim.units import format_duration

__all__ = ["add_training_commands", "run_training_command"]

_FLOPS_HELP = (
    "TFLOP/s count model FLOPs: forward + backward (3 passes), full (non-causal) attention, no "
    "recompute; MoE layers count the routed top-k and shared experts, DeepSeek's multi-token "
    "prediction is included. MFU divides them by the dense tensor peak of the training "
    "precision (FP8 peak for the FP8 recipes, FP4 for NVFP4). validate-training compares each "
    "published row under that row's own convention (docs/training.md)."
)


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
    add_training_options(train)
    train.add_argument("--json", action="store_true")

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


def _options(args: argparse.Namespace, parser_defaults: dict[str, Any]) -> dict[str, Any]:
    """Option values: the scenario's, overridden by what the command line gave."""
    values = vars(args).copy()
    if args.scenario is None:
        return values
    scenario = load_scenario(args.scenario, default_kind="training")
    if scenario.kind != "training":
        raise ScenarioError(
            f'{args.scenario}: kind = "{scenario.kind}"; `train --scenario` reads training '
            f"scenarios (run any kind with `interconnect-sim run {args.scenario}`)"
        )
    merged = dict(scenario.runs[0].values)
    for key, value in values.items():
        if key not in merged or value != parser_defaults.get(key):
            merged[key] = value
    return merged


def run_training_command(args: argparse.Namespace) -> int:
    """Dispatch ``train`` or ``validate-training``."""
    if args.command == "validate-training":
        return _cmd_validate(args)
    values = _options(args, training_defaults())
    catalog = catalog_from(values)
    bar = progress_bar("train (des)", "event") if values.get("engine") == "des" else None
    try:
        run = run_training(
            values, catalog=catalog, timeline_progress=None if bar is None else bar.update_to
        )
    finally:
        if bar is not None:
            bar.close()
    if run.timeline is not None and values.get("emit_trace"):
        title = (
            f"{run.model.name} on {run.fabric.name}: step {run.timeline.run.step_s:.3f} s "
            f"({run.timeline.run.trace.schedule})"
        )
        picture = Path(run.timeline.summary["picture_file"])
        save_timeline_picture(picture, run.timeline, title)
    fabric, parallel, step = run.fabric, run.parallel, run.step
    note = prior_note(fabric, catalog, load_calibration(values.get("calibration")))
    ttt = None if run.time_to_train is None else run.time_to_train.to_json()
    if args.json:
        payload = run.to_json()
        payload["inputs"] = training_inputs(values, run.request, parallel)
        if run.search is not None:
            payload["layout_search"] = run.search
        payload["fabric_warnings"] = [*fabric.warnings, *([note] if note else [])]
        print(json.dumps(payload, indent=2))
        print_warnings(fabric, stream=sys.stderr, extra=(note,))
        return 0
    search = run.search
    if search is not None:
        print(
            f"layout search: {search['evaluated']} of {search['candidates']} layouts fit "
            f"and were timed in {search['elapsed_s']:.1f} s; best: "
            + "; ".join(
                f"{b['layout']} ({format_duration(b['step_time_s'])})" for b in search["best"][:3]
            )
        )
    print(format_step(run.model.name, fabric.name, parallel, step, run.engine, ttt, run.mlperf))
    if run.timeline is not None:
        print(format_timeline(run.timeline.summary))
    print_warnings(fabric, stream=sys.stdout, extra=(note,))
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
