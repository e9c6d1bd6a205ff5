"""Options of ``train``: command line and scenario files merged into a layout (parsing only)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import on_off
from interconnect_sim.errors import ScenarioError, UnitError
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.training.benchmarks import Benchmark, load_benchmark
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.time_to_train import (
    Goodput,
    checkpoint_cost_s,
    load_failure_profile,
    time_to_train,
)
from interconnect_sim.units import parse_duration, parse_rate

__all__ = [
    "benchmark_setup",
    "duration",
    "options_of",
    "parallel_of",
    "time_to_train_of",
    "token_count",
]

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


def _scenario(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    allowed = {"name", "model", "fabric", "parallel", "training", "whatif"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ScenarioError(f"{path}: unknown table(s) {unknown}; allowed {sorted(allowed)}")
    flat: dict[str, Any] = {}
    for table in ("fabric", "parallel", "training", "whatif"):
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
    if key == "storage_bandwidth" and isinstance(value, str):
        try:
            return parse_rate(value)
        except UnitError as exc:
            raise ScenarioError(f"{path}: storage-bandwidth: {exc}") from None
    if key == "system" and isinstance(value, str) and is_system_path(value):
        return str(path.parent / value)
    if key in ("neighbour_trace", "emit_trace") and isinstance(value, str):
        return str(path.parent / value)
    if key in ("slow_node", "slow_gpu") and not isinstance(value, list):
        return [value]
    if key == "catalog":
        folders = [value] if isinstance(value, str) else value
        return [path.parent / str(folder) for folder in folders]
    if key == "p2p" and isinstance(value, str):
        try:
            return on_off(value)
        except argparse.ArgumentTypeError as exc:
            raise ScenarioError(f"{path}: p2p: {exc}") from None
    return value


def options_of(args: argparse.Namespace) -> dict[str, Any]:
    values = vars(args).copy()
    if args.scenario is not None:
        scenario = _scenario(args.scenario)
        valid = set(values) - {"scenario", "command", "json"}
        unknown = sorted(k.replace("-", "_") for k in scenario if k.replace("-", "_") not in valid)
        if unknown:
            raise ScenarioError(f"{args.scenario}: unknown key(s) {unknown}")
        for key, value in scenario.items():
            key = key.replace("-", "_")
            if values.get(key) in (None, False, 1.0, "auto", []) or key not in values:
                values[key] = _scenario_value(args.scenario, key, value)
    layout = () if values.get("layout") == "auto" else ("tp", "pp")
    required = ("system", *layout) + (() if values.get("benchmark") else ("model",))
    for name in required:
        if values.get(name) is None:
            raise ScenarioError(
                f"--{name.replace('_', '-')} is required (or give it in the scenario)"
            )
    if values.get("nodes") is None and values.get("scalable_units") is None:
        raise ScenarioError(
            "--nodes (or --scalable-units) is required (or give it in the scenario)"
        )
    return values


def parallel_of(values: dict[str, Any], gpus: int, seq: int) -> ParallelConfig:
    tp, pp, cp = values["tp"], values["pp"], values.get("cp") or 1
    if gpus % (tp * pp * cp):
        raise ScenarioError(f"{gpus} GPUs do not split into tp x pp x cp = {tp * pp * cp}")
    dp = values.get("dp") or gpus // (tp * pp * cp)
    micro = values.get("micro_batch") or 1
    batch = values.get("global_batch")
    if batch is None:  # about 4M tokens per step, a whole number of micro-batches per replica
        per_step = dp * micro
        batch = max(per_step, round(4_194_304 / seq / per_step) * per_step)
    vpp = values.get("vpp") or "auto"
    vpp_value: int = 1 if vpp == "auto" else int(vpp)
    return ParallelConfig(
        tp=tp,
        pp=pp,
        dp=dp,
        cp=cp,
        ep=values.get("ep") or 1,
        etp=values.get("etp"),
        vpp=vpp_value,
        pp_first_stage_layers=values.get("pp_first_stage_layers"),
        pp_last_stage_layers=values.get("pp_last_stage_layers"),
        pp_embedding_in_split=bool(values.get("pp_embedding_in_split")),
        pp_loss_in_split=bool(values.get("pp_loss_in_split")),
        micro_batch=micro,
        global_batch=batch,
        seq_len=seq,
        sequence_parallel=not values.get("no_sequence_parallel", False),
        zero_stage=1 if values.get("zero") is None else values["zero"],
        fp32_gradients=bool(values.get("fp32_grads")),
        recompute=values.get("recompute") or "none",
        precision=values.get("precision") or "bf16",
        tp_comm_overlap=bool(values.get("tp_overlap", False)),
        moe_capacity_factor=values.get("moe_capacity_factor"),
        moe_load_imbalance=values.get("moe_load_imbalance") or 1.0,
        moe_a2a_overlap=bool(values.get("moe_a2a_overlap")),
        lora_rank=values.get("lora_rank") or 0,
        lora_mlp=bool(values.get("lora_mlp")),
        packed_document_tokens=values.get("packed_document_tokens"),
    )


def benchmark_setup(values: dict[str, Any]) -> Benchmark | None:
    """Apply ``--benchmark``: its model, sequence length and LoRA settings."""
    if not values.get("benchmark"):
        return None
    benchmark = load_benchmark(values["benchmark"])
    if values.get("model") not in (None, benchmark.model):
        raise ScenarioError(
            f"--benchmark {benchmark.id} trains {benchmark.model}, not {values['model']}"
        )
    if values.get("global_batch") is None:
        batches = [b for b, _ in benchmark.rcp]
        raise ScenarioError(
            f"--benchmark {benchmark.id} needs --global-batch (reference convergence points "
            f"cover {batches[0]} to {batches[-1]} sequences)"
        )
    values["model"] = benchmark.model
    values["seq"] = benchmark.seq_len
    if benchmark.lora_rank and not values.get("lora_rank"):
        values["lora_rank"], values["lora_mlp"] = benchmark.lora_rank, benchmark.lora_mlp
    return benchmark


def time_to_train_of(
    values: dict[str, Any],
    tokens_per_s: float,
    parallel: ParallelConfig,
    hosts: int,
    *,
    parameters: float | None = None,
) -> dict[str, Any] | None:
    """Time to train with and without interruptions (hosts: servers the job spans)."""
    if not values.get("tokens"):
        return None
    cost = values.get("checkpoint_cost")
    if cost is None and values.get("storage_bandwidth") and parameters:
        cost = checkpoint_cost_s(parameters, values["storage_bandwidth"])
    goodput = Goodput(
        mtbf_per_node_s=values.get("mtbf_node"),
        rates=load_failure_profile(values.get("failure_profile")).rates,
        checkpoint_interval_s=values.get("checkpoint_interval"),
        checkpoint_cost_s=cost,
        restart_s=values.get("restart"),
    )
    return time_to_train(
        values["tokens"], tokens_per_s, parallel.world_size, hosts, goodput
    ).to_json()
