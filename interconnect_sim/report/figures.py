"""Draw a :class:`~interconnect_sim.scenarios.result.Figure` with matplotlib (PNG, SVG) or as a
plotly figure (interactive HTML).

Both renderers read the same data, so the static and the interactive plot show the same numbers
with the same axis labels and units. Sizes on a ``log2`` axis are labelled the way nccl-tests
sweeps are read (``1 KiB``, ``1 MiB``, ``1 GiB``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from interconnect_sim.scenarios.result import Figure, Series
from interconnect_sim.units import format_size

__all__ = ["COLOURS", "draw_figure", "figure_size", "plotly_figure", "size_ticks"]

COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)


def size_ticks(low: float, high: float) -> list[float]:
    """Powers of two between ``low`` and ``high`` spaced so that about 8-12 labels show."""
    lo = math.floor(math.log2(max(low, 1.0)))
    hi = math.ceil(math.log2(max(high, 1.0)))
    step = max(1, math.ceil((hi - lo) / 10))
    for nice in (1, 2, 4, 5, 10):
        if nice >= step:
            step = nice
            break
    start = lo - lo % step
    return [2.0**k for k in range(start, hi + 1, step) if low / 1.5 <= 2.0**k <= high * 1.5]


def _size_text(value: float) -> str:
    return format_size(value, binary=True).replace(" ", "")


def _count_text(value: float) -> str:
    return f"{value:,.0f}"


def _numeric(values: tuple[float | str, ...]) -> list[float]:
    return [float(v) for v in values]


def figure_size(figure: Figure) -> tuple[float, float]:
    """Inches for a static figure: taller for many horizontal bars."""
    bars = max(
        (len(s.x) if s.style == "hbar" else len(set(s.y))) if s.style in ("hbar", "gantt") else 0
        for s in figure.series
    )
    bars = max(bars, len(figure.y_categories))
    return (9.0, max(4.2, 1.2 + 0.32 * bars))


def _colour(series: Series, index: int) -> str:
    """The series' own colour, black for measured points, else the palette's next."""
    if series.colour:
        return series.colour
    return "#000000" if series.style == "markers" else COLOURS[index % len(COLOURS)]


# -- matplotlib -------------------------------------------------------------------------------


def _draw_series_mpl(ax: Axes, series: Series, colour: str, rows: dict[str, int]) -> None:
    style = "--" if series.dashed else "-"
    if series.style in ("line", "line+markers", "markers"):
        marker = "o" if series.style != "line" else None
        line = "none" if series.style == "markers" else style
        size = 5 if series.style == "markers" else 3
        ax.plot(
            _numeric(series.x),
            _numeric(series.y),
            linestyle=line,
            marker=marker,
            markersize=size,
            color=colour,
            label=series.label,
            zorder=3 if series.style == "markers" else 2,
        )
    elif series.style == "gantt":
        ys = [rows.setdefault(str(y), len(rows)) for y in series.y]
        ax.barh(
            ys,
            list(series.width),
            left=_numeric(series.x),
            height=0.6,
            color=colour,
            edgecolor="white",
            linewidth=0.5,
            label=series.label,
        )


def _draw_bars_mpl(ax: Axes, figure: Figure) -> None:
    categories = list(dict.fromkeys(str(c) for s in figure.series for c in s.x))
    positions = np.arange(len(categories))
    stacked = any(s.stack for s in figure.series)
    left = np.zeros(len(categories))
    height = 0.8 / (1 if stacked else len(figure.series))
    for index, series in enumerate(figure.series):
        values = np.zeros(len(categories))
        for category, value in zip(series.x, series.y, strict=True):
            values[categories.index(str(category))] = float(value)
        colour = COLOURS[index % len(COLOURS)]
        if stacked:
            ax.barh(positions, values, left=left, height=height, color=colour, label=series.label)
            left += values
        else:
            offset = (index - (len(figure.series) - 1) / 2) * height
            bars = ax.barh(
                positions + offset, values, height=height, color=colour, label=series.label
            )
            if len(figure.series) == 1:
                ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
    ax.set_yticks(positions, categories, fontsize=8)
    ax.invert_yaxis()


def draw_figure(ax: Axes, figure: Figure) -> None:
    """Draw ``figure`` on a matplotlib Axes, with units on both axes."""
    bars = all(s.style in ("bar", "hbar") for s in figure.series)
    if bars:
        _draw_bars_mpl(ax, figure)
    else:
        rows = {name: index for index, name in enumerate(figure.y_categories)}
        for index, series in enumerate(figure.series):
            _draw_series_mpl(ax, series, _colour(series, index), rows)
        if rows:
            ax.set_yticks(list(rows.values()), list(rows), fontsize=8)
            ax.invert_yaxis()
    if figure.x_scale == "log2":
        xs = [float(x) for s in figure.series for x in s.x]
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(size_ticks(min(xs), max(xs))))
        ax.xaxis.set_minor_locator(NullLocator())
        label = _size_text if figure.x_sizes else _count_text
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: label(v)))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    if figure.y_scale == "log10":
        ax.set_yscale("log")
    elif figure.y_from_zero and not bars and figure.y_scale != "category":
        ax.set_ylim(bottom=0)
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(figure.y_label)
    ax.set_title(figure.title, fontsize=10)
    ax.grid(alpha=0.3)
    if any(s.style == "gantt" for s in figure.series) and len(figure.series) > 1:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # off the bars
    elif len(figure.series) > 1 or any(s.style == "markers" for s in figure.series):
        ax.legend(fontsize=7)


# -- plotly -----------------------------------------------------------------------------------


def _trace(series: Series, colour: str) -> dict[str, Any]:
    hover = list(series.hover) if series.hover else None
    if series.style in ("line", "line+markers", "markers"):
        mode = {"line": "lines", "line+markers": "lines+markers", "markers": "markers"}
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": mode[series.style],
            "name": series.label,
            "x": _numeric(series.x),
            "y": _numeric(series.y),
            "line": {"color": colour, "dash": "dash" if series.dashed else "solid"},
            "marker": {"color": colour, "size": 7 if series.style == "markers" else 5},
        }
    elif series.style == "gantt":
        trace = {
            "type": "bar",
            "orientation": "h",
            "name": series.label,
            "base": _numeric(series.x),
            "x": list(series.width),
            "y": [str(y) for y in series.y],
            "marker": {"color": colour},
        }
    else:
        trace = {
            "type": "bar",
            "orientation": "h",
            "name": series.label,
            "x": _numeric(series.y),
            "y": [str(x) for x in series.x],
            "marker": {"color": colour},
        }
    if hover:
        trace["hovertext"] = hover
        trace["hovertemplate"] = "%{hovertext}<extra></extra>"
    return trace


def plotly_figure(figure: Figure) -> str:
    """The figure as plotly JSON (``{"data": [...], "layout": {...}}``) for ``Plotly.newPlot``,
    checked and completed (template expanded) by plotly's own figure class."""
    import plotly.graph_objects as go

    bars = all(s.style in ("bar", "hbar") for s in figure.series)
    data = [_trace(series, _colour(series, index)) for index, series in enumerate(figure.series)]
    x_axis: dict[str, Any] = {"title": {"text": figure.x_label}, "zeroline": False}
    y_axis: dict[str, Any] = {"title": {"text": figure.y_label}}
    if figure.x_scale == "log2":
        xs = [float(x) for s in figure.series for x in s.x]
        ticks = size_ticks(min(xs), max(xs))
        label = _size_text if figure.x_sizes else _count_text
        x_axis.update(type="log", tickvals=ticks, ticktext=[label(t) for t in ticks])
    if figure.y_scale == "log10":
        y_axis["type"] = "log"
    elif figure.y_from_zero and not bars and figure.y_scale != "category":
        y_axis["rangemode"] = "tozero"
    if bars or any(s.style == "gantt" for s in figure.series):
        y_axis["autorange"] = "reversed"
        y_axis["automargin"] = True
    if figure.y_categories:
        y_axis.update(categoryorder="array", categoryarray=list(figure.y_categories))
    layout: dict[str, Any] = {
        "title": {"text": figure.title, "font": {"size": 14}},
        "xaxis": x_axis,
        "yaxis": y_axis,
        "hovermode": "closest",
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.25},
        "template": "plotly_white",
        "height": max(380, 120 + 26 * max(len(s.x) for s in figure.series))
        if bars
        else max(420, 140 + 24 * len(figure.y_categories)),
    }
    if bars:
        layout["barmode"] = "stack" if any(s.stack for s in figure.series) else "group"
    if any(s.style == "gantt" for s in figure.series):
        layout["barmode"] = "overlay"
    text: str = go.Figure(data=data, layout=layout).to_json()
    return text
