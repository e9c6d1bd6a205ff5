"""Time and memory to build and summarise fabrics, as ratios to a single DGX H100.

Run: ``.venv/bin/python benchmarks/bench_fabric_build.py``. Prints a table; not a test.
"""

from __future__ import annotations

import time
import tracemalloc

from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric, summarize_fabric

CASES = [
    ("dgx-h100", {}),
    ("dgx-h100", {"scalable_units": 1}),
    ("dgx-h100", {"scalable_units": 4}),
    ("dgx-b200", {"scalable_units": 16}),
    ("dgx-b200", {"scalable_units": 64}),
    ("gb200-nvl72", {"node_count": 16}),
    ("mi300x-8x", {"node_count": 32}),
    ("h100-nvl256", {}),
    ("dgx-gh200", {}),
    ("dgx-gh200", {"node_count": 8}),
]


def measure(system: str, options: dict[str, int]) -> tuple[int, float, float, float]:
    catalog = load_catalog()
    tracemalloc.start()
    start = time.perf_counter()
    fabric = build_fabric(catalog, FabricRequest(system=system, **options))
    built = time.perf_counter()
    summarize_fabric(fabric, catalog)
    done = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(fabric.gpus), built - start, done - built, peak / 2**20


def main() -> None:
    load_catalog()
    _, base_build, _base_summary, _ = measure("dgx-h100", {})
    print(
        f"{'system':<14}{'options':<22}{'GPUs':>7}{'build s':>10}{'summary s':>11}"
        f"{'peak MiB':>10}{'x build':>9}"
    )
    for system, options in CASES:
        gpus, build_s, summary_s, peak = measure(system, options)
        label = ",".join(f"{k}={v}" for k, v in options.items()) or "-"
        print(
            f"{system:<14}{label:<22}{gpus:>7}{build_s:>10.3f}{summary_s:>11.3f}"
            f"{peak:>10.1f}{build_s / base_build:>9.1f}"
        )


if __name__ == "__main__":
    main()
