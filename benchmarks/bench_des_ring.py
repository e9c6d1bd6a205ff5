"""Collectives at scale: ring all_reduce and all-to-all of 1 GiB on DGX H100 fat trees.

Run: ``.venv/bin/python benchmarks/bench_des_ring.py [--max-gpus N] [--ops all_reduce,alltoall]
[--engines analytic,des] [--baseline-max-gpus N]``. Each case runs in its own process so its
peak memory (max RSS) is its own. Prints a table; not a test.

The collective is one trace call (``group: world``, ring forced for the all-reduce) replayed by
each engine; the DES also counts its events and rate computations. Rows marked ``shared`` are
the normal program; rows marked ``baseline`` run the same case inside
:func:`~interconnect_sim.topology.structure.no_sharing` (every node built and routed by itself,
routes between leaves by listing every shortest path), the reference the tests compare with,
up to ``--baseline-max-gpus``. ``result`` is the collective's time: it is the same in both rows.
Times are wall clock and CPU seconds of this process; on a shared machine the CPU column is the
steadier one.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from isolated import run_case

SIZES = [1024, 4096, 16384, 65536]


def one(gpus: int, op: str, engine: str, shared: bool) -> dict[str, object]:
    import contextlib

    from interconnect_sim.collectives.ops import CollectiveOp
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.engines.discrete_event import DiscreteEventEngine
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.topology.structure import no_sharing
    from interconnect_sim.workload.trace import TraceCall

    wall, cpu = time.perf_counter(), time.process_time()
    catalog = load_catalog()
    with contextlib.nullcontext() if shared else no_sharing():
        fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=gpus // 8))
        built_wall, built_cpu = time.perf_counter(), time.process_time()
        algorithm = "ring" if op == "all_reduce" else None
        call = TraceCall(
            id="c", op=CollectiveOp(op), size_bytes=2.0**30, group="world", algorithm=algorithm
        )
        engines = {"des": DiscreteEventEngine, "analytic": AnalyticEngine}
        result = engines[engine](catalog).replay(fabric, [call])  # type: ignore[attr-defined]
    done_wall, done_cpu = time.perf_counter(), time.process_time()
    return {
        "gpus": gpus,
        "op": op,
        "engine": engine,
        "mode": "shared" if shared else "baseline",
        "build_s": built_wall - wall,
        "estimate_s": done_wall - built_wall,
        "total_s": done_wall - wall,
        "cpu_s": done_cpu - cpu,
        "build_cpu_s": built_cpu - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "time_ms": result.calls[0].duration_s * 1e3,
        "algo": f"{result.calls[0].algorithm}/{result.calls[0].protocol}",
        "events": result.events if engine == "des" else "-",
        "rates": result.rate_computations if engine == "des" else "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-gpus", type=int, default=SIZES[-1])
    parser.add_argument("--ops", default="all_reduce,alltoall")
    parser.add_argument("--engines", default="analytic,des")
    parser.add_argument("--baseline-max-gpus", type=int, default=4096)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        gpus, op, engine, mode = args.one
        print(json.dumps(one(int(gpus), op, engine, mode == "shared")))
        return
    print(
        f"{'GPUs':>7} {'op':<11}{'engine':<9}{'mode':<9}{'build s':>8}{'estimate s':>11}"
        f"{'total s':>9}{'CPU s':>8}{'peak MiB':>9}{'events':>7}{'rates':>6}"
        f"  {'result ms':>10}  algo"
    )
    for gpus in [g for g in SIZES if g <= args.max_gpus]:
        for op in args.ops.split(","):
            for engine in args.engines.split(","):
                modes = ["shared"] + (["baseline"] if gpus <= args.baseline_max_gpus else [])
                for mode in modes:
                    r = run_case(__file__, str(gpus), op, engine, mode)
                    print(
                        f"{r['gpus']:>7} {r['op']:<11}{r['engine']:<9}{r['mode']:<9}"
                        f"{r['build_s']:>8.2f}{r['estimate_s']:>11.2f}{r['total_s']:>9.2f}"
                        f"{r['cpu_s']:>8.2f}{r['peak_mib']:>9.0f}{r['events']:>7}{r['rates']:>6}"
                        f"  {r['time_ms']:>10.3f}  {r['algo']}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
