"""What the limits of ``interconnect_sim/limits.py`` are chosen from: time and peak memory of the
commands as the fabric, the number of sizes and the trace grow.

Run: ``.venv/bin/python benchmarks/bench_limits.py [--quick]``. Each case runs the CLI's ``main``
in its own process (so max RSS is that case's alone) and prints a table; not a test. The last
columns give the cost per GPU, per size or per call, which ``docs/limits.md`` quotes and
``limits.py`` uses for its up-front estimates.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from isolated import run_case

ROOT = Path(__file__).resolve().parents[1]

FABRICS = [  # (system, nodes)
    ("dgx-h100", 16),
    ("dgx-h100", 128),
    ("dgx-h100", 512),
    ("dgx-h100", 1024),
    ("dgx-h100", 2048),
    ("dgx-h100", 8192),
    ("gb200-nvl72", 8),
    ("gb200-nvl72", 32),
]
SIZES = [("analytic", 1000), ("analytic", 10000), ("des", 100), ("des", 1000)]
TRACES = [  # (engine, calls, group): rail calls have 2 ranks on 2 nodes, world calls 16
    ("analytic", 10000, "rail"),
    ("des", 1000, "rail"),
    ("des", 10000, "rail"),
    ("des", 1000, "world"),
    ("des", 10000, "world"),
]


def _trace(calls: int, group: str) -> Path:
    """A trace of ``calls`` all-reduces in four independent chains (on four rails, or all on
    the whole fabric)."""
    lines = []
    for i in range(calls):
        chain = i % 4
        where = f"rail:{chain}" if group == "rail" else "world"
        call = {"id": f"c{i}", "op": "all_reduce", "bytes": "64 MiB", "group": where}
        call |= {"after": [f"c{i - 4}"]} if i >= 4 else {"start_s": 0}
        lines.append(json.dumps(call))
    path = Path(tempfile.mkdtemp()) / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cases(quick: bool) -> list[tuple[str, str, int, list[str]]]:
    """(command, label, unit count, argv)."""
    cases = []
    for system, nodes in FABRICS[:3] if quick else FABRICS:
        gpus = nodes * (72 if system.startswith("gb200") else 8)
        fabric = ["--nodes", str(nodes)]
        cases.append(("topo", f"{system} x {nodes}", gpus, ["topo", system, *fabric]))
        cases.append(
            (
                "collective",
                f"{system} x {nodes}",
                gpus,
                ["collective", "--system", system, *fabric, "--op", "all_reduce",
                 "--min-bytes", "1G", "--max-bytes", "1G"],
            )
        )  # fmt: skip
        if system == "dgx-h100":
            cases.append(
                (
                    "train",
                    f"{system} x {nodes}",
                    gpus,
                    ["train", "--model", "llama3-70b", "--system", system, *fabric,
                     "--tp", "8", "--pp", "4" if nodes % 4 == 0 else "1"],
                )
            )  # fmt: skip
    for engine, count in SIZES[:2] if quick else SIZES:
        factor = 2 ** (30 / (count - 1))
        cases.append(
            (
                f"sizes ({engine})",
                f"{count} sizes",
                count,
                ["collective", "--system", "dgx-h100", "--nodes", "2", "--op", "all_reduce",
                 "--min-bytes", "8", "--max-bytes", "8G", "--step-factor", f"{factor:.12f}",
                 "--engine", engine],
            )
        )  # fmt: skip
    for engine, count, group in TRACES[:2] if quick else TRACES:
        cases.append(
            (
                f"replay ({engine})",
                f"{count} {group} calls",
                count,
                ["replay", str(_trace(count, group)), "--system", "dgx-h100", "--nodes", "2",
                 "--engine", engine],
            )
        )  # fmt: skip
    return cases


def one(argv: list[str]) -> dict[str, float]:
    """Run the CLI once in this process; wall-clock seconds and peak RSS."""
    sys.path.insert(0, str(ROOT))
    from interconnect_sim.cli import main
    from interconnect_sim.specs import load_catalog

    load_catalog()  # parsing the catalog is start-up, not the case
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(argv)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"status": status, "seconds": seconds, "peak_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the small cases only")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    print(
        f"{'case':<20}{'what':<22}{'units':>8}{'status':>7}{'seconds':>9}{'peak MiB':>10}"
        f"{'ms/unit':>9}{'KiB/unit':>10}"
    )
    for command, label, units, argv in _cases(args.quick):
        result = run_case(__file__, json.dumps(argv))
        print(
            f"{command:<20}{label:<22}{units:>8}{result['status']:>7}{result['seconds']:>9.2f}"
            f"{result['peak_mib']:>10.0f}{1e3 * result['seconds'] / units:>9.3f}"
            f"{1024 * result['peak_mib'] / units:>10.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
