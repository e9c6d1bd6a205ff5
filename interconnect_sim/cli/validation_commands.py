"""The ``validate`` and ``calibrate`` commands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from interconnect_sim.calibration import Calibration
from interconnect_sim.calibration.writer import write_calibration
from interconnect_sim.cli.common import (
    PROG,
    add_calibration_option,
    add_catalog_option,
    calibration_from,
    catalog_from,
    positive_int,
)
from interconnect_sim.cli.progress import progress_bar
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import check_output_file, check_output_folder
from interconnect_sim.importers import RunDefaults, load_measurement_files
from interconnect_sim.specs import Catalog
from interconnect_sim.specs.catalog import is_system_path
from interconnect_sim.validation.calibrate import ScopedFit, fit_scoped, residuals
from interconnect_sim.validation.crossval import CrossValidation, cross_validate
from interconnect_sim.validation.fit import FitResult, fit_calibration
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
        ">= 64 MiB and of time at <= 64 KiB. Without --measurements, the shipped healthy rows. "
        "With --cross-validate, refit without each system (or GPU generation) and predict it.",
    )
    _add_measurement_options(validate)
    add_calibration_option(validate)
    add_catalog_option(validate)
    validate.add_argument("--json", action="store_true", help="print groups and overall as JSON")
    validate.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write busbw-vs-size plots, measured over predicted, per group",
    )
    validate.add_argument(
        "--cross-validate",
        choices=("system", "generation"),
        help="leave one measured system (or GPU generation) out of the fit, predict it, and "
        "report median/p90/max error per group, algorithm and size band beside the in-sample "
        "errors",
    )
    validate.add_argument(
        "--sweeps", type=positive_int, default=2, help="with --cross-validate: passes per fit"
    )
    calibrate = commands.add_parser(
        "calibrate",
        help="fit efficiencies and latencies to measured nccl-tests results",
        description="Starts from the shipped calibration (or --calibration FILE) and fits only "
        "the parameters the rows inform, per system, into [[scoped]] entries that apply to "
        "that system alone; every other prediction keeps the starting values. --global refits "
        "the global values instead (--from-neutral: from the fixed neutral start, as the "
        "shipped file is made). Prints the fitted values, the residuals per op and size band, "
        "and the range the fit covers.",
    )
    _add_measurement_options(calibrate)
    add_calibration_option(calibrate)
    add_catalog_option(calibrate)
    calibrate.add_argument(
        "--out",
        type=Path,
        default=Path("calibration.toml"),
        metavar="FILE",
        help="where to write the calibration (default ./calibration.toml)",
    )
    calibrate.add_argument(
        "--global",
        dest="global_fit",
        action="store_true",
        help="refit the global values on every fit row instead of scoping to the rows' systems",
    )
    calibrate.add_argument(
        "--from-neutral",
        action="store_true",
        help="with --global: start from the fixed neutral point (reproduces the shipped file)",
    )
    calibrate.add_argument(
        "--sweeps", type=positive_int, default=3, help="coordinate-descent passes"
    )


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


def run_validation_command(args: argparse.Namespace) -> int:
    """Dispatch ``validate`` or ``calibrate``."""
    if args.command == "validate":
        return _cmd_validate(args)
    return _cmd_calibrate(args)


def _cell(value: object) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and np.isnan(value)) else (f"{value:.1f}")
    )


def _format_score(score: Score) -> str:
    lines = [
        f"{'system class':<34}{'op':<16}{'role':<9}{'rows':>5}"
        f"{'busbw med%':>12}{'busbw max%':>12}{'time med%':>11}",
    ]
    for row in score.groups.itertuples():
        lines.append(
            f"{row.system:<34}{row.op:<16}{row.fit_role:<9}{row.n:>5}"
            f"{_cell(row.median_abs_pct_error_busbw):>12}"
            f"{_cell(row.max_abs_pct_error_busbw):>12}"
            f"{_cell(row.median_abs_pct_error_time):>11}"
        )
    overall = score.overall
    lines.append(
        f"{'overall':<34}{'':<16}{'':<9}{overall['n']:>5}"
        f"{_cell(overall['median_abs_pct_error_busbw']):>12}"
        f"{_cell(overall['max_abs_pct_error_busbw']):>12}"
        f"{_cell(overall['median_abs_pct_error_time']):>11}"
    )
    lines.append("busbw errors at >= 64 MiB, time errors at <= 64 KiB; '-' = no such rows")
    return "\n".join(lines)


def _format_bands(frame: pd.DataFrame, keys: list[str], title: str) -> str:
    widths = {key: max(12, *(len(str(v)) + 2 for v in frame[key])) for key in keys}
    head = "".join(f"{k:<{widths[k]}}" for k in keys)
    lines = [
        title,
        f"{head}{'band':<15}{'rows':>5}{'median%':>9}{'p90%':>8}{'max%':>8}"
        f"{'   in-sample median / p90 / max %'}",
    ]
    for record in frame.to_dict(orient="records"):
        cells = "".join(f"{record[k]!s:<{widths[k]}}" for k in keys)
        lines.append(
            f"{cells}{record['band']:<15}{record['n']:>5}{_cell(record['median']):>9}"
            f"{_cell(record['p90']):>8}{_cell(record['max']):>8}   "
            f"{_cell(record['median_in_sample'])} / {_cell(record['p90_in_sample'])} / "
            f"{_cell(record['max_in_sample'])}"
        )
    return "\n".join(lines)


def _format_cross_validation(cv: CrossValidation) -> str:
    label = "system" if cv.by == "system" else "GPU generation"
    overall = cv.overall().assign(scope="all rows")
    parts = [
        _format_bands(overall, ["scope"], f"Leave one {label} out: out-of-fold errors"),
        "",
        _format_bands(cv.summary(["group"]), ["group"], f"Per {label} left out"),
        "",
        _format_bands(cv.summary(["pred_algo"]), ["pred_algo"], "Per algorithm (as predicted)"),
        "",
        "Bands: time error at <= 64 KiB and 64 KiB-64 MiB, busbw error at >= 64 MiB.",
    ]
    return "\n".join(parts)


def _load_rows(args: argparse.Namespace, catalog: Catalog) -> pd.DataFrame:
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


def _cmd_validate(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    if args.plots is not None:
        check_output_folder(args.plots, "--plots")
    measurements = _load_rows(args, catalog)
    calibration = calibration_from(args)
    if args.cross_validate:
        cv = cross_validate(
            catalog,
            calibration,
            measurements,
            by=args.cross_validate,
            sweeps=args.sweeps,
            progress=lambda group: print(f"fitting without {group} ...", file=sys.stderr),
        )
        if args.json:
            print(json.dumps(cv.to_json(), indent=2))
        else:
            print(_format_cross_validation(cv))
        return 0
    engine = AnalyticEngine(catalog, calibration)
    bar = progress_bar("validate", "group")
    try:
        predicted = Predictor(engine).predict(measurements, None if bar is None else bar.update_to)
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
    from interconnect_sim.topology.presets import build_fabric

    if not folder.exists():
        folder.mkdir(parents=True)
    keys = ["class", "op", "nodes", "gpus_per_node", "algo", "proto"]
    for values, group in predicted.groupby(keys, sort=True):
        klass, op, nodes, gpn, algo, proto = values
        fabric = build_fabric(engine.catalog, fabric_request(group.iloc[0]))
        sizes = 2.0 ** np.arange(
            np.log2(group["bytes"].min()), np.log2(group["bytes"].max()) + 0.25, 0.25
        )
        p2p = op in ("alltoall", "sendrecv")
        estimate = engine.estimate(
            fabric,
            CollectiveOp(op),
            sizes,
            gpus_per_node=int(gpn),
            algorithm=None if p2p else algo or None,
            protocol=None if p2p else proto or None,
        )
        curve = pd.DataFrame({"bytes": sizes, "busbw_GBps": estimate.busbw_bytes_per_s / 1e9})
        title = f"{klass}: {op}, {nodes} node(s) x {gpn} GPU(s)" + (f", {algo}" if algo else "")
        name = "-".join(str(v) for v in (klass, op, nodes, gpn, algo, proto) if v != "")
        safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in name)

        def draw(ax, curve=curve, group=group, title=title):  # type: ignore[no-untyped-def]
            plot_busbw_vs_size(ax, curve, group[["bytes", "busbw_GBps"]], label="predicted")
            ax.set_title(title, fontsize=9)

        save_figure(folder / f"{safe}.png", draw)


def _fit_info(
    path: Path, measurements: pd.DataFrame, result: FitResult, score: Score
) -> dict[str, Any]:
    fit_rows = measurements[measurements["fit_role"] == "fit"]
    held = measurements[measurements["fit_role"] == "holdout"]
    return {
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


def _sources(path: Path, measurements: pd.DataFrame, start: Calibration) -> list[dict[str, str]]:
    fit_rows = measurements[measurements["fit_role"] == "fit"]
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
    if start.path is not None:
        sources.append(
            {
                "kind": "calibration",
                "title": "Starting calibration (values the rows do not inform are kept)",
                "url": str(start.path.name),
                "locator": "[fitted] and [[scoped]] of the starting file",
                "quote": "calibrated from this file",
                "grade": "derived",
            }
        )
    return sources


def _print_changes(fits: list[ScopedFit]) -> None:
    for fit in fits:
        scope = fit.scope
        print(f"{scope.system} ({scope.nic or 'any NIC'}): {scope.rows} rows")
        for name, value in fit.result.parameters.items():
            start = fit.start[name]
            shown = (
                f"{start * 1e6:.2f} -> {value * 1e6:.2f} us"
                if "latency" in name
                else f"{start:.4f} -> {value:.4f}"
            )
            print(f"  {name:<36}{shown}")
        rng = scope.fitted_range
        print(
            f"  fitted on: {', '.join(rng.ops)}; {rng.min_bytes:.0f}-{rng.max_bytes:.0f} B; "
            f"nodes {', '.join(map(str, rng.node_counts))}; GPUs per node "
            f"{', '.join(map(str, rng.gpus_per_node))}"
        )
        print(
            "  warning: predictions for this system outside that range (more nodes, other "
            "ops or sizes) extrapolate; `collective` says so when it happens"
        )


def _format_residuals(table: pd.DataFrame) -> str:
    lines = [
        "Residuals (predicted / measured - 1): time at <= 64 KiB and 64 KiB-64 MiB, busbw at "
        ">= 64 MiB",
        f"{'op':<16}{'band':<15}{'rows':>5}{'median signed%':>16}{'median abs%':>13}",
    ]
    for record in table.to_dict(orient="records"):
        lines.append(
            f"{record['op']:<16}{record['band']:<15}{record['rows']:>5}"
            f"{record['median_signed_pct']:>16.1f}{record['median_abs_pct']:>13.1f}"
        )
    return "\n".join(lines)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    catalog = catalog_from(vars(args))
    check_output_file(args.out, "--out", suffixes=(".toml",))
    path = args.measurements[0] if args.measurements else SHIPPED_MEASUREMENTS
    measurements = _load_rows(args, catalog)
    start = calibration_from(args)
    if args.from_neutral and not args.global_fit:
        raise ScenarioError("--from-neutral needs --global (a scoped fit starts from a file)")
    engine = AnalyticEngine(catalog, start)
    if args.global_fit:
        result = fit_calibration(
            engine,
            measurements,
            sweeps=args.sweeps,
            start=None if args.from_neutral else replace(start, scopes=()),
        )
        calibration = replace(result.calibration, scopes=start.scopes)
        for name, value in result.parameters.items():
            shown = f"{value * 1e6:.2f} us" if "latency" in name else f"{value:.4f}"
            print(f"{name:<36}{shown}")
    else:
        calibration, fits = fit_scoped(catalog, start, measurements, sweeps=args.sweeps)
        _print_changes(fits)
    engine.calibration = calibration
    predicted = Predictor(engine).predict(measurements)
    score = score_predictions(predicted)
    print()
    print(_format_residuals(residuals(predicted)))
    print()
    print(_format_score(score))
    fit_info: dict[str, Any]
    if args.global_fit:
        fit_info = _fit_info(path, measurements, result, score)
    else:
        fit_info = {**start.fit, "scoped_from": str(path.name)}
    write_calibration(
        args.out,
        calibration,
        constants="nccl-2.30",
        fit=fit_info,
        sources=_sources(path, measurements, start),
    )
    print(f"\nCalibration written to {args.out}")
    return 0
