"""Measured efficiencies and latencies, kept apart from vendor peaks."""

from interconnect_sim.calibration.loader import load_calibration
from interconnect_sim.calibration.model import (
    ALGORITHMS,
    DEFAULT_CALIBRATION,
    PROTOCOLS,
    Calibration,
    FitScope,
    FittedRange,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_CALIBRATION",
    "PROTOCOLS",
    "Calibration",
    "FitScope",
    "FittedRange",
    "load_calibration",
]
