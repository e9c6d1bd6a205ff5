"""The ``train`` and ``validate-training`` commands."""

from __future__ import annotations

import argparse
import json
import re
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
    on_off,
    positive_int,
    print_warnings,
    prior_note,
)
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError, UnitError
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.training.compute import (
    COMPUTE_CALIBRATION,
    load_compute_calibration,
    write_compute_calibration,
)
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate, estimate_step
from interconnect_sim.training.time_to_train import Goodput, time_to_train
from interconnect_sim.units import format_duration, parse_duration
from interconnect_sim.validation.training_runs import SHIPPED_TRAINING_RUNS, load_training_runs
from interconnect_sim.validation.training_score import fit_compute, score_runs

__all__ = ["add_training_commands", "run_training_command"]

_TOKEN_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def token_count(text: str) -> float:
    """``15T``, ``2.5B``, ``300M`` or a plain number of tokens (decimal multipliers)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMBGT]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token count such as 15T or 2.5B")
    return float(match.group(1)) * _TOKEN_SUFFIX[match.group(2)]


def duration(text: str) -> float:
    """A duration with units (``2000 h``, ``90 s``)."""
    try:
        return parse_duration(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_COLLECTIVES = {
    "tp": "TP all-gather / reduce-scatter (all-reduce without SP) per layer",
    "cp": "CP ring exchange of K and V per layer",
    "ep": "EP all-to-all dispatch and combine per MoE layer",
    "pp": "PP send/recv of activations (pipeline warm-up and cool-down)",
    "dp": "DP gradient reduce-scatter and parameter all-gather",
}


def add_training_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``train`` and ``validate-training``."""
    train = commands.add_parser(
        "train",
        help="estimate an LLM training step and time-to-train on a fabric",
        description="Step time, its breakdown, tokens/s, TFLOP/s per GPU, MFU, memory per GPU "
        "and time-to-train of an LLM under data, tensor, pipeline, context and expert "
        "parallelism. TFLOP/s count model FLOPs (forward + backward, no recompute, full "
        "attention); MFU divides them by the dense tensor peak of the training precision.",
    )
    train.add_argument("--scenario", type=Path, help="read every option from a TOML scenario")
    train.add_argument("--model", help="preset id (e.g. llama3-70b) or a model .toml file")
    add_fabric_options(train, system_flag=True, system_required=False)
    for name in ("tp", "pp", "dp", "cp", "ep", "vpp"):
        train.add_argument(f"--{name}", type=positive_int)
    train.add_argument("--seq", type=positive_int, help="sequence length (default: the model's)")
    train.add_argument("--global-batch", type=positive_int, metavar="B", help="sequences per step")
    train.add_argument("--micro-batch", type=positive_int, metavar="M")
    train.add_argument("--recompute", choices=("none", "selective", "full"))
    train.add_argument("--precision", choices=("bf16", "fp8"))
    train.add_argument(
        "--zero",
        type=int,
        choices=(0, 1, 2, 3),
        help="ZeRO stage (1 = distributed optimizer, default; 3 = FSDP)",
    )
    train.add_argument("--no-sequence-parallel", action="store_true")
    train.add_argument(
        "--tp-overlap",
        action="store_true",
        help="tensor-parallel communication overlapped with GEMMs",
    )
    train.add_argument("--no-flash-attention", action="store_true")
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
        "quantity the row gives (TFLOP/s per GPU under the row's own FLOP convention, step "
        "time, or tokens/s). Rows that cannot be mapped are listed with the reason.",
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


def _scenario(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    allowed = {"name", "model", "fabric", "parallel", "training"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(f"{path}: unknown table(s) {unknown}; allowed {sorted(allowed)}")
    flat: dict[str, Any] = {}
    for table in ("fabric", "parallel", "training"):
        flat.update(data.get(table, {}))
    if "model" in data:
        flat["model"] = data["model"]
    return flat


_DURATIONS = ("mtbf_node", "checkpoint_interval", "checkpoint_cost", "restart")


def _scenario_value(path: Path, key: str, value: Any) -> Any:
    """A scenario value in the form the command line gives it (paths relative to the file)."""
    if key == "tokens" and isinstance(value, str):
        return token_count(value)
    if key in _DURATIONS and isinstance(value, str):
        return duration(value)
    if key == "system" and isinstance(value, str) and is_system_path(value):
        return str(path.parent / value)
    if key == "catalog":
        folders = [value] if isinstance(value, str) else value
        return [path.parent / str(folder) for folder in folders]
    if key == "p2p" and isinstance(value, str):
        try:
            return on_off(value)
        except argparse.ArgumentTypeError as exc:
            raise ScenarioError(f"{path}: p2p: {exc}") from None
    return value


def _options(args: argparse.Namespace) -> dict[str, Any]:
    values = vars(args).copy()
    if args.scenario is not None:
        scenario = _scenario(args.scenario)
        valid = set(values) - {"scenario", "command", "json"}
        unknown = sorted(k.replace("-", "_") for k in scenario if k.replace("-", "_") not in valid)
        if unknown:
            raise ScenarioError(f"{args.scenario}: unknown key(s) {unknown}")
        for key, value in scenario.items():
            key = key.replace("-", "_")
            if values.get(key) in (None, False, 1.0, []) or key not in values:
                values[key] = _scenario_value(args.scenario, key, value)
    for required in ("model", "system", "tp", "pp"):
        if values.get(required) is None:
            raise ScenarioError(
                f"--{required.replace('_', '-')} is required (or give it in the scenario)"
            )
    if values.get("nodes") is None and values.get("scalable_units") is None:
        raise ScenarioError(
            "--nodes (or --scalable-units) is required (or give it in the scenario)"
        )
    return values


def _parallel(values: dict[str, Any], gpus: int, seq: int) -> ParallelConfig:
    tp, pp, cp = values["tp"], values["pp"], values.get("cp") or 1
    if gpus % (tp * pp * cp):
        raise ScenarioError(f"{gpus} GPUs do not split into tp x pp x cp = {tp * pp * cp}")
    dp = values.get("dp") or gpus // (tp * pp * cp)
    micro = values.get("micro_batch") or 1
    batch = values.get("global_batch")
    if batch is None:  # about 4M tokens per step, a whole number of micro-batches per replica
        per_step = dp * micro
        batch = max(per_step, round(4_194_304 / seq / per_step) * per_step)
    return ParallelConfig(
        tp=tp,
        pp=pp,
        dp=dp,
        cp=cp,
        ep=values.get("ep") or 1,
        vpp=values.get("vpp") or 1,
        micro_batch=micro,
        global_batch=batch,
        seq_len=seq,
        sequence_parallel=not values.get("no_sequence_parallel", False),
        zero_stage=1 if values.get("zero") is None else values["zero"],
        recompute=values.get("recompute") or "none",
        precision=values.get("precision") or "bf16",
        tp_comm_overlap=bool(values.get("tp_overlap", False)),
    )


def _format(
    model_name: str,
    fabric_name: str,
    p: ParallelConfig,
    step: StepEstimate,
    ttt: dict[str, Any] | None,
    engine: str,
) -> str:
    gb = 1e9
    mem = step.memory
    lines = [
        f"{model_name} on {fabric_name} ({p.world_size} GPUs): tp {p.tp}, pp {p.pp}, "
        f"cp {p.cp}, dp {p.dp}, ep {p.ep}, vpp {p.vpp}; micro-batch {p.micro_batch}, global "
        f"batch {p.global_batch} x {p.seq_len} tokens; {p.precision}; recompute {p.recompute}; "
        f"{engine} engine",
        f"step time {format_duration(step.step_time_s)}, {step.tokens_per_s / 1e6:.3f} M tokens/s, "
        f"{step.tflops_per_gpu:.0f} TFLOP/s per GPU (model FLOPs), MFU {step.mfu_pct:.1f} % of "
        f"the dense {p.precision.upper()} peak",
        f"memory per GPU {mem.total_bytes / gb:.1f} GB of {step.memory_capacity_bytes / gb:.0f} "
        f"GB (parameters {mem.parameters_bytes / gb:.1f}, gradients {mem.gradients_bytes / gb:.1f}"
        f", optimizer {mem.optimizer_bytes / gb:.1f}, activations "
        f"{mem.activations_bytes / gb:.1f})",
        "step breakdown: "
        + ", ".join(
            f"{k.replace('exposed_', 'exposed ')} {format_duration(v)}"
            for k, v in step.breakdown_s.items()
            if v > 0
        ),
    ]
    if step.limiting_collectives:
        lines.append("collectives that limit it (exposed time per step, largest first):")
        lines.extend(
            f"  {_COLLECTIVES[name]}: {format_duration(sec)}"
            for name, sec in step.limiting_collectives
        )
    else:
        lines.append("all communication is hidden behind compute")
    if ttt is not None:
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
        lines.append(line)
    lines.extend(f"warning: {w}" for w in step.warnings)
    return "\n".join(lines)


def run_training_command(args: argparse.Namespace) -> int:
    """Dispatch ``train`` or ``validate-training``."""
    if args.command == "validate-training":
        return _cmd_validate(args)
    values = _options(args)
    catalog = catalog_from(values)
    calibration = calibration_from(args)
    model = load_model(str(values["model"]))
    request = fabric_request_from(values)
    fabric = build_fabric(catalog, request)
    node_count = int(fabric.graph.graph["node_count"])
    seq = values.get("seq") or model.seq_len
    parallel = _parallel(values, len(fabric.gpus), seq)
    step = estimate_step(
        model,
        parallel,
        fabric,
        catalog,
        load_compute_calibration(),
        engine=values.get("engine") or "analytic",
        flash_attention=not values.get("no_flash_attention", False),
        analytic=AnalyticEngine(catalog, calibration),
    )
    ttt = None
    if values.get("tokens"):
        goodput = None
        if values.get("mtbf_node"):
            goodput = Goodput(
                mtbf_per_node_s=values["mtbf_node"],
                checkpoint_interval_s=values["checkpoint_interval"],
                checkpoint_cost_s=values["checkpoint_cost"],
                restart_s=values["restart"],
            )
        ttt = time_to_train(
            values["tokens"], step.tokens_per_s, parallel.world_size, node_count, goodput
        ).to_json()
    if args.json:
        payload = step.to_json()
        payload.update(
            {
                "model": model.id,
                "system": fabric.graph.graph["system"],
                "gpus": parallel.world_size,
                "time_to_train_days": None if ttt is None else ttt["time_to_train_days"],
            }
        )
        if ttt is not None:
            payload["time_to_train"] = ttt
        note = prior_note(fabric, catalog, calibration)
        payload["fabric_warnings"] = [*fabric.warnings, *([note] if note else [])]
        print(json.dumps(payload, indent=2))
        print_warnings(fabric, stream=sys.stderr, extra=(note,))
    else:
        print(
            _format(
                model.name, fabric.name, parallel, step, ttt, values.get("engine") or "analytic"
            )
        )
        print_warnings(fabric, stream=sys.stdout, extra=(prior_note(fabric, catalog, calibration),))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
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
    print(
        f"{'row':>5}  {'model':<60}{'metric':<16}{'measured':>10}{'predicted':>11}"
        f"{'error':>8}  role"
    )
    for row in score.rows:
        print(
            f"{row['row_id']:>5}  {row['model'][:58]:<60}{row['metric']:<16}"
            f"{row['measured']:>10.2f}{row['predicted']:>11.2f}{row['abs_pct_error']:>7.1f}%"
            f"  {row['fit_role']}"
        )
    o = score.overall
    print(
        f"overall: {o['n']} rows, median {o['median_abs_pct_error']:.1f} %, max "
        f"{o['max_abs_pct_error']:.1f} % (fit rows median {o['median_abs_pct_error_fit']:.1f} %, "
        f"held-out median {o['median_abs_pct_error_holdout']:.1f} %)"
    )
    print(f"not mapped ({len(score.unmapped)}):")
    for row in score.unmapped:
        print(f"  {row['row_id']:>5}  {row['model'][:58]:<60}{row['reason']}")
    if args.fit:
        print(f"Compute calibration written to {args.out}")
    return 0
