"""How fast a GPU runs a transformer's GEMMs and element-wise work (calibrated, cited data).

``training/data/compute.toml`` holds, per NCCL-style architecture class and precision, the
achievable fraction of the dense tensor peak for large GEMMs, and the bytes of HBM traffic per
token per layer per pass for the memory-bound parts (norms, activations, residuals, dropout), in
units of the hidden size. Both are fitted by ``interconnect-sim validate-training --fit`` on the
published runs marked ``fit`` and stored with the rows they came from.
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


@dataclass(frozen=True, slots=True)
class ComputeCalibration:
    """GEMM efficiency per (architecture class, precision) and memory traffic per layer."""

    gemm_efficiency: dict[tuple[str, str], float]
    memory_bytes_per_token_layer_hidden: float
    fit: dict[str, Any] = field(default_factory=dict)

    def efficiency(self, architecture_class: str, precision: str) -> float:
        """Achievable fraction of the dense peak for this architecture and precision."""
        key = (architecture_class, precision)
        if key not in self.gemm_efficiency:
            # Architectures without a fit (e.g. Blackwell before any run is shipped) borrow
            # the closest fitted generation; say so rather than invent a number.
            fallback = {"blackwell": "hopper", "volta": "ampere"}.get(architecture_class)
            if fallback and (fallback, precision) in self.gemm_efficiency:
                return self.gemm_efficiency[(fallback, precision)]
            if (architecture_class, "bf16") in self.gemm_efficiency:
                return self.gemm_efficiency[(architecture_class, "bf16")]
            raise SpecError(
                f"no GEMM efficiency for {architecture_class}/{precision} in "
                "the compute calibration"
            )
        return self.gemm_efficiency[key]

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
    return ComputeCalibration(efficiencies, float(traffic), dict(data.get("fit", {})))


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
        'pre-training"',
        f'quote = "{len(fit.get("fit_rows", []))} rows; each names its source_url"',
        'grade = "measured"',
        "",
    ]
    text = "\n".join(lines)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(Path(path), write)
