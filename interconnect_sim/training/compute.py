"""How fast a GPU runs a transformer's GEMMs and element-wise work (calibrated, cited data).

``training/data/compute.toml`` holds, per NCCL-style architecture class and precision, the
achievable fraction of the dense tensor peak for large GEMMs, the bytes of HBM traffic per
token per layer per pass for the memory-bound parts (norms, activations, residuals, dropout), in
units of the hidden size, and the time dropless mixture-of-experts routing costs per routed token
copy per MoE layer and micro-batch (permute, unpermute, sort and the host synchronisation of
variable-sized expert batches, forward and backward). All are fitted by ``interconnect-sim
validate-training --fit`` on the published runs marked ``fit`` and stored with the rows they came
from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError

__all__ = [
    "COMPUTE_CALIBRATION",
    "ComputeCalibration",
    "load_compute_calibration",
    "write_compute_calibration",
]

COMPUTE_CALIBRATION = Path(__file__).parent / "data" / "compute.toml"

_ALIASES = {"fp8-delayed": "fp8"}  # the same recipe by its full name
_FAMILY = {"fp8-current": "fp8", "fp8-block": "fp8", "mxfp8": "fp8", "nvfp4": "fp8"}
# [inferred] Without a fitted run, a class borrows the closest fitted one (said in the warnings):
# Blackwell the previous NVIDIA generation, AMD Instinct (RCCL) and Intel Gaudi (HCCL) Hopper.
_PREVIOUS = {"blackwell": "hopper", "volta": "ampere", "rccl": "hopper", "hccl": "hopper"}


@dataclass(frozen=True, slots=True)
class ComputeCalibration:
    """GEMM efficiency per (architecture class, precision) and memory traffic per layer."""

    gemm_efficiency: dict[tuple[str, str], float]
    memory_bytes_per_token_layer_hidden: float
    fit: dict[str, Any] = field(default_factory=dict)
    moe_routing_s_per_copy: float = 0.0

    def lookup(self, architecture_class: str, precision: str) -> tuple[float, str]:
        """Achievable fraction of the dense peak, and a note when it is borrowed.

        A precision without its own fit uses its family's (FP8 recipes and NVFP4 the FP8
        value), an architecture without one the previous generation's (Blackwell: Hopper,
        Volta: Ampere); the note says which, so nothing is replaced silently.

        Raises
        ------
        SpecError
            Nothing fitted for the architecture (or its predecessor) at all.
        """
        precision = _ALIASES.get(precision, precision)
        for arch in (architecture_class, _PREVIOUS.get(architecture_class)):
            for candidate in (precision, _FAMILY.get(precision)):
                if arch is None or candidate is None:
                    continue
                value = self.gemm_efficiency.get((arch, candidate))
                if value is None:
                    continue
                if (arch, candidate) == (architecture_class, precision):
                    return value, ""
                return value, (
                    f"no fitted GEMM efficiency for {architecture_class}/{precision}; "
                    f"using {arch}/{candidate} ({value:.2f})"
                )
        raise SpecError(
            f"no GEMM efficiency for {architecture_class}/{precision} in the compute "
            f"calibration (fitted: {sorted('/'.join(k) for k in self.gemm_efficiency)})"
        )

    def efficiency(self, architecture_class: str, precision: str) -> float:
        """Achievable fraction of the dense peak for this architecture and precision."""
        return self.lookup(architecture_class, precision)[0]

    def with_values(self, **values: Any) -> ComputeCalibration:
        """A copy with fields replaced."""
        return replace(self, **values)


def load_compute_calibration(path: Path | None = None) -> ComputeCalibration:
    """Load ``compute.toml`` (or another file in its schema)."""
    path = Path(path) if path is not None else COMPUTE_CALIBRATION
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read compute calibration: {exc}") from None
    if not data.get("sources"):
        raise SpecError(f"{path}: the compute calibration needs [[sources]]")
    efficiencies = {}
    for arch, per_precision in data.get("gemm_efficiency", {}).items():
        for precision, value in per_precision.items():
            if not isinstance(value, int | float) or not 0 < value <= 1:
                raise SpecError(f"{path}: gemm_efficiency.{arch}.{precision} must be in (0, 1]")
            efficiencies[(arch, precision)] = float(value)
    traffic = data.get("memory_bytes_per_token_layer_hidden")
    if not isinstance(traffic, int | float) or traffic < 0:
        raise SpecError(f"{path}: memory_bytes_per_token_layer_hidden must be >= 0")
    moe = data.get("moe_routing_s_per_copy", 0.0)
    if not isinstance(moe, int | float) or moe < 0:
        raise SpecError(f"{path}: moe_routing_s_per_copy must be >= 0")
    return ComputeCalibration(efficiencies, float(traffic), dict(data.get("fit", {})), float(moe))


def write_compute_calibration(
    path: Path, calibration: ComputeCalibration, fit: dict[str, Any]
) -> None:
    """Write a fitted compute calibration (the format :func:`load_compute_calibration` reads)."""
    from interconnect_sim.files import write_atomically

    lines = [
        "# Written by `interconnect-sim validate-training --fit`; re-run it to reproduce.",
        "# GEMM efficiency: achievable fraction of the dense tensor peak of the precision.",
        "# Memory traffic: HBM bytes per token per layer per pass, in units of the hidden size.",
        "memory_bytes_per_token_layer_hidden = "
        f"{calibration.memory_bytes_per_token_layer_hidden:.4f}",
        "# MoE routing: seconds per routed token copy per MoE layer and micro-batch (fwd + bwd).",
        f"moe_routing_s_per_copy = {calibration.moe_routing_s_per_copy:.4e}",
        "",
    ]
    by_arch: dict[str, dict[str, float]] = {}
    for (arch, precision), value in sorted(calibration.gemm_efficiency.items()):
        by_arch.setdefault(arch, {})[precision] = value
    for arch, values in by_arch.items():
        lines.append(f"[gemm_efficiency.{arch}]")
        lines.extend(f"{precision} = {value:.4f}" for precision, value in values.items())
        lines.append("")
    lines.append("[fit]")
    for key, value in fit.items():
        rendered = (
            f"{value!r}"
            if isinstance(value, int | float)
            else "[" + ", ".join(f'"{v}"' for v in value) + "]"
            if isinstance(value, list)
            else f'"{value}"'
        )
        lines.append(f"{key} = {rendered}")
    lines += [
        "",
        "[[sources]]",
        'kind = "measurement"',
        'title = "Published training throughput rows with fit_role = fit"',
        'url = "interconnect_sim/validation/data/training_runs.csv"',
        'locator = "Narayanan 2021 Table 1, Megatron-Core H100 weak scaling, NeMo 24.07 '
        'pre-training; MoE routing: Megatron-Bridge 25.11 Qwen3 30B-A3B on H100"',
        f'quote = "{len(fit.get("fit_rows", []))} rows; each names its source_url"',
        'grade = "measured"',
        "",
    ]
    text = "\n".join(lines)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(Path(path), write)
