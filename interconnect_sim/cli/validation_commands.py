"""The ``validate`` and ``calibrate`` commands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from interconnect_sim.calibration.model import load_calibration
from interconnect_sim.calibration.writer import write_calibration
from interconnect_sim.cli.common import PROG, add_catalog_option, catalog_from, positive_int
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.importers import RunDefaults, load_measurement_files
from interconnect_sim.specs import Catalog
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.validation.fit import fit_calibration
from interconnect_sim.validation.harness import Predictor, Score, score_predictions
from interconnect_sim.validation.measurements import (
    SHIPPED_MEASUREMENTS,
    fabric_request,
    load_measurements,
)

__all__ = ["add_validation_commands", "run_validation_command"]


def add_validation_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``validate`` and ``calibrate``."""
    validate = commands.add_parser(
        "validate",
        help="score predictions against measured nccl-tests results",
        description="Per system class and op: median and worst absolute % error of busbw at "
        ">= 64 MiB and of time at <= 64 KiB. Without --measurements, the shipped healthy rows.",
    )
    _add_measurement_options(validate)
    validate.add_argument("--calibration", type=Path, metavar="FILE")
    add_catalog_option(validate)
    validate.add_argument("--json", action="store_true", help="print groups and overall as JSON")
    validate.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write busbw-vs-size plots, measured over predicted, per group",
    )
    calibrate = commands.add_parser(
        "calibrate",
        help="fit efficiencies and latencies to measured nccl-tests results",
        description="Fit on rows with fit_role=fit; report held-out rows separately. Writes a "
        "calibration file usable with --calibration.",
    )
    _add_measurement_options(calibrate)
    calibrate.add_argument(
        "--out",
        type=Path,
        default=Path("calibration.toml"),
        metavar="FILE",
        help="where to write the fitted calibration (default ./calibration.toml)",
    )
    calibrate.add_argument("--sweeps", type=int, default=3, help="coordinate-descent passes")
    add_catalog_option(calibrate)


def _add_measurement_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--measurements",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="nccl-tests logs (text or -J JSON), NCCL Inspector files, or CSV in the schema of "
        "docs/measurements.md; the format is detected (docs/importers.md)",
    )
    logs = parser.add_argument_group("for logs that do not say it")
    logs.add_argument(
        "--system",
        help="the system the logged runs ran on: preset id, system .toml file or NCCL XML dump",
    )
    logs.add_argument("--nodes", type=positive_int, help="nodes in the logged runs")
    logs.add_argument("--gpus-per-node", type=positive_int, metavar="N", help="GPUs per node")
    logs.add_argument("--op", help="collective, when the log does not name its binary")


def _measurements(args: argparse.Namespace, catalog: Catalog) -> pd.DataFrame:
    """The rows of --measurements (any format), or the shipped ones; notes go to stderr."""
    if not args.measurements:
        return load_measurements(None, catalog)
    system = args.system
    if system is not None and is_system_path(system):  # from here, not from the log's folder
        system = str(Path(system).resolve())
    defaults = RunDefaults(
        system=system, nodes=args.nodes, gpus_per_node=args.gpus_per_node, op=args.op
    )
    imported = load_measurement_files(args.measurements, catalog, defaults)
    for note in imported.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    return imported.frame


def run_validation_command(args: argparse.Namespace) -> int:
    """Dispatch ``validate`` or ``calibrate``."""
    if args.command == "validate":
        return _cmd_validate(args)
    return _cmd_calibrate(args)


def _format_score(score: Score) -> str:
    groups = score.groups
    lines = [
        f"{'system class':<34}{'op':<16}{'role':<9}{'rows':>5}"
        f"{'busbw med%':>12}{'busbw max%':>12}{'time med%':>11}",
    ]

    def cell(value: object) -> str:
        return (
            "-"
            if value is None or (isinstance(value, float) and np.isnan(value))
            else (f"{value:.1f}")
        )

    for row in groups.itertuples():
        lines.append(
            f"{row.system:<34}{row.op:<16}{row.fit_role:<9}{row.n:>5}"
            f"{cell(row.median_abs_pct_error_busbw):>12}{cell(row.max_abs_pct_error_busbw):>12}"
            f"{cell(row.median_abs_pct_error_time):>11}"
        )
    overall = score.overall
    lines.append(
        f"{'overall':<34}{'':<16}{'':<9}{overall['n']:>5}"
        f"{cell(overall['median_abs_pct_error_busbw']):>12}"
        f"{cell(overall['max_abs_pct_error_busbw']):>12}"
        f"{cell(overall['median_abs_pct_error_time']):>11}"
    )
    lines.append("busbw errors at >= 64 MiB, time errors at <= 64 KiB; '-' = no such rows")
    return "\n".join(lines)


def _cmd_validate(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    measurements = _measurements(args, catalog)
    engine = AnalyticEngine(catalog, load_calibration(args.calibration))
    predictor = Predictor(engine)
    bar = progress_bar("validate", "group")
    try:
        predicted = predictor.predict(measurements, None if bar is None else bar.update_to)
    finally:
        if bar is not None:
            bar.close()
    score = score_predictions(predicted)
    if args.plots is not None:
        _write_plots(args.plots, predicted, engine)
    if args.json:
        print(json.dumps(score.to_json(), indent=2))
    else:
        print(_format_score(score))
        if args.plots is not None:
            print(f"Plots written to {args.plots}/")
    return 0


def _write_plots(folder: Path, predicted: pd.DataFrame, engine: AnalyticEngine) -> None:
    from interconnect_sim.report.drawing import save_figure
    from interconnect_sim.report.plots import plot_busbw_vs_size

    if not folder.exists():
        folder.mkdir(parents=True)
    keys = ["class", "op", "nodes", "gpus_per_node", "algo", "proto"]
    for values, group in predicted.groupby(keys, sort=True):
        klass, op, nodes, gpn, algo, proto = values
        first = group.iloc[0]
        fabric = engine_fabric(engine, first)
        sizes = 2.0 ** np.arange(
            np.log2(group["bytes"].min()), np.log2(group["bytes"].max()) + 0.25, 0.25
        )
        estimate = engine.estimate(
            fabric,
            CollectiveOp(op),
            sizes,
            gpus_per_node=int(gpn),
            algorithm=algo or None if op not in ("alltoall", "sendrecv") else None,
            protocol=proto or None if op not in ("alltoall", "sendrecv") else None,
        )
        curve = pd.DataFrame({"bytes": sizes, "busbw_GBps": estimate.busbw_bytes_per_s / 1e9})
        title = f"{klass}: {op}, {nodes} node(s) x {gpn} GPU(s)" + (f", {algo}" if algo else "")
        name = "-".join(str(v) for v in (klass, op, nodes, gpn, algo, proto) if v != "")
        safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)

        def draw(ax, curve=curve, group=group, title=title):  # type: ignore[no-untyped-def]
            plot_busbw_vs_size(ax, curve, group[["bytes", "busbw_GBps"]], label="predicted")
            ax.set_title(title, fontsize=9)

        save_figure(folder / f"{safe}.png", draw)


def engine_fabric(engine: AnalyticEngine, row: pd.Series):  # type: ignore[no-untyped-def]
    """Build the fabric of one measurement row."""
    from interconnect_sim.topology.presets import build_fabric

    return build_fabric(engine.catalog, fabric_request(row))


def _cmd_calibrate(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    path = args.measurements[0] if args.measurements else SHIPPED_MEASUREMENTS
    measurements = _measurements(args, catalog)
    if args.sweeps < 1:
        raise ScenarioError("--sweeps must be at least 1")
    if not args.out.parent.exists():
        raise ScenarioError(f"--out: folder {str(args.out.parent)!r} does not exist")
    engine = AnalyticEngine(catalog, load_calibration())
    result = fit_calibration(engine, measurements, sweeps=args.sweeps)
    score = score_predictions(Predictor(engine).predict(measurements))
    fit_rows = measurements[measurements["fit_role"] == "fit"]
    held = measurements[measurements["fit_role"] == "holdout"]
    fit_info = {
        "measurements": str(path.name),
        "fitted_on": dt.date.today().isoformat(),
        "fit_rows": len(fit_rows),
        "fit_runs": sorted({str(r) for r in fit_rows["run_id"] if r}),
        "holdout_rows": len(held),
        "holdout_systems": sorted({str(s) for s in held["measured_system"] if s}),
        "objective_bandwidth": round(result.objective_bandwidth, 5),
        "objective_latency": round(result.objective_latency, 5),
        "median_abs_pct_error_busbw": score.overall["median_abs_pct_error_busbw"],
        "median_abs_pct_error_time": score.overall["median_abs_pct_error_time"],
    }
    sources = [
        {
            "kind": "measurement",
            "title": "Healthy nccl-tests rows (fit_role = fit) of the measurement file",
            "url": str(path.name),
            "locator": "rows with fit_role = fit; each row names its own source_url",
            "quote": f"{len(fit_rows)} rows from {fit_rows['run_id'].nunique()} runs",
            "grade": "measured",
        }
    ]
    write_calibration(
        args.out, result.calibration, constants="nccl-2.30", fit=fit_info, sources=sources
    )
    for name, value in result.parameters.items():
        shown = f"{value * 1e6:.2f} us" if "latency" in name else f"{value:.4f}"
        print(f"{name:<36}{shown}")
    print()
    print(_format_score(score))
    print(f"\nCalibration written to {args.out}")
    return 0
