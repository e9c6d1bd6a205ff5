"""The ``run`` command: any scenario file, written up as a report folder."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from interconnect_sim import __version__
from interconnect_sim.cli.progress import Bar, progress_bar
from interconnect_sim.files import check_output_folder

__all__ = ["add_scenario_command", "run_scenario_command"]


def add_scenario_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``run``."""
    parser = commands.add_parser(
        "run",
        help="run a scenario file and write its report (HTML, CSV, Markdown, plots)",
        description="Run a scenario of any kind (collective, replay, training, compare, plan; "
        "schema in docs/scenarios.md) and write a report folder: report.html (self-contained, "
        "opens offline), summary.csv, summary.md, and every plot as PNG and SVG.",
    )
    parser.add_argument("scenario", type=Path, help="scenario TOML file")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="report folder, replaced whole (default: out/<scenario file name>)",
    )


def run_scenario_command(args: argparse.Namespace) -> int:
    """Run ``run``."""
    from interconnect_sim.report.scenario_report import write_report
    from interconnect_sim.scenarios import load_scenario, run_scenario

    scenario = load_scenario(args.scenario)
    out = args.out if args.out is not None else Path("out") / args.scenario.stem
    check_output_folder(out, "--out")
    bar: Bar | None = progress_bar(f"{scenario.kind} {scenario.name}", "step")
    try:
        result = run_scenario(scenario, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    given = ["--out", str(args.out)] if args.out is not None else []
    command = shlex.join(["interconnect-sim", "run", str(args.scenario), *given])
    report = write_report(result, out, command=command, version=__version__)
    print(f"{result.name} ({result.kind})")
    for line in result.headline:
        print(f"  {line}")
    print(f"What limits it: {result.bottleneck}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"Report: {report}")
    return 0
