"""Files and plots of a trace replay: calls.csv, links.csv, timeline and link heatmap."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from interconnect_sim.engines.records import ReplayResult
from interconnect_sim.files import write_atomically

__all__ = ["plot_link_heatmap", "plot_timeline", "write_calls_csv", "write_links_csv"]

_MIN_UTILISATION = 0.01


def write_calls_csv(path: Path, results: list[ReplayResult]) -> None:
    """One row per call per engine: times in seconds, sizes in bytes."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "engine",
                    "id",
                    "op",
                    "bytes",
                    "ranks",
                    "group",
                    "start_s",
                    "end_s",
                    "duration_s",
                    "algo",
                    "proto",
                    "tag",
                    "copies",
                ]
            )
            for result in results:
                for c in result.calls:
                    writer.writerow(
                        [
                            result.engine,
                            c.id,
                            c.op,
                            int(c.size_bytes),
                            c.rank_count,
                            c.group,
                            c.start_s,
                            c.end_s,
                            c.duration_s,
                            c.algorithm,
                            c.protocol,
                            c.tag,
                            c.copies,
                        ]
                    )

    write_atomically(path, write)


def write_links_csv(path: Path, result: ReplayResult) -> None:
    """Utilisation of each link (load over capacity, protocol overhead included) per interval
    of constant rates; links under 1 % in an interval are left out."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["start_s", "end_s", "src", "dst", "utilisation"])
            for interval in result.intervals:
                keep = interval.utilisation >= _MIN_UTILISATION
                for edge, value in zip(
                    interval.edges[keep], interval.utilisation[keep], strict=True
                ):
                    src, dst = result.edges[int(edge)]
                    writer.writerow(
                        [interval.start_s, interval.end_s, src, dst, round(float(value), 6)]
                    )

    write_atomically(path, write)


def plot_timeline(ax: Axes, result: ReplayResult) -> None:
    """Gantt chart of calls, one row per communicator group, time in milliseconds."""
    groups = list(dict.fromkeys(c.group for c in result.calls))
    colours = {op: f"C{i}" for i, op in enumerate(dict.fromkeys(c.op for c in result.calls))}
    for call in result.calls:
        row = groups.index(call.group)
        ax.barh(
            row,
            call.duration_s * 1e3,
            left=call.start_s * 1e3,
            height=0.6,
            color=colours[call.op],
            edgecolor="white",
            linewidth=0.5,
        )
    ax.set_yticks(range(len(groups)), groups, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("communicator")
    handles = [Patch(color=colour, label=op) for op, colour in colours.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_title(f"{result.engine}: makespan {result.makespan_s * 1e3:.3f} ms", fontsize=9)


def plot_link_heatmap(ax: Axes, result: ReplayResult, *, top: int = 30, bins: int = 200) -> None:
    """Utilisation of the most loaded links over time (rows: links, columns: time bins)."""
    links = result.links[:top]
    if not links or not result.intervals:
        ax.text(0.5, 0.5, "no link load recorded", ha="center", va="center")
        return
    position = {edge: i for i, edge in enumerate(result.edges)}
    row_of = np.full(len(result.edges), -1)
    for row, link in enumerate(links):
        row_of[position[(link.src, link.dst)]] = row
    grid = np.zeros((len(links), bins))
    edges = np.linspace(0.0, result.makespan_s, bins + 1)
    for interval in result.intervals:
        lo = max(0, int(np.searchsorted(edges, interval.start_s, side="right")) - 1)
        hi = max(lo + 1, int(np.searchsorted(edges, interval.end_s, side="left")))
        rows = row_of[interval.edges]
        keep = rows >= 0
        for row, value in zip(rows[keep], interval.utilisation[keep], strict=True):
            grid[row, lo:hi] = np.maximum(grid[row, lo:hi], value)
    image = ax.imshow(
        grid,
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        vmin=0,
        vmax=max(1.0, float(grid.max())),
        extent=(0, result.makespan_s * 1e3, len(links) - 0.5, -0.5),
    )
    ax.set_yticks(range(len(links)), [f"{link.src} -> {link.dst}" for link in links], fontsize=6)
    ax.set_xlabel("time (ms)")
    ax.figure.colorbar(image, ax=ax, label="utilisation (load / capacity)")
    ax.set_title("most loaded links", fontsize=9)
