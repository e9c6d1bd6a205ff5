"""Training-step estimate at scale: Llama 3 70B (tp 8, pp 8, vpp 5) on DGX H100 fat trees.

Run: ``.venv/bin/python benchmarks/bench_train_step.py [--max-nodes N] [--engines analytic,des]
[--baseline-max-nodes N]``. Each (size, engine, mode) runs in its own process so peak memory
(max RSS) is its own. Prints a table; not a test. With the DES the step is a timeline (one
line per pass of one pipeline, copies for the identical replicas), so its cost grows with the
passes (pp x vpp x micro-batches) more than with the GPUs; ``bench_step_timeline.py`` times Llama
3 405B's.

Rows marked ``baseline`` run inside :func:`~interconnect_sim.topology.structure.no_sharing`
(every node and group analysed by itself) up to ``--baseline-max-nodes``; the step time is the
same in both rows. Times are wall clock and CPU seconds of the estimate's process.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from isolated import run_case

NODE_COUNTS = [128, 512, 2048, 8192]


def one(nodes: int, engine: str, shared: bool) -> dict[str, float | str]:
    import contextlib

    from interconnect_sim.calibration import load_calibration
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.topology.structure import no_sharing
    from interconnect_sim.training.compute import load_compute_calibration
    from interconnect_sim.training.model import load_model
    from interconnect_sim.training.parallel import ParallelConfig
    from interconnect_sim.training.step import estimate_step

    start, cpu = time.perf_counter(), time.process_time()
    catalog = load_catalog()
    with contextlib.nullcontext() if shared else no_sharing():
        fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes))
        built = time.perf_counter()
        gpus = nodes * 8
        parallel = ParallelConfig(
            tp=8, pp=8, dp=gpus // 64, vpp=5, micro_batch=1, global_batch=2048, seq_len=8192
        )
        step = estimate_step(
            load_model("llama3-70b"),
            parallel,
            fabric,
            catalog,
            load_compute_calibration(),
            engine=engine,
            analytic=AnalyticEngine(catalog, load_calibration()),
        )
    done = time.perf_counter()
    return {
        "nodes": nodes,
        "gpus": gpus,
        "engine": engine,
        "mode": "shared" if shared else "baseline",
        "build_s": built - start,
        "estimate_s": done - built,
        "total_s": done - start,
        "cpu_s": time.process_time() - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "step_s": step.step_time_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-nodes", type=int, default=NODE_COUNTS[-1])
    parser.add_argument("--engines", default="analytic,des")
    parser.add_argument("--baseline-max-nodes", type=int, default=512)
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        nodes, engine, mode = args.one
        print(json.dumps(one(int(nodes), engine, mode == "shared")))
        return
    print(
        f"{'nodes':>6}{'GPUs':>7}{'engine':>10}{'mode':>10}{'build s':>9}{'estimate s':>12}"
        f"{'total s':>9}{'CPU s':>8}{'peak MiB':>10}{'step s':>10}"
    )
    for nodes in [n for n in NODE_COUNTS if n <= args.max_nodes]:
        for engine in args.engines.split(","):
            modes = ["shared"] + (["baseline"] if nodes <= args.baseline_max_nodes else [])
            for mode in modes:
                r = run_case(__file__, str(nodes), engine, mode)
                print(
                    f"{r['nodes']:>6}{r['gpus']:>7}{r['engine']:>10}{r['mode']:>10}"
                    f"{r['build_s']:>9.2f}{r['estimate_s']:>12.2f}{r['total_s']:>9.2f}"
                    f"{r['cpu_s']:>8.2f}{r['peak_mib']:>10.0f}{r['step_s']:>10.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
