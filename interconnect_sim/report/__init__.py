"""Outputs people look at: text tables, drawings, files written atomically."""

from interconnect_sim.report.files import write_atomically
from interconnect_sim.report.text import format_fabric_summary

__all__ = ["format_fabric_summary", "write_atomically"]
