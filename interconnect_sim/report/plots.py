"""Plots of predictions against measurements. Functions draw on an Axes the caller owns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.axes import Axes

from interconnect_sim.engines.records import CollectiveEstimate
from interconnect_sim.report.figures import draw_figure

__all__ = ["plot_busbw", "plot_busbw_vs_size"]


def plot_busbw_vs_size(
    ax: Axes,
    curve: pd.DataFrame,
    measured: pd.DataFrame | None = None,
    *,
    label: str = "",
) -> None:
    """busbw against message size, nccl-tests style: the predicted curve, measured points on top.

    Parameters
    ----------
    ax : Axes
        Target axes (log2 sizes labelled ``1KiB .. 8GiB``; GB = 1e9 B per nccl-tests).
    curve : DataFrame
        Columns ``bytes`` and ``busbw_GBps`` of the prediction.
    measured : DataFrame, optional
        Columns ``bytes`` and ``busbw_GBps`` of the measurement.
    label : str
        Legend label of the predicted curve.
    """
    from interconnect_sim.scenarios.result import Figure, Series

    series = [
        Series(
            label=label or "predicted",
            x=tuple(float(b) for b in curve["bytes"]),
            y=tuple(float(v) for v in curve["busbw_GBps"]),
            style="line",
        )
    ]
    if measured is not None and not measured.empty:
        series.append(
            Series(
                label="measured (nccl-tests)",
                x=tuple(float(b) for b in measured["bytes"]),
                y=tuple(float(v) for v in measured["busbw_GBps"]),
                style="markers",
            )
        )
    draw_figure(
        ax,
        Figure(
            name="busbw",
            title="",
            x_label="message size (bytes, nccl-tests convention)",
            y_label="busbw (GB/s, 1 GB = 1e9 B)",
            series=tuple(series),
            x_scale="log2",
        ),
    )


def plot_busbw(
    ax: Axes,
    curves: Mapping[str, CollectiveEstimate] | Sequence[tuple[str, CollectiveEstimate]],
    measured: pd.DataFrame | None = None,
    *,
    title: str = "",
) -> None:
    """busbw against message size in the style of nccl-tests plots: one line per estimate,
    sizes labelled ``1KiB .. 8GiB`` on a log2 axis, measured points (``bytes``, ``busbw_GBps``)
    on top.

    Parameters
    ----------
    ax : Axes
    curves : mapping or sequence of (label, CollectiveEstimate)
    measured : DataFrame, optional
        Columns ``bytes`` and ``busbw_GBps`` (e.g. rows of ``load_measurements()``).
    title : str
    """
    from interconnect_sim.scenarios.result import Figure, Series

    items = list(curves.items()) if isinstance(curves, Mapping) else list(curves)
    series = [
        Series(
            label=label,
            x=tuple(float(s) for s in est.size_bytes),
            y=tuple(float(b) / 1e9 for b in est.busbw_bytes_per_s),
            style="line+markers",
        )
        for label, est in items
    ]
    if measured is not None and not measured.empty:
        series.append(
            Series(
                label="measured (nccl-tests)",
                x=tuple(float(b) for b in measured["bytes"]),
                y=tuple(float(v) for v in measured["busbw_GBps"]),
                style="markers",
            )
        )
    draw_figure(
        ax,
        Figure(
            name="busbw",
            title=title,
            x_label="message size (bytes, nccl-tests convention)",
            y_label="busbw (GB/s, 1 GB = 1e9 B)",
            series=tuple(series),
            x_scale="log2",
        ),
    )
