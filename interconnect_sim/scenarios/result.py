"""What a scenario run produces, independent of how it is drawn.

A :class:`ScenarioResult` holds tables (pandas frames whose column names carry units), figures as
plain data (:class:`Figure`: series of numbers with labelled, unit-bearing axes), fabrics to draw,
the one-sentence bottleneck, the inputs, the provenance of every hardware number and the model's
validation error on comparable measured systems. :mod:`interconnect_sim.report` renders it as
PNG/SVG (matplotlib) and as an interactive, self-contained HTML page (plotly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from interconnect_sim.topology.fabric import Fabric

__all__ = ["Figure", "ScenarioResult", "Series", "Table"]

SeriesStyle = Literal["line", "markers", "line+markers", "bar", "hbar", "gantt"]
Scale = Literal["linear", "log2", "log10", "category"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One line, set of points or set of bars.

    For ``bar``/``hbar`` ``x`` holds category labels and ``y`` the values (``stack`` groups bars
    that stack). For ``gantt`` ``x`` is the start, ``y`` the row label and ``width`` the length.
    ``colour`` (a CSS colour) fixes the series' colour where its meaning has one (a kind of
    event in a step's timeline); empty takes the next of the palette.
    """

    label: str
    x: tuple[float | str, ...]
    y: tuple[float | str, ...]
    style: SeriesStyle = "line"
    hover: tuple[str, ...] = ()
    width: tuple[float, ...] = ()
    stack: bool = False
    dashed: bool = False
    colour: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """A plot as data: axes with units, series, scales."""

    name: str
    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    x_scale: Scale = "linear"
    y_scale: Scale = "linear"
    caption: str = ""
    y_from_zero: bool = True
    x_sizes: bool = True
    """On a ``log2`` x axis, label ticks as sizes (``1KiB``); otherwise as plain numbers."""
    y_categories: tuple[str, ...] = ()
    """The rows of a ``gantt`` figure top to bottom; empty: in order of first appearance."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A table with a title; column names carry their units (``busbw_GBps``, ``time_us``)."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""


@dataclass(slots=True, kw_only=True)
class ScenarioResult:
    """Everything a report shows about one scenario run.

    Attributes
    ----------
    name, kind, description : str
        From the scenario file.
    source : Path, optional
        The scenario file; ``text`` is its content as written.
    headline : list of str
        The key results, one sentence each.
    bottleneck : str
        What limits the result, in one sentence.
    summary : Table
        The main table (``summary.csv``).
    tables : list of Table
        Further tables.
    figures : list of Figure
        Plots.
    fabrics : list of (str, Fabric)
        Fabrics to draw, with a caption.
    inputs : list of (str, str)
        Resolved inputs, as ``(name, value with units)``.
    provenance : DataFrame
        Every hardware number used: spec, quantity, value, status (cited, inferred,
        user-supplied, announced) and source.
    validation : Table, optional
        The model's error on comparable measured systems.
    warnings : list of str
    """

    name: str
    kind: str
    description: str
    source: Path | None
    text: str
    headline: list[str]
    bottleneck: str
    summary: Table
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    fabrics: list[tuple[str, Fabric]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)
    provenance: pd.DataFrame = field(default_factory=pd.DataFrame)
    validation: Table | None = None
    warnings: list[str] = field(default_factory=list)
