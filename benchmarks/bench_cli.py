"""Whole command-line calls, as a user runs them: wall time, CPU time and peak memory.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--repeat 3] [--only "NAME|NAME"]``. Each command
runs ``--repeat`` times in a fresh process; the table shows the median wall time, the CPU time
(user + system) and the peak memory (max RSS) of the median run. On a machine shared with other
work the CPU column is the steadier one. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CLI = [str(Path(sys.executable).with_name("interconnect-sim"))]
RING = ["--op", "all_reduce", "--min-bytes", "1G", "--max-bytes", "1G", "--algo", "ring"]
LLAMA_405B = [
    "train", "--model", "llama3-405b", "--system", "dgx-h100", "--tp", "8", "--pp", "16",
    "--global-batch", "2048", "--seq", "8192",
]  # fmt: skip
COMMANDS: dict[str, list[str]] = {
    "help": ["--help"],
    "collective 8 GPUs": ["collective", "--system", "dgx-h100", "--op", "all_reduce"],
    "ring 1 GiB, 16,384 GPUs, DES": [
        "collective", "--system", "dgx-h100", "--nodes", "2048", *RING, "--engine", "des",
    ],
    "ring 1 GiB, 65,536 GPUs, DES": [
        "collective", "--system", "dgx-h100", "--nodes", "8192", *RING, "--engine", "des",
    ],
    "train 405B, 16,384 GPUs, analytic": [*LLAMA_405B, "--nodes", "2048"],
    "train 405B, 16,384 GPUs, DES": [*LLAMA_405B, "--nodes", "2048", "--engine", "des"],
    "train 405B, 65,536 GPUs, DES": [*LLAMA_405B, "--nodes", "8192", "--engine", "des"],
}  # fmt: skip


def run(arguments: list[str]) -> tuple[float, float, float]:
    """Wall s, CPU s and peak MiB of one call."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [*CLI, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(arguments)} failed: {error[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="command names separated by |")
    args = parser.parse_args()
    names = list(COMMANDS) if not args.only else args.only.split("|")
    load = os.getloadavg()[0]
    print(f"# {os.cpu_count()} CPUs, load average {load:.1f} at start")
    print(f"{'command':<36}{'wall s':>9}{'CPU s':>8}{'peak MiB':>10}")
    for name in names:
        runs = sorted(run(COMMANDS[name]) for _ in range(args.repeat))
        wall, cpu, peak = runs[len(runs) // 2]  # the median run by wall time
        print(f"{name:<36}{wall:>9.2f}{cpu:>8.2f}{peak:>10.0f}", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
