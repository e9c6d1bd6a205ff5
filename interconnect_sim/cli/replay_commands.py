"""The ``replay`` command and the engine choice shared with ``collective``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from interconnect_sim.cli.common import (
    PROG,
    add_calibration_option,
    add_fabric_options,
    calibration_from,
    catalog_from,
    print_warnings,
)
from interconnect_sim.cli.fabric_commands import fabric_request_from_args
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.records import ReplayResult
from interconnect_sim.errors import ScenarioError
from interconnect_sim.importers.traces import load_trace
from interconnect_sim.topology.presets import build_fabric
from interconnect_sim.units import format_duration, format_size

__all__ = ["add_replay_command", "run_replay_command"]

ENGINES = ("des", "analytic", "both")


def add_replay_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``replay``."""
    parser = commands.add_parser(
        "replay",
        help="replay a collective trace (JSON Lines) on a fabric, with contention",
        description="Replay the calls of a trace (docs/trace-format.md) on a fabric. The "
        "discrete-event engine shares link bandwidth between concurrent calls (max-min "
        "fairness); the analytic engine times each call alone. Ranks are numbered node by node "
        "(rank = node x GPUs per node + local GPU).",
    )
    parser.add_argument(
        "trace",
        type=Path,
        nargs="+",
        help="JSON Lines trace (one call per line), or PyTorch profiler / Chakra traces, one "
        "file per rank (docs/importers.md)",
    )
    add_fabric_options(parser, system_flag=True)
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="des",
        help="des (default), analytic, or both side by side",
    )
    add_calibration_option(parser)
    parser.add_argument(
        "--copies",
        choices=("auto", "merged", "separate"),
        default="auto",
        help="lines with copies: one flow for identical copies (merged), or flows per copy "
        "(separate); auto merges unless a what-if changed the network",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write calls.csv, links.csv, timeline.png, links-heatmap.png",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--top-links",
        type=int,
        default=10,
        metavar="N",
        help="how many of the most loaded links to list (default 10)",
    )


_MAX_ROWS = 40


def _format_results(results: list[ReplayResult], top: int) -> str:
    first = results[0]
    lines = []
    more = len(first.calls) - _MAX_ROWS
    if len(results) == 1:
        lines.append(
            f"{'id':<18}{'op':<15}{'size':>10}{'ranks':>7}  {'start':>11}{'end':>11}"
            f"{'duration':>11}  algo/proto"
        )
        for c in first.calls[:_MAX_ROWS]:
            lines.append(
                f"{c.id:<18}{c.op:<15}{format_size(c.size_bytes, binary=True):>10}"
                f"{c.rank_count:>7}  {format_duration(c.start_s):>11}"
                f"{format_duration(c.end_s):>11}{format_duration(c.duration_s):>11}  "
                f"{c.algorithm}/{c.protocol}"
            )
        if more > 0:
            lines.append(f"... and {more} more (--json or --out DIR for every call)")
        lines.append(f"makespan: {format_duration(first.makespan_s)} ({first.engine})")
    else:
        other = {c.id: c for c in results[1].calls}
        lines.append(
            f"{'id':<18}{'op':<15}{'size':>10}{'ranks':>7}  "
            f"{results[0].engine + ' dur':>13}{results[1].engine + ' dur':>14}"
            f"{'des vs analytic':>17}"
        )
        for c in first.calls[:_MAX_ROWS]:
            d = other[c.id]
            rel = c.duration_s / d.duration_s - 1.0 if d.duration_s else 0.0
            lines.append(
                f"{c.id:<18}{c.op:<15}{format_size(c.size_bytes, binary=True):>10}"
                f"{c.rank_count:>7}  {format_duration(c.duration_s):>13}"
                f"{format_duration(d.duration_s):>14}{rel:>+17.1%}"
            )
        rel = first.makespan_s / results[1].makespan_s - 1.0
        if more > 0:
            lines.append(f"... and {more} more (--json or --out DIR for every call)")
        lines.append(
            f"makespan: {first.engine} {format_duration(first.makespan_s)}, "
            f"{results[1].engine} {format_duration(results[1].makespan_s)} "
            f"({rel:+.1%})"
        )
    des = next((r for r in results if r.engine == "des"), None)
    if des is not None and des.links:
        lines.append("most loaded links (time-averaged utilisation, des):")
        lines.extend(
            f"  {link.src} -> {link.dst}: {link.utilisation:.1%}" for link in des.links[:top]
        )
        lines.append(f"simulation: {des.events} events, {des.rate_computations} rate computations")
    return "\n".join(lines)


def run_replay_command(args: argparse.Namespace) -> int:
    """Run ``replay``."""
    imported = load_trace(args.trace)
    calls = imported.calls
    for note in imported.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ScenarioError(f"--out {str(args.out)!r} exists and is not a folder")
    catalog = catalog_from(vars(args))
    fabric = build_fabric(catalog, fabric_request_from_args(args))
    calibration = calibration_from(args)
    results: list[ReplayResult] = []
    if args.engine in ("des", "both"):
        bar = progress_bar("replay", "call", len(calls)) if len(calls) >= 50 else None
        progress = None if bar is None else bar.update_to
        try:
            merge = {"auto": None, "merged": True, "separate": False}[args.copies]
            results.append(
                DiscreteEventEngine(catalog, calibration).replay(
                    fabric, calls, progress=progress, merge_copies=merge
                )
            )
        finally:
            if bar is not None:
                bar.close()
    if args.engine in ("analytic", "both"):
        results.append(AnalyticEngine(catalog, calibration).replay(fabric, calls))
    if args.out is not None:
        _write_outputs(args.out, results)
    if args.json:
        payload = results[0].to_json(args.top_links)
        if len(results) == 2:
            payload["compare"] = results[1].to_json(args.top_links)
        print(json.dumps(payload, indent=2))
        print_warnings(fabric, stream=sys.stderr)
    else:
        print(_format_results(results, args.top_links))
        print_warnings(fabric, stream=sys.stdout)
        if args.out is not None:
            print(f"Outputs written to {args.out}/")
    return 0


def _write_outputs(folder: Path, results: list[ReplayResult]) -> None:
    from interconnect_sim.report.drawing import save_figure
    from interconnect_sim.report.replay_outputs import (
        plot_link_heatmap,
        plot_timeline,
        write_calls_csv,
        write_links_csv,
    )

    folder.mkdir(parents=True, exist_ok=True)
    write_calls_csv(folder / "calls.csv", results)
    main = results[0]
    save_figure(folder / "timeline.png", lambda ax: plot_timeline(ax, main), size=(10, 4))
    des = next((r for r in results if r.engine == "des"), None)
    if des is not None:
        write_links_csv(folder / "links.csv", des)
        save_figure(
            folder / "links-heatmap.png", lambda ax: plot_link_heatmap(ax, des), size=(10, 6)
        )
