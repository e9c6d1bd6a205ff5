"""Cited hardware facts: spec value objects, the strict loader and the catalog."""

from interconnect_sim.specs.catalog import DATA_DIR, Catalog, CheckResult, load_catalog
from interconnect_sim.specs.model import (
    Check,
    GpuSpec,
    LinkSpec,
    NicSpec,
    ReferenceRow,
    Source,
    Spec,
    SuperPodSpec,
    SwitchSpec,
    SystemSpec,
    TransceiverSpec,
)

__all__ = [
    "DATA_DIR",
    "Catalog",
    "Check",
    "CheckResult",
    "GpuSpec",
    "LinkSpec",
    "NicSpec",
    "ReferenceRow",
    "Source",
    "Spec",
    "SuperPodSpec",
    "SwitchSpec",
    "SystemSpec",
    "TransceiverSpec",
    "load_catalog",
]
