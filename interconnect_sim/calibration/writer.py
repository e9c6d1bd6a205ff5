"""Write a fitted calibration file (TOML) that :func:`load_calibration` reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interconnect_sim.calibration.model import Calibration
from interconnect_sim.files import write_atomically

__all__ = ["write_calibration"]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(round(float(value), 6))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _table(name: str, values: dict[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{key} = {_value(v)}" for key, v in values.items()), ""]


def write_calibration(
    path: Path,
    calibration: Calibration,
    *,
    constants: str,
    fit: dict[str, Any],
    sources: list[dict[str, str]],
) -> None:
    """Write ``calibration``'s fitted part to ``path`` atomically.

    Parameters
    ----------
    path : Path
        Destination ``.toml``.
    calibration : Calibration
        Holds the fitted values to write.
    constants : str
        Stem of the NCCL constants file the calibration builds on (e.g. ``nccl-2.30``).
    fit : dict
        What the fit used and achieved (written under ``[fit]``; scalars and lists only).
    sources : list of dict
        ``[[sources]]`` entries (title, url, locator, quote, grade).
    """
    lines = [
        "# Written by `interconnect-sim calibrate`; re-run it to reproduce. Efficiencies are",
        "# fractions of the graph-derived bandwidth; latencies in microseconds per step.",
        f"constants = {_value(constants)}",
        "",
        "[fitted]",
        f"nvls_efficiency = {_value(calibration.nvls_fit_efficiency)}",
        "",
        *_table("fitted.tree_efficiency", calibration.tree_efficiency),
        *_table("fitted.intra_efficiency", calibration.intra_efficiency),
        *_table("fitted.network_efficiency", calibration.network_efficiency),
        *_table(
            "fitted.network_latency_us",
            {k: v * 1e6 for k, v in calibration.network_latency_s.items()},
        ),
        *_table(
            "fitted.intra_latency_us",
            {k: v * 1e6 for k, v in calibration.intra_latency_s.items()},
        ),
        *_table("fit", fit),
    ]
    for source in sources:
        lines.append("[[sources]]")
        lines.extend(f"{key} = {_value(value)}" for key, value in source.items())
        lines.append("")
    text = "\n".join(lines)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(Path(path), write)
