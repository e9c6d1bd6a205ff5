"""Bring your own data: the user's files in the project's own schemas.

* Measurements (``validate`` / ``calibrate --measurements``): nccl-tests text output and ``-J``
  JSON, NCCL Inspector JSON, and the CSV schema (:mod:`.measurements`).
* Collective traces (``replay``): PyTorch profiler traces and Chakra execution traces.
* Systems (``import-topo``): ``nvidia-smi topo -m`` and NCCL's topology XML, and back to XML.

Each format has its own module; ``docs/importers.md`` says what each keeps and its limits.
"""

from __future__ import annotations

from interconnect_sim.importers.measurement_rows import RunDefaults
from interconnect_sim.importers.measurements import (
    ImportedMeasurements,
    detect_format,
    load_measurement_files,
)

__all__ = ["ImportedMeasurements", "RunDefaults", "detect_format", "load_measurement_files"]
