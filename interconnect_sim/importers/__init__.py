"""Bring your own data: the user's files in the project's own schemas.

* Measurements (``validate`` / ``calibrate --measurements``): nccl-tests text output and ``-J``
  JSON, NCCL Inspector JSON, and the CSV schema (:mod:`.measurements`).
* Collective traces (``replay``): PyTorch profiler traces and Chakra execution traces.
* Systems (``import-topo``): ``nvidia-smi topo -m`` and NCCL's topology XML, and back to XML.

Each format has its own module; ``docs/importers.md`` says what each keeps and its limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interconnect_sim.importers.measurement_rows import RunDefaults
    from interconnect_sim.importers.measurements import (
        ImportedMeasurements,
        detect_format,
        load_measurement_files,
    )

__all__ = ["ImportedMeasurements", "RunDefaults", "detect_format", "load_measurement_files"]

# Imported on first use (PEP 562): the measurement readers load pandas, which reading a trace
# or a topology does not need.
_LAZY = {
    "RunDefaults": "interconnect_sim.importers.measurement_rows",
    "ImportedMeasurements": "interconnect_sim.importers.measurements",
    "detect_format": "interconnect_sim.importers.measurements",
    "load_measurement_files": "interconnect_sim.importers.measurements",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'interconnect_sim.importers' has no attribute {name!r}")
