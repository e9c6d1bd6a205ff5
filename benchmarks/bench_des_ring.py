"""Discrete-event engine at scale: ring all_reduce of 1 GiB on rail-optimized DGX H100 fat trees.

Run: ``.venv/bin/python benchmarks/bench_des_ring.py [--max-gpus N]``. Each size runs in its own
process so peak memory (max RSS) is that size's alone. Prints a table; not a test. Times are
wall-clock on this machine; the last column is the total relative to the 8-GPU case.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from isolated import run_case

SIZES = [8, 64, 512, 1024, 4096, 16384]


def one(gpus: int) -> dict[str, float]:
    from interconnect_sim.engines.discrete_event import DiscreteEventEngine
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.workload.trace import read_trace

    start = time.perf_counter()
    catalog = load_catalog()
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=gpus // 8))
    built = time.perf_counter()
    line = '{"id": "ar", "op": "all_reduce", "bytes": "1 GiB", "group": "world", "start_s": 0}'
    calls = read_trace("bench", lines=[line])
    result = DiscreteEventEngine(catalog).replay(fabric, calls, record_links=False)
    done = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "gpus": gpus,
        "build_s": built - start,
        "simulate_s": done - built,
        "total_s": done - start,
        "peak_mib": peak_kib / 1024,
        "events": result.events,
        "rate_computations": result.rate_computations,
        "busbw_GBps": 2 * (gpus - 1) / gpus * 2**30 / result.makespan_s / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-gpus", type=int, default=SIZES[-1])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    rows = []
    for gpus in [g for g in SIZES if g <= args.max_gpus]:
        rows.append(run_case(__file__, str(gpus)))
    base = rows[0]["total_s"]
    print(
        f"{'GPUs':>7}{'build s':>10}{'simulate s':>12}{'total s':>10}{'peak MiB':>10}"
        f"{'events':>8}{'rate comps':>11}{'busbw GB/s':>12}{'x 8-GPU':>9}"
    )
    for r in rows:
        print(
            f"{r['gpus']:>7}{r['build_s']:>10.2f}{r['simulate_s']:>12.2f}{r['total_s']:>10.2f}"
            f"{r['peak_mib']:>10.0f}{r['events']:>8}{r['rate_computations']:>11}"
            f"{r['busbw_GBps']:>12.1f}{r['total_s'] / base:>9.1f}"
        )


if __name__ == "__main__":
    main()
