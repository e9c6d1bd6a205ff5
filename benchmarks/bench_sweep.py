"""The cost of one estimate inside a sweep: a training step, and a collective, on one fabric.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--nodes 128,2048]``. Prints a table; not a
test. For each fabric (DGX H100, 128 and 2,048 nodes, built once) it times:

* ``train``: ``estimate_step`` (analytic engine) over a sweep of Llama 3 70B layouts (tp 2/4/8
  x pp 4/8/16 x micro-batch 1/2 x three global batches x vpp 1/5), sharing one ``cache`` as a
  sweep would; the first point (every analysis cold), the mean over the sweep, and a second
  pass with everything seen;
* ``collective``: the analytic engine's estimate of all_reduce / all_gather / alltoall at 20
  sizes on 60 communicators (8 GPUs of a node, GPU i of every node, node ranges).

Rows marked ``baseline`` run inside :func:`~interconnect_sim.topology.structure.no_sharing`.
Times are CPU milliseconds per estimate.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import time

from isolated import run_case


def _train(nodes: int) -> dict[str, float]:
    from interconnect_sim.calibration import load_calibration
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.errors import InterconnectSimError
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric
    from interconnect_sim.training.compute import load_compute_calibration
    from interconnect_sim.training.model import load_model
    from interconnect_sim.training.parallel import ParallelConfig
    from interconnect_sim.training.step import estimate_step

    catalog = load_catalog()
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes))
    analytic = AnalyticEngine(catalog, load_calibration())
    compute, model = load_compute_calibration(), load_model("llama3-70b")
    gpus = nodes * 8
    points = [
        ParallelConfig(
            tp=tp,
            pp=pp,
            dp=gpus // (tp * pp),
            vpp=vpp,
            micro_batch=mb,
            global_batch=gb,
            seq_len=8192,
        )
        for tp, pp, mb, batches, vpp in itertools.product(
            (2, 4, 8), (4, 8, 16), (1, 2), (1, 2, 4), (1, 5)
        )
        for gb in [batches * gpus // (tp * pp) * mb]
    ]
    cache: dict[object, object] = {}

    def sweep() -> list[float]:
        times = []
        for p in points:
            start = time.process_time()
            with contextlib.suppress(InterconnectSimError):
                estimate_step(
                    model,
                    p,
                    fabric,
                    catalog,
                    compute,
                    analytic=analytic,
                    cache=cache,
                    check_memory=False,
                )
            times.append(time.process_time() - start)
        return times

    first = sweep()
    second = sweep()
    return {
        "points": len(points),
        "first_ms": first[0] * 1e3,
        "mean_ms": statistics.mean(first) * 1e3,
        "warm_ms": statistics.mean(second) * 1e3,
    }


def _collective(nodes: int) -> dict[str, float]:
    from interconnect_sim.collectives.ops import CollectiveOp
    from interconnect_sim.engines.analytic import AnalyticEngine
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology import FabricRequest, build_fabric

    catalog = load_catalog()
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes))
    analytic = AnalyticEngine(catalog)
    gpus = fabric.gpus
    groups = [gpus[k * 8 : k * 8 + 8] for k in range(0, nodes, max(1, nodes // 20))][:20]
    groups += [gpus[i::8] for i in range(8)]
    groups += [gpus[: 8 * n] for n in (2, 4, 8, 16, 32, 64) if n <= nodes]
    groups += [gpus[i : 8 * nodes : 64] for i in range(0, 64, 3)][: 60 - len(groups)]
    ops = (CollectiveOp.ALL_REDUCE, CollectiveOp.ALL_GATHER, CollectiveOp.ALLTOALL)
    sizes = [2.0**k for k in range(10, 30)]

    def sweep() -> list[float]:
        times = []
        for group, op in itertools.product(groups, ops):
            for size in sizes:
                start = time.process_time()
                bw = analytic.bandwidths(fabric, gpus=group)
                analytic.estimate(None, op, [size], bandwidths=bw)
                times.append(time.process_time() - start)
        return times

    first = sweep()
    second = sweep()
    return {
        "points": len(first),
        "first_ms": first[0] * 1e3,
        "mean_ms": statistics.mean(first) * 1e3,
        "warm_ms": statistics.mean(second) * 1e3,
    }


def one(nodes: int, kind: str, shared: bool) -> dict[str, float | str]:
    from interconnect_sim.topology.structure import no_sharing

    with contextlib.nullcontext() if shared else no_sharing():
        result = (_train if kind == "train" else _collective)(nodes)
    return {"nodes": nodes, "kind": kind, "mode": "shared" if shared else "baseline", **result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", default="128,2048")
    parser.add_argument("--baseline", action="store_true", help="also without sharing")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        nodes, kind, mode = args.one
        print(json.dumps(one(int(nodes), kind, mode == "shared")))
        return
    print(
        f"{'nodes':>6}{'GPUs':>7}  {'estimate':<11}{'mode':<9}{'points':>7}{'first ms':>10}"
        f"{'mean ms':>9}{'warm ms':>9}"
    )
    for nodes in (int(n) for n in args.nodes.split(",")):
        for kind in ("train", "collective"):
            for mode in ["shared"] + (["baseline"] if args.baseline else []):
                r = run_case(__file__, str(nodes), kind, mode)
                print(
                    f"{r['nodes']:>6}{r['nodes'] * 8:>7}  {r['kind']:<11}{r['mode']:<9}"
                    f"{r['points']:>7}{r['first_ms']:>10.1f}{r['mean_ms']:>9.2f}"
                    f"{r['warm_ms']:>9.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
