"""``report.html``: one self-contained page a colleague can open offline.

Everything is inside the file: the styles, plotly.js itself (from the installed plotly package, not
a CDN), the plot data, and the topology drawings as inline SVG. Nothing is fetched when the page
opens; links to sources are plain links a reader may follow.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re

from interconnect_sim.report.figures import plotly_figure
from interconnect_sim.report.tables import html_table
from interconnect_sim.scenarios.result import ScenarioResult, Table

__all__ = ["render_html"]

_CSS = """
body { font: 14px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0;
       color: #1d1d1f; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
header { border-bottom: 3px solid #76b900; margin-bottom: 18px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 30px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #666; font-size: 12.5px; margin-bottom: 10px; }
.kind { display: inline-block; background: #76b900; color: #fff; border-radius: 4px;
        padding: 1px 8px; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.bottleneck { background: #fff7e6; border-left: 5px solid #ff9f1c; padding: 10px 14px;
              margin: 12px 0; font-size: 15px; }
.headline li { margin: 3px 0; }
.plot { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 12px 0;
        min-height: 380px; }
.drawing { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 12px 0;
           padding: 6px; overflow-x: auto; }
.drawing svg { width: 100%; height: auto; }
.table-wrap { overflow-x: auto; max-height: 520px; overflow-y: auto; margin: 8px 0;
              border: 1px solid #e3e3e3; border-radius: 6px; background: #fff; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th { position: sticky; top: 0; background: #f0f0f0; text-align: left; padding: 5px 8px;
     border-bottom: 1px solid #ccc; white-space: nowrap; }
td { padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #555; font-size: 12.5px; margin: 4px 0 10px; }
.warn { color: #8a4b00; }
pre { background: #272822; color: #f8f8f2; padding: 12px; border-radius: 6px; overflow-x: auto;
      font-size: 12.5px; }
.status-inferred { color: #b35c00; font-weight: 600; }
.status-user { color: #6a1b9a; font-weight: 600; }
.status-announced { color: #c62828; font-weight: 600; }
nav a { margin-right: 14px; font-size: 13px; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
"""


_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)
"""The page may load nothing from anywhere: a stray URL is blocked and logged, not fetched."""


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    script: str = get_plotlyjs()
    return script.replace("</script", "<\\/script")


def _svg_inline(svg: str) -> str:
    """An SVG file's content ready to inline (no XML prolog or DOCTYPE)."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.DOTALL)
    return svg.strip()


def _table_section(table: Table, level: str = "h3") -> str:
    note = f"<p class='note'>{html.escape(table.note)}</p>" if table.note else ""
    return f"<{level}>{html.escape(table.title)}</{level}>{note}{html_table(table.frame)}"


def _provenance(result: ScenarioResult) -> str:
    frame = result.provenance
    if frame.empty:
        return "<p class='empty'>(no hardware numbers)</p>"
    counts = frame["status"].value_counts()
    summary = ", ".join(f"{html.escape(str(k))}: {v}" for k, v in counts.items())
    rows = []
    for row in frame.itertuples(False):
        status = str(row.status)
        cls = (
            "status-inferred"
            if status == "inferred"
            else "status-user"
            if status == "user-supplied"
            else "status-announced"
            if status == "announced"
            else ""
        )
        source = html.escape(str(row.source))
        if str(row.url).startswith(("http://", "https://")):
            source = (
                f"<a href='{html.escape(str(row.url), quote=True)}' rel='noreferrer'>{source}</a>"
            )
        rows.append(
            f"<tr><td>{html.escape(str(row.spec))}</td><td>{html.escape(str(row.kind))}</td>"
            f"<td>{html.escape(str(row.quantity))}</td><td class='num'>"
            f"{html.escape(str(row.value))}</td><td class='{cls}'>{html.escape(status)}</td>"
            f"<td>{source}</td></tr>"
        )
    return (
        f"<p class='note'>{len(frame)} hardware numbers from the spec catalog ({summary}). "
        "Values as the spec file states them (bandwidths per direction unless the name says "
        "otherwise; GB = 1e9 bytes). <em>inferred</em> values are not in any public document; "
        "the source column then gives the reasoning.</p>"
        "<div class='table-wrap'><table><thead><tr><th>spec</th><th>kind</th><th>quantity</th>"
        "<th>value (with unit)</th><th>status</th><th>source</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def render_html(
    result: ScenarioResult,
    drawings_svg: list[tuple[str, str]],
    *,
    command: str = "",
    version: str = "",
) -> str:
    """The whole page.

    Parameters
    ----------
    result : ScenarioResult
    drawings_svg : list of (caption, svg text)
        Topology drawings to inline.
    command : str
        The command that made the report, shown in the footer.
    version : str
        The interconnect_sim version.
    """
    esc = html.escape
    plots = []
    scripts = []
    for index, figure in enumerate(result.figures):
        div = f"plot-{index}"
        plots.append(
            f"<div class='plot' id='{div}' data-figure='{esc(figure.name)}'></div>"
            + (f"<p class='note'>{esc(figure.caption)}</p>" if figure.caption else "")
        )
        scripts.append(f"draw({json.dumps(div)}, {plotly_figure(figure)});")
    drawings = "".join(
        f"<h3>{esc(caption)}</h3><div class='drawing'>{_svg_inline(svg)}</div>"
        for caption, svg in drawings_svg
    )
    inputs = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(value)}</td></tr>" for name, value in result.inputs
    )
    tables = "".join(_table_section(t) for t in result.tables)
    validation = (
        _table_section(result.validation, "h2")
        if result.validation is not None
        else "<h2>Validation</h2><p class='note'>Not applicable.</p>"
    )
    warnings = "".join(f"<li class='warn'>{esc(w)}</li>" for w in result.warnings)
    headline = "".join(f"<li>{esc(line)}</li>" for line in result.headline)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    fabric_link = '<a href="#fabric">Fabric</a>' if drawings else ""
    source = esc(str(result.source)) if result.source else "(inline scenario)"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{esc(result.name)}: interconnect_sim report</title>
<style>{_CSS}</style>
<script>{_plotly_js()}</script>
</head>
<body>
<main>
<header>
<span class="kind">{esc(result.kind)}</span>
<h1>{esc(result.name)}</h1>
<p>{esc(result.description)}</p>
<p class="meta">Scenario {source}; made {stamp} by interconnect_sim {esc(version)}.
Bandwidths are bytes per second per direction; GB = 1e9 bytes, GiB = 2^30 bytes.</p>
<nav><a href="#results">Results</a><a href="#plots">Plots</a>{fabric_link}
<a href="#tables">Tables</a><a href="#validation">Validation</a><a href="#inputs">Inputs</a>
<a href="#provenance">Provenance</a></nav>
</header>
<section id="results">
<h2>Results</h2>
<ul class="headline">{headline}</ul>
<div class="bottleneck"><strong>What limits it:</strong> {esc(result.bottleneck)}</div>
{f"<ul>{warnings}</ul>" if warnings else ""}
</section>
<section id="plots"><h2>Plots</h2>
<p class="note">Hover for values; drag to zoom, double-click to reset.</p>
{"".join(plots)}
</section>
{f'<section id="fabric"><h2>Fabric</h2>{drawings}</section>' if drawings else ""}
<section id="tables"><h2>Tables</h2>
{_table_section(result.summary)}
{tables}
</section>
<section id="validation">{validation}</section>
<section id="inputs"><h2>Inputs</h2>
<div class="table-wrap"><table><thead><tr><th>input</th><th>value</th></tr></thead>
<tbody>{inputs}</tbody></table></div>
<h3>Scenario file</h3>
<pre>{esc(result.text)}</pre>
</section>
<section id="provenance"><h2>Provenance of every hardware number</h2>
{_provenance(result)}
</section>
<footer>{esc(command)}</footer>
</main>
<script>
function draw(id, figure) {{
  Plotly.newPlot(id, figure.data, figure.layout, {{displaylogo: false, responsive: true}});
}}
{"".join(scripts)}
</script>
</body>
</html>
"""
