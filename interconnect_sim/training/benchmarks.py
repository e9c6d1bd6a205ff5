"""MLPerf Training LLM benchmarks: how much training reaches the quality target, and in what time.

Each benchmark (``training/data/mlperf/<id>.toml``, cited) names its model, sequence length,
evaluation cadence and size, and MLCommons' reference convergence points (RCPs): for a few global
batch sizes, the samples (or tokens) the reference needed to reach the target in repeated runs.
As MLCommons' RCP checker does, the expected amount at a batch size is the olympic mean (the
fastest and slowest run dropped) of its RCP, interpolated linearly between the RCPs around it.

The time-to-train is what MLPerf's clock measures (initialisation excluded, as the rules allow):
training steps to that amount plus every evaluation on the way (a forward pass over the
evaluation set, in whole global batches).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from interconnect_sim.errors import ScenarioError, SpecError

__all__ = [
    "BENCHMARKS_DIR",
    "Benchmark",
    "BenchmarkTime",
    "benchmark_time",
    "list_benchmarks",
    "load_benchmark",
]

BENCHMARKS_DIR = Path(__file__).parent / "data" / "mlperf"


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One MLPerf LLM benchmark."""

    id: str
    name: str
    model: str
    seq_len: int
    quality_target: str
    convergence_unit: str  # "tokens" or "samples" (sequences)
    eval_interval_sequences: int
    eval_sequences: float
    eval_skip: tuple[float, int]  # skip the first floor(a * GBS + b) evaluations
    rcp: tuple[tuple[int, tuple[int, ...]], ...]
    lora_rank: int = 0
    lora_mlp: bool = False
    max_init_minutes: float = 0.0

    def samples_to_target(self, global_batch: int) -> float:
        """Expected sequences to the quality target at ``global_batch`` (RCP olympic mean,
        interpolated linearly in the batch size between RCPs).

        Raises
        ------
        ScenarioError
            The batch size lies outside the RCPs (MLCommons would need new ones).
        """
        batches = [b for b, _ in self.rcp]
        if not batches[0] <= global_batch <= batches[-1]:
            raise ScenarioError(
                f"{self.id}: global batch {global_batch} is outside the reference convergence "
                f"points ({batches[0]} to {batches[-1]} sequences)"
            )
        means = [_olympic_mean(values) for _, values in self.rcp]
        amount = float(np.interp(global_batch, batches, means))
        return amount / self.seq_len if self.convergence_unit == "tokens" else amount

    def evaluations(self, global_batch: int, samples: float) -> float:
        """Evaluations run while training ``samples`` sequences (the skipped ones excluded)."""
        steps_between = math.ceil(self.eval_interval_sequences / global_batch)
        done = samples / (steps_between * global_batch)
        skipped = math.floor(self.eval_skip[0] * global_batch + self.eval_skip[1])
        return max(0.0, done - skipped)


def _olympic_mean(values: tuple[int, ...]) -> float:
    ordered = sorted(values)
    return float(np.mean(ordered[1:-1])) if len(ordered) > 2 else float(np.mean(ordered))


@dataclass(frozen=True, slots=True)
class BenchmarkTime:
    """Minutes on MLPerf's clock, and what they are made of."""

    benchmark: str
    samples: float
    steps: float
    evaluations: float
    train_s: float
    eval_s: float

    @property
    def minutes(self) -> float:
        """Time-to-train in minutes."""
        return (self.train_s + self.eval_s) / 60.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "benchmark": self.benchmark,
            "time_to_train_min": self.minutes,
            "samples_to_target": self.samples,
            "steps": self.steps,
            "evaluations": self.evaluations,
            "train_s": self.train_s,
            "eval_s": self.eval_s,
        }


def benchmark_time(
    benchmark: Benchmark, global_batch: int, step_time_s: float, forward_fraction: float
) -> BenchmarkTime:
    """MLPerf time-to-train of ``benchmark`` at ``global_batch`` sequences per step taking
    ``step_time_s``; an evaluation batch costs ``forward_fraction`` of a training step.

    Examples
    --------
    GPT-3 at GBS 2048: the RCP olympic mean is 1,182,793,728 tokens, 577,536 sequences, 282 steps.

    >>> b = load_benchmark("gpt3-175b")
    >>> t = benchmark_time(b, 2048, 10.0, 0.3)
    >>> round(t.samples), round(t.steps, 1)
    (577536, 282.0)
    """
    samples = benchmark.samples_to_target(global_batch)
    steps = samples / global_batch
    evaluations = benchmark.evaluations(global_batch, samples)
    eval_batches = math.ceil(benchmark.eval_sequences / global_batch)
    eval_s = evaluations * eval_batches * step_time_s * forward_fraction
    return BenchmarkTime(benchmark.id, samples, steps, evaluations, steps * step_time_s, eval_s)


def list_benchmarks() -> list[str]:
    """Benchmark ids."""
    return sorted(p.stem for p in BENCHMARKS_DIR.glob("*.toml"))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read benchmark file: {exc}") from None
    if not data.get("sources"):
        raise SpecError(f"{path}: a benchmark needs [[sources]]")
    return data


def load_benchmark(name: str) -> Benchmark:
    """A benchmark by id (``gpt3-175b``, ``llama2-70b-lora``, ``llama31-405b``, ``llama31-8b``).

    Raises
    ------
    ScenarioError
        Unknown id (naming the known ones).
    SpecError
        A malformed benchmark file.
    """
    path = BENCHMARKS_DIR / f"{name}.toml"
    if not path.exists():
        raise ScenarioError(
            f"unknown benchmark {name!r}; MLPerf LLM benchmarks: {', '.join(list_benchmarks())}"
        )
    data = _read(path)
    try:
        rcp = tuple(
            sorted((int(r["batch"]), tuple(int(v) for v in r["converged"])) for r in data["rcp"])
        )
        eval_sequences = (
            float(data["eval_tokens"]) / int(data["seq_len"])
            if "eval_tokens" in data
            else float(data["eval_sequences"])
        )
        return Benchmark(
            id=str(data["id"]),
            name=str(data["name"]),
            model=str(data["model"]),
            seq_len=int(data["seq_len"]),
            quality_target=str(data["quality_target"]),
            convergence_unit=str(data["convergence_unit"]),
            eval_interval_sequences=int(data["eval_interval_sequences"]),
            eval_sequences=eval_sequences,
            eval_skip=(float(data["eval_skip"][0]), int(data["eval_skip"][1])),
            rcp=rcp,
            lora_rank=int(data.get("lora_rank", 0)),
            lora_mlp=bool(data.get("lora_mlp", False)),
            max_init_minutes=float(data.get("max_init_minutes", 0.0)),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SpecError(f"{path}: malformed benchmark: {exc!r}") from None
