"""The training step as a full timeline at scale: Llama 3 405B with Meta's layout (TP 8, PP 16,
VPP 8, sequence 8192, 16 sequences per replica) on DGX H100 fat trees, DP filling the fabric.

Run: ``.venv/bin/python benchmarks/bench_step_timeline.py [--max-nodes N] [--straggler-only]``.
Each case runs in its own process so its peak memory (max RSS) is its own. Prints, per case:
fabric build, closed form, timeline (trace built and replayed on the discrete-event engine),
wall and CPU seconds (CPU is what the process used: on a shared machine wall time includes
waiting for a core), peak memory, the step from each engine, trace lines and simulation events.
The straggler case makes one node (stage 0 of replica 37, or the last replica on smaller
fabrics) 10 % slower: its replica becomes a class of its own, so the trace doubles. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from isolated import run_case

NODE_COUNTS = [64, 512, 2048]


def one(nodes: int, straggler: bool) -> dict[str, float | int | str]:
    from interconnect_sim.calibration import load_calibration
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.training.compute import load_compute_calibration
    from interconnect_sim.training.model import load_model
    from interconnect_sim.training.parallel import ParallelConfig
    from interconnect_sim.training.step import estimate_step
    from interconnect_sim.training.step_timeline import timeline_step

    start, cpu = time.perf_counter(), time.process_time()
    catalog = load_catalog()
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes))
    built = time.perf_counter()
    dp = nodes * 8 // (8 * 16)
    parallel = ParallelConfig(
        tp=8,
        pp=16,
        dp=dp,
        vpp=8,
        global_batch=16 * dp,
        seq_len=8192,
        pp_embedding_in_split=True,
        pp_loss_in_split=True,
    )
    model = load_model("llama3-405b")
    compute = load_compute_calibration()
    analytic = AnalyticEngine(catalog, load_calibration())
    closed = estimate_step(
        model, parallel, fabric, catalog, compute, analytic=analytic, check_memory=False
    )
    closed_done = time.perf_counter()
    slow_node = min(37, dp - 1)  # stage 0 holds nodes 0 .. dp - 1 (one replica per node)
    slow = {8 * slow_node + local: 1.1 for local in range(8)} if straggler else None
    step, run = timeline_step(
        model, parallel, fabric, catalog, compute, analytic=analytic, check_memory=False,
        slow_ranks=slow,
    )  # fmt: skip
    done = time.perf_counter()
    return {
        "nodes": nodes,
        "gpus": nodes * 8,
        "case": "straggler" if straggler else "healthy",
        "build_s": built - start,
        "closed_s": closed_done - built,
        "timeline_s": done - closed_done,
        "wall_s": done - start,
        "cpu_s": time.process_time() - cpu,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "closed_step_s": closed.step_time_s,
        "timeline_step_s": step.step_time_s,
        "lines": len(run.trace.events),
        "events": run.result.events,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-nodes", type=int, default=NODE_COUNTS[-1])
    parser.add_argument("--straggler-only", action="store_true")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(int(args.one[0]), args.one[1] == "straggler")))
        return
    rows = []
    for nodes in [n for n in NODE_COUNTS if n <= args.max_nodes]:
        cases = ["straggler"] if args.straggler_only else ["healthy", "straggler"]
        for case in cases:
            rows.append(run_case(__file__, str(nodes), case))
    print(
        f"{'GPUs':>7} {'case':<10}{'build s':>8}{'timeline s':>11}{'wall s':>8}{'CPU s':>7}"
        f"{'peak MiB':>9}{'closed s':>9}{'timeline':>9}{'diff':>7}{'lines':>8}{'events':>9}"
    )
    for r in rows:
        diff = r["timeline_step_s"] / r["closed_step_s"] - 1
        print(
            f"{r['gpus']:>7} {r['case']:<10}{r['build_s']:>8.1f}{r['timeline_s']:>11.1f}"
            f"{r['wall_s']:>8.1f}{r['cpu_s']:>7.1f}{r['peak_mib']:>9.0f}"
            f"{r['closed_step_s']:>9.3f}{r['timeline_step_s']:>9.3f}{diff:>+7.1%}"
            f"{r['lines']:>8,}{r['events']:>9,}"
        )


if __name__ == "__main__":
    main()
