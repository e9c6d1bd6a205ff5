"""Outputs people look at: text tables, drawings, plots."""

from interconnect_sim.report.text import format_fabric_summary

__all__ = ["format_fabric_summary"]
