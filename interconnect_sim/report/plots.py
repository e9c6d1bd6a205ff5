"""Plots of predictions against measurements. Functions draw on an Axes the caller owns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["plot_busbw_vs_size"]


def plot_busbw_vs_size(
    ax: Axes,
    curve: pd.DataFrame,
    measured: pd.DataFrame | None = None,
    *,
    label: str = "",
) -> None:
    """busbw against message size: the predicted curve, measured points on top.

    Parameters
    ----------
    ax : Axes
        Target axes (log-x, GB = 1e9 B per nccl-tests).
    curve : DataFrame
        Columns ``bytes`` and ``busbw_GBps`` of the prediction.
    measured : DataFrame, optional
        Columns ``bytes`` and ``busbw_GBps`` of the measurement.
    label : str
        Legend label of the predicted curve.
    """
    ax.plot(curve["bytes"], curve["busbw_GBps"], color="#1f77b4", label=label or "predicted")
    if measured is not None and not measured.empty:
        ax.scatter(
            measured["bytes"],
            measured["busbw_GBps"],
            s=14,
            color="#d62728",
            zorder=3,
            label="measured (nccl-tests)",
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("message size (bytes, nccl-tests convention)")
    ax.set_ylabel("busbw (GB/s, 1 GB = 1e9 B)")
    ax.set_ylim(bottom=0)
    ticks = 2.0 ** np.arange(0, 41, 4)
    ax.set_xticks(ticks[(ticks >= curve["bytes"].min() / 2) & (ticks <= curve["bytes"].max() * 2)])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
