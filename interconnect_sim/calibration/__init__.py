"""Measured efficiencies and latencies, kept apart from vendor peaks."""

from interconnect_sim.calibration.model import (
    ALGORITHMS,
    DEFAULT_CALIBRATION,
    PROTOCOLS,
    Calibration,
    load_calibration,
)

__all__ = ["ALGORITHMS", "DEFAULT_CALIBRATION", "PROTOCOLS", "Calibration", "load_calibration"]
