"""The ``plan`` command: run a sweep file and write its designs, plots and summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from interconnect_sim.cli.common import positive_int
from interconnect_sim.files import check_output_folder, write_atomically
from interconnect_sim.planning.executors import RowStore, run_sweep, settings_for
from interconnect_sim.planning.recheck import RECHECKS, merge_rechecks
from interconnect_sim.planning.sweep import Sweep, load_sweep
from interconnect_sim.planning.verdict import verdict
from interconnect_sim.scenarios.options import add_calibration_option

__all__ = ["add_planning_commands", "run_planning_command"]


def add_planning_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``plan``."""
    plan = commands.add_parser(
        "plan",
        help="evaluate a sweep of cluster designs (sizing, layout, BOM, power, cost)",
        description="Evaluates every design point of a sweep file (docs/planning.md): builds its "
        "fabric, searches or checks its parallel layout, times a step, counts its bill of "
        "materials, power and cost, and its time to train with and without failures. Rows "
        "stream to OUT/designs.parquet as they finish; a re-run into the same folder resumes. "
        "Writes designs.csv, pareto.png, scaling.png and summary.md.",
    )
    plan.add_argument("sweep", type=Path, metavar="SWEEP.toml")
    plan.add_argument("--out", type=Path, help="output folder (default: out/<sweep name>)")
    where = plan.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="local worker processes (default: every core)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786"
    )
    where.add_argument(
        "--dask-workers",
        type=positive_int,
        metavar="N",
        help="start a local Dask cluster of N worker processes for the run",
    )
    add_calibration_option(plan)
    plan.add_argument("--no-progress", action="store_true", help="no progress bar")
    plan.add_argument("--json", action="store_true", help="print the run's figures as JSON")


def _write_outputs(out: Path, sweep: Sweep, stats: Any) -> dict[str, Any]:
    from interconnect_sim.report.planning_outputs import (
        pareto_figure,
        scaling_figure,
        summary_markdown,
        write_figure,
    )

    store = RowStore(out)
    frame = store.read()
    ids = {p.design_id for p in sweep.points()}
    others = int((~frame["design_id"].isin(ids)).sum())
    frame = frame[frame["design_id"].isin(ids)].copy()
    settings = settings_for(sweep)
    records = frame.to_dict("records")
    for record in records:  # verdicts follow the sweep file as it is now
        for key, value in record.items():
            if value is not None and value != value:  # NaN / NA to None
                record[key] = None
        verdict(record, settings.objective, settings.constraints)
    for column in ("objective", "feasible", "infeasible_reasons"):
        frame[column] = [r[column] for r in records]
    rechecks = RowStore(out, RECHECKS).read()
    frame = merge_rechecks(frame, rechecks[rechecks["design_id"].isin(ids)])
    order = [c for c in ("feasible", "objective", "run_cost", "energy_mwh") if c in frame]
    frame = frame.sort_values(order, ascending=[c != "feasible" for c in order])

    def write_csv(tmp: Path) -> None:
        frame.to_csv(tmp, index=False)

    write_atomically(out / "designs.csv", write_csv)
    write_figure(out / "pareto.png", pareto_figure(frame))
    write_figure(out / "scaling.png", scaling_figure(frame))
    prices = str(sweep.prices) if sweep.prices else "none (energy instead of cost)"
    summary = summary_markdown(frame, sweep=sweep.name, objective=sweep.objective, prices=prices)

    def write_summary(tmp: Path) -> None:
        tmp.write_text(summary, encoding="utf-8")

    write_atomically(out / "summary.md", write_summary)
    best = frame[frame["feasible"] == True].head(5)  # noqa: E712
    return {
        "sweep": sweep.name,
        "out": str(out),
        "points": stats.points,
        "skipped_already_done": stats.skipped,
        "evaluated": stats.evaluated,
        "errors": stats.errors,
        "elapsed_s": stats.elapsed_s,
        "executor": stats.executor,
        "rechecked": stats.rechecked,
        "rows_of_other_sweeps": others,
        "feasible": int(frame["feasible"].sum()),
        "best": [
            {k: (None if v != v else v) for k, v in row.items()}
            for row in best[
                [
                    "system",
                    "network",
                    "gpus",
                    "nodes",
                    "oversubscription",
                    "tp",
                    "pp",
                    "cp",
                    "dp",
                    "time_to_train_with_failures_days",
                    "run_cost",
                    "objective",
                ]
            ].to_dict("records")
        ],
    }


def run_planning_command(args: argparse.Namespace) -> int:
    """Run ``plan``."""
    sweep = load_sweep(args.sweep)
    if args.calibration is not None:  # every design point uses it (overrides the sweep's)
        sweep = sweep.with_design("--calibration", calibration=str(args.calibration))
    settings_for(sweep)  # objective/price problems before any work
    out = check_output_folder(args.out or Path("out") / sweep.name, "--out")
    out.mkdir(parents=True, exist_ok=True)
    bar = None
    if not args.no_progress and not args.json:
        from tqdm import tqdm

        bar = tqdm(total=sweep.size(), unit="design", desc=sweep.name)

    def progress(done: int, todo: int) -> None:
        if bar is not None:
            bar.total = todo
            bar.n = done
            bar.refresh()

    try:
        stats = run_sweep(
            sweep,
            out,
            workers=args.workers,
            scheduler=args.scheduler,
            dask_workers=args.dask_workers,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    report = _write_outputs(out, sweep, stats)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(
        f"{sweep.name}: {report['points']} designs ({report['skipped_already_done']} already in "
        f"{out / 'designs.parquet'}), {report['evaluated']} evaluated in "
        f"{report['elapsed_s']:.1f} s on {report['executor']}, {report['errors']} failed, "
        f"{report['feasible']} feasible"
        + (f", {report['rechecked']} re-timed on the DES" if report["rechecked"] else "")
    )
    for i, row in enumerate(report["best"], 1):
        cost = "" if row["run_cost"] is None else f", run cost {row['run_cost']:.4g}"
        network = f" {row['network']}" if row["network"] else ""
        print(
            f"  {i}. {row['system']}{network} x {row['nodes']} ({row['gpus']} GPUs, "
            f"{row['oversubscription']:g}:1): tp {row['tp']} pp {row['pp']} cp {row['cp']} dp "
            f"{row['dp']}, {row['time_to_train_with_failures_days']:.1f} days{cost}"
        )
    if report["rows_of_other_sweeps"]:
        print(
            f"note: {report['rows_of_other_sweeps']} rows in designs.parquet belong to other "
            "design points and are left out of designs.csv and summary.md"
        )
    print(f"wrote {out}/designs.parquet, designs.csv, pareto.png, scaling.png, summary.md")
    return 0
