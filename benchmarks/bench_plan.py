"""Design points per second of ``plan`` with the analytic engine, and the layout-search time.

Run: ``.venv/bin/python benchmarks/bench_plan.py [--workers N] [--search-nodes 2048]``.

Part 1 times a sweep of explicit-layout design points (every point: a step estimate on its
fabric, the bill of materials, power, cost, time to train with failures, a row streamed to
parquet). Points of one fabric share its build, communicator analyses and BOM, as in any sweep:
here 2 systems x 5 sizes = 10 fabrics, and the other axes (layouts, batches, precisions, tokens,
PUE) vary within them: 10,000 points. Part 2 times one layout search for Llama 3 70B on
16,384 GPUs (2,048 DGX H100). Prints a table; not a test. Wall-clock seconds depend on what
else the machine runs; the CPU seconds (all processes) do less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from isolated import run_case

PRICES = Path(__file__).parents[1] / "scenarios" / "prices" / "example-prices.toml"


def _sweep() -> dict[str, object]:
    """2 systems x 5 sizes x 10 layouts x 5 batches x 2 precisions x 2 budgets x 5 PUEs."""
    layouts = [
        {"tp": 8, "pp": 1},
        {"tp": 8, "pp": 2},
        {"tp": 4, "pp": 2},
        {"tp": 4, "pp": 4},
        {"tp": 2, "pp": 4},
        {"tp": 8, "pp": 4, "vpp": 2},
        {"tp": 4, "pp": 1, "cp": 2},
        {"tp": 2, "pp": 2, "zero": 2},
        {"tp": 8, "pp": 2, "recompute": "selective"},
        {"tp": 4, "pp": 2, "micro_batch": 2},
    ]
    return {
        "name": "bench",
        "prices": str(PRICES),
        "design": {"model": "llama3-70b"},
        "axes": {
            "system": ["dgx-h100", "dgx-b200"],
            "nodes": [16, 32, 64, 128, 256],
            "layout": layouts,
            "global_batch": [512, 1024, 2048, 4096, 8192],
            "precision": ["bf16", "fp8"],
            "tokens": ["1T", "15T"],
            "pue": [1.1, 1.2, 1.3, 1.4, 1.5],
        },
    }


def sweep_case(workers: int) -> dict[str, float | int | str]:
    from interconnect_sim.planning.executors import run_sweep
    from interconnect_sim.planning.sweep import parse_sweep

    sweep = parse_sweep(_sweep(), Path("bench.toml"))
    out = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    try:
        stats = run_sweep(sweep, out, workers=workers, batch_size=250)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    cpu = sum(
        resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return {
        "case": "sweep",
        "points": stats.evaluated,
        "errors": stats.errors,
        "fabrics": 10,
        "workers": workers,
        "seconds": stats.elapsed_s,
        "cpu_s": cpu,
        "per_s": stats.evaluated / stats.elapsed_s,
    }


def search_case(nodes: int) -> dict[str, float | int | str]:
    from interconnect_sim.calibration import load_calibration
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.planning.layout_search import search_layouts
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.training.compute import load_compute_calibration
    from interconnect_sim.training.model import load_model

    catalog = load_catalog()
    start = time.perf_counter()
    cpu_start = time.process_time()
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes))
    built = time.perf_counter()
    result = search_layouts(
        load_model("llama3-70b"),
        fabric,
        catalog,
        load_compute_calibration(),
        global_batch=2048,
        precision="fp8",
        analytic=AnalyticEngine(catalog, load_calibration()),
    )
    done = time.perf_counter()
    return {
        "search_cpu_s": time.process_time() - cpu_start - (built - start),
        "case": "search",
        "gpus": nodes * 8,
        "build_s": built - start,
        "search_s": done - built,
        "candidates": result.candidates,
        "evaluated": result.evaluated,
        "best": result.best[0].describe(),
        "best_step_s": result.best[0].step.step_time_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--search-nodes", type=int, default=2048)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, value = args.one
        result = sweep_case(int(value)) if kind == "sweep" else search_case(int(value))
        print(json.dumps(result))
        return
    sweep = run_case(__file__, "sweep", str(args.workers))
    print(
        f"{'design points':>14}{'fabrics':>9}{'workers':>9}{'errors':>8}{'seconds':>9}"
        f"{'CPU s':>8}{'points/s':>10}"
    )
    print(
        f"{sweep['points']:>14}{sweep['fabrics']:>9}{sweep['workers']:>9}{sweep['errors']:>8}"
        f"{sweep['seconds']:>9.1f}{sweep['cpu_s']:>8.1f}{sweep['per_s']:>10.0f}"
    )
    search = run_case(__file__, "search", str(args.search_nodes))
    print()
    print(f"{'GPUs':>7}{'build s':>9}{'search s':>10}{'CPU s':>7}{'layouts':>9}{'timed':>7}  best")
    print(
        f"{search['gpus']:>7}{search['build_s']:>9.1f}{search['search_s']:>10.1f}"
        f"{search['search_cpu_s']:>7.1f}{search['candidates']:>9}{search['evaluated']:>7}  "
        f"{search['best']} ({search['best_step_s']:.2f} s/step)"
    )


if __name__ == "__main__":
    main()
