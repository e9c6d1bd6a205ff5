"""Write a scenario's report folder, whole: CSV, Markdown, PNG and SVG plots, ``report.html``.

::

    OUT/
      report.html          one self-contained page (plotly.js and the drawings inside)
      summary.csv          the main table, units in the column names
      summary.md           the same story as Markdown, linking the PNG plots
      <table>.csv          every other table (breakdown, validation, provenance ...)
      <plot>.png/.svg      every plot, static
      fabric-<i>.png/.svg  the topology drawings

The folder is filled under a temporary name and swapped in whole
(:func:`~interconnect_sim.files.write_folder_atomically`): a killed run leaves the old report.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from interconnect_sim.files import write_folder_atomically
from interconnect_sim.report.drawing import draw_fabric
from interconnect_sim.report.figures import draw_figure, figure_size
from interconnect_sim.report.html import render_html
from interconnect_sim.report.tables import markdown_table
from interconnect_sim.scenarios.result import Figure, ScenarioResult, Table

__all__ = ["REPORT_FILES", "write_report"]

REPORT_FILES = ("report.html", "summary.csv", "summary.md")
"""Files every report folder has."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "table"


def _save_plot(folder: Path, figure: Figure) -> None:
    fig, ax = plt.subplots(figsize=figure_size(figure), layout="constrained")
    try:
        draw_figure(ax, figure)
        for suffix in ("png", "svg"):
            fig.savefig(folder / f"{figure.name}.{suffix}", dpi=120)
    finally:
        plt.close(fig)


def _save_drawing(folder: Path, index: int, fabric: object) -> str:
    fig, ax = plt.subplots(figsize=(12, 6.5), layout="constrained")
    try:
        draw_fabric(fabric, ax)  # type: ignore[arg-type]
        fig.savefig(folder / f"fabric-{index}.png", dpi=110)
        fig.savefig(folder / f"fabric-{index}.svg")
    finally:
        plt.close(fig)
    return (folder / f"fabric-{index}.svg").read_text(encoding="utf-8")


def _markdown(result: ScenarioResult) -> str:
    lines = [f"# {result.name}", "", f"*{result.kind} scenario*", ""]
    if result.description:
        lines += [result.description, ""]
    lines += [*(f"- {line}" for line in result.headline), ""]
    lines += [f"**What limits it:** {result.bottleneck}", ""]
    lines += [*(f"> warning: {w}" for w in result.warnings)]
    lines += ["", "Open `report.html` for interactive plots.", ""]
    for figure in result.figures:
        lines += [f"![{figure.title}]({figure.name}.png)", ""]
    for index, (caption, _) in enumerate(result.fabrics):
        lines += [f"![{caption}](fabric-{index}.png)", ""]
    for table in [result.summary, *result.tables]:
        lines += [f"## {table.title}", ""]
        if table.note:
            lines += [table.note, ""]
        lines += [markdown_table(table.frame, limit=60), ""]
    if result.validation is not None:
        lines += [f"## {result.validation.title}", "", result.validation.note, ""]
        lines += [markdown_table(result.validation.frame), ""]
    lines += ["## Inputs", "", "| input | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in result.inputs]
    lines += ["", "## Provenance of every hardware number", ""]
    lines += ["See `provenance.csv` (status: cited, inferred, user-supplied, announced).", ""]
    if not result.provenance.empty:
        counts = result.provenance["status"].value_counts()
        lines += [f"- {status}: {count}" for status, count in counts.items()]
    return "\n".join(lines) + "\n"


def _tables(result: ScenarioResult) -> list[Table]:
    tables = list(result.tables)
    if result.validation is not None and not result.validation.frame.empty:
        tables.append(result.validation)
    tables.append(Table(name="provenance", title="Provenance", frame=result.provenance))
    return tables


def write_report(
    result: ScenarioResult, folder: Path, *, command: str = "", version: str = ""
) -> Path:
    """Write the report folder of ``result`` to ``folder`` (replaced whole); return the path of
    its ``report.html``."""
    folder = Path(folder)
    if not version:
        from interconnect_sim import __version__ as version

    def write(tmp: Path) -> None:
        result.summary.frame.to_csv(tmp / "summary.csv", index=False)
        for table in _tables(result):
            table.frame.to_csv(tmp / f"{_slug(table.name)}.csv", index=False)
        for figure in result.figures:
            _save_plot(tmp, figure)
        drawings = [
            (caption, _save_drawing(tmp, index, fabric))
            for index, (caption, fabric) in enumerate(result.fabrics)
        ]
        (tmp / "summary.md").write_text(_markdown(result), encoding="utf-8")
        page = render_html(result, drawings, command=command, version=version)
        (tmp / "report.html").write_text(page, encoding="utf-8")

    write_folder_atomically(folder, write)
    return folder / "report.html"
