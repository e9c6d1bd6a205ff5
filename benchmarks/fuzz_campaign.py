"""Fuzzing campaign: many mutated inputs per format through the CLI's ``main``, in-process.

Run: ``.venv/bin/python benchmarks/fuzz_campaign.py [--count 1000] [--formats trace,...]``.
Not part of ``make test`` (the property tests run a few dozen cases per format there). Prints,
per format, how many runs succeeded, ended in a clean one-line error, or broke the promise
(traceback, hang, several lines, non-finite output), and the distinct failure signatures with
one reproducer each (written under ``--keep`` when given).

Each run has a wall-clock limit (``--timeout``, default 20 s: a hang) and the process a memory
limit (``--memory-gib``, default 3: a MemoryError instead of swapping the machine).
"""

from __future__ import annotations

import argparse
import collections
import io
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from interconnect_sim.calibration.model import DEFAULT_CALIBRATION  # noqa: E402
from interconnect_sim.training.model import MODELS_DIR  # noqa: E402
from interconnect_sim.validation.measurements import SHIPPED_MEASUREMENTS  # noqa: E402
from interconnect_sim.validation.training_runs import SHIPPED_TRAINING_RUNS  # noqa: E402
from tests.fuzzing import (  # noqa: E402
    classify,
    mutate,
    non_finite_words,
    run_isolated,
    run_main,
)

TRACE = ROOT / "scenarios" / "traces" / "tp-dp-overlap.jsonl"
SCENARIO = ROOT / "scenarios" / "llama3-70b-h100-superpod.toml"
SCENARIOS = ROOT / "scenarios"
IMPORTED = ROOT / "tests" / "data" / "importers"
SYSTEM_FILE = SCENARIOS / "systems" / "my-4xh100.toml"


@dataclass(frozen=True, slots=True)
class Format:
    """A file format: its seed files, how a mutated file is run, the names an error must use."""

    name: str
    kind: str  # mutator: jsonl, csv, toml, text
    seeds: list[bytes]
    argv: Callable[[Path, random.Random], list[str]]
    suffix: str
    file_name: str = ""
    """The mutated file's name (default ``<format>-<case><suffix>``); each case runs in a fresh
    folder, where ``argv`` may write the files the mutated one goes with."""


def _measurement_seed() -> bytes:
    frame = pd.read_csv(SHIPPED_MEASUREMENTS, dtype=str, keep_default_na=False)
    picked = frame[
        (frame["system"] == "dgx-h100") & (frame["nodes"] == "1") & (frame["op"] == "all_reduce")
    ].head(6)
    picked = pd.concat([picked, frame[frame["fit_role"] == "holdout"].head(3)])
    picked = picked.drop(columns=["source_note", "source_url", "measured_system"])
    out = io.StringIO()
    picked.to_csv(out, index=False)
    return out.getvalue().encode()


def _training_seed() -> bytes:
    frame = pd.read_csv(SHIPPED_TRAINING_RUNS, dtype=str, keep_default_na=False)
    picked = frame[frame["row_id"].isin(["1", "25", "49", "60"])].copy()
    for column in picked.columns:
        picked[column] = picked[column].str.replace(",", ";")
    out = io.StringIO()
    picked.to_csv(out, index=False)
    return out.getvalue().encode()


def _calibration_seed(folder: Path) -> bytes:
    text = DEFAULT_CALIBRATION.read_text()
    return text.replace('constants = "nccl-2.30"', 'constants = "consts"').encode()


def _calibration_argv(path: Path, rng: random.Random) -> list[str]:
    constants = path.parent / "consts.toml"
    if not constants.exists():
        shutil.copy(DEFAULT_CALIBRATION.parent / "nccl-2.30.toml", constants)
    return [
        "collective",
        "--system",
        rng.choice(["dgx-h100", "dgx1-v100"]),
        "--nodes",
        "2",
        "--op",
        rng.choice(["all_reduce", "sendrecv", "all_gather"]),
        "--min-bytes",
        "1K",
        "--max-bytes",
        "1G",
        "--step-factor",
        "32",
        "--calibration",
        str(path),
    ]


def _formats(folder: Path) -> list[Format]:
    moe = (MODELS_DIR / "mixtral-8x7b.toml").read_bytes()
    return [*_original_formats(folder, moe), *_new_formats(folder)]


def _original_formats(folder: Path, moe: bytes) -> list[Format]:
    return [
        Format(
            "trace",
            "jsonl",
            [TRACE.read_bytes()],
            lambda p, rng: [
                "replay",
                str(p),
                "--system",
                "dgx-h100",
                "--nodes",
                "2",
                "--engine",
                rng.choice(["des", "analytic"]),
                *(["--json"] if rng.random() < 0.5 else []),
            ],
            ".jsonl",
        ),
        Format(
            "measurements",
            "csv",
            [_measurement_seed()],
            lambda p, rng: ["validate", "--measurements", str(p)],
            ".csv",
        ),
        Format(
            "training-runs",
            "csv",
            [_training_seed()],
            lambda p, rng: ["validate-training", "--runs", str(p)],
            ".csv",
        ),
        Format("calibration", "toml", [_calibration_seed(folder)], _calibration_argv, ".toml"),
        Format(
            "model",
            "toml",
            [(MODELS_DIR / "llama3-8b.toml").read_bytes(), moe],
            lambda p, rng: [
                "train",
                "--model",
                str(p),
                "--system",
                "dgx-h100",
                "--nodes",
                "2",
                "--tp",
                "8",
                "--pp",
                "1",
                "--ep",
                rng.choice(["1", "2"]),
                "--tokens",
                "1T",
                "--mtbf-node",
                "50000 h",
                *(["--json"] if rng.random() < 0.5 else []),
            ],
            ".toml",
        ),
        Format(
            "scenario",
            "toml",
            [SCENARIO.read_bytes()],
            lambda p, rng: ["train", "--scenario", str(p)],
            ".toml",
        ),
    ]


def _seed(path: Path, old: str = "", new: str = "") -> bytes:
    text = path.read_text()
    if old:
        assert old in text, (path, old)
        text = text.replace(old, new)
    return text.encode()


_LAB_NIC = (
    'id = "lab-nic"\nkind = "nic"\nname = "Our 400G NIC"\nport_link = "ib-ndr"\n'
    'port_count = 1\nhost_link = "pcie-5"\nhost_lanes = 16\n'
)
_LAB_NODE = (
    SYSTEM_FILE.read_text()
    .replace('"my-4xh100"', '"lab-node"')
    .replace('nic = "connectx-6"', 'nic = "lab-nic"')
)

_SWEEP = """name = "tiny-sizing"
description = "Llama 3 8B on DGX H100, two sizes"

[objective]
minimize = "time_to_train"

[constraints]
deadline = "120 days"

[design]
model = "llama3-8b"
tokens = "1T"
global_batch = 256
precision = "bf16"
layout = "auto"
search = { zero = [1], micro_batch = [1] }

[axes]
system = ["dgx-h100"]
network = [{ name = "ndr", nic = "connectx-7", switch = "qm9700" }]
oversubscription = ["1:1", "2:1"]
gpus = [16, 32]
"""


def _system_argv(path: Path, rng: random.Random) -> list[str]:
    if rng.random() < 0.5:
        return ["topo", str(path), "--json"]
    return [
        "collective",
        "--system",
        str(path),
        "--nodes",
        "2",
        "--op",
        rng.choice(["all_reduce", "sendrecv", "alltoall"]),
        "--min-bytes",
        "1M",
        "--max-bytes",
        "1G",
        "--step-factor",
        "32",
    ]


def _catalog_argv(path: Path, rng: random.Random) -> list[str]:
    """The mutated file is one part of a --catalog folder (the NIC or the system using it)."""
    other = path.parent / ("lab-node.toml" if path.name == "lab-nic.toml" else "lab-nic.toml")
    other.write_text(_LAB_NODE if other.name == "lab-node.toml" else _LAB_NIC)
    command = rng.choice(["topo", "systems", "specs"])
    argv = [command, "--catalog", str(path.parent), "--json"]
    return ["topo", "lab-node", *argv[1:]] if command == "topo" else argv


def _scenario_argv(path: Path, rng: random.Random) -> list[str]:
    traces = path.parent / "traces"
    traces.mkdir(exist_ok=True)
    shutil.copy(TRACE, traces / TRACE.name)
    return ["run", str(path), "--out", str(path.parent / "report")]


def _dump_argv(path: Path, rng: random.Random) -> list[str]:
    hints = ["--gpu", "a100-sxm4-80gb", "--nic", "connectx-6"] if path.suffix == ".txt" else []
    if rng.random() < 0.5:
        return ["topo", str(path), *hints, "--json"]
    return [
        "collective",
        "--system",
        str(path),
        *hints,
        "--nodes",
        "2",
        "--op",
        rng.choice(["all_reduce", "alltoall"]),
        "--min-bytes",
        "1M",
        "--max-bytes",
        "1G",
        "--step-factor",
        "32",
    ]


def _log_argv(system: str) -> Callable[[Path, random.Random], list[str]]:
    def argv(path: Path, rng: random.Random) -> list[str]:
        command = rng.choice(["validate", "validate", "calibrate"])
        out = ["--out", str(path.parent / "c.toml"), "--sweeps", "1"]
        extra = ["--json"] if command == "validate" else out
        return [command, "--measurements", str(path), "--system", system, *extra]

    return argv


def _trace_argv(*partners: Path) -> Callable[[Path, random.Random], list[str]]:
    """Replay the mutated per-rank file with the job's other ranks' files as they were."""

    def argv(path: Path, rng: random.Random) -> list[str]:
        files = [str(path)]
        for partner in partners:
            copy = path.parent / partner.name
            shutil.copy(partner, copy)
            files.append(str(copy))
        engine = rng.choice(["analytic", "des"])
        return ["replay", *files, "--system", "dgx-h100", "--engine", engine]

    return argv


def _step_trace_argv(path: Path, rng: random.Random) -> list[str]:
    return [
        "replay",
        str(path),
        "--system",
        "dgx-h100",
        "--nodes",
        "2",
        "--engine",
        rng.choice(["analytic", "des"]),
        *(["--json"] if rng.random() < 0.5 else []),
    ]


def _scoped_argv(path: Path, rng: random.Random) -> list[str]:
    if rng.random() < 0.3:
        log = IMPORTED / "all_reduce_perf-2x8-h100.log"
        return [
            "validate",
            "--measurements",
            str(log),
            "--system",
            "dgx-h100",
            "--calibration",
            str(path),
            "--json",
        ]
    return [
        "collective",
        "--system",
        "dgx-h100",
        "--nodes",
        rng.choice(["1", "2", "4"]),
        "--op",
        rng.choice(["all_reduce", "all_gather", "sendrecv"]),
        "--min-bytes",
        "1K",
        "--max-bytes",
        "1G",
        "--step-factor",
        "32",
        "--calibration",
        str(path),
    ]


def _new_formats(folder: Path) -> list[Format]:
    """Formats main added: systems, catalogs, scenarios, sweeps, importers, written files."""
    scoped = folder / "seeds" / "scoped.toml"
    step = folder / "seeds" / "step.jsonl"
    _write_seeds(scoped, step)
    allreduce = _seed(
        SCENARIOS / "allreduce-dgx-h100-2nodes.toml", "step-factor = 2", "step-factor = 64"
    )
    return [
        Format(
            "system-toml",
            "toml",
            [SYSTEM_FILE.read_bytes()],
            _system_argv,
            ".toml",
            SYSTEM_FILE.name,
        ),
        Format("catalog-nic", "toml", [_LAB_NIC.encode()], _catalog_argv, ".toml", "lab-nic.toml"),
        Format(
            "catalog-system", "toml", [_LAB_NODE.encode()], _catalog_argv, ".toml", "lab-node.toml"
        ),
        Format(
            "scenario-run",
            "toml",
            [
                allreduce,
                (SCENARIOS / "replay-tp-dp-overlap.toml").read_bytes(),
                _seed(
                    SCENARIOS / "whatif-nvlink-half-lanes.toml",
                    'max-bytes = "8G"',
                    'max-bytes = "8G"\nstep-factor = 64',
                ),
            ],
            _scenario_argv,
            ".toml",
        ),
        Format(
            "plan-sweep",
            "toml",
            [_SWEEP.encode()],
            lambda p, rng: [
                "plan",
                str(p),
                "--out",
                str(p.parent / "out"),
                "--workers",
                "1",
                "--no-progress",
            ],
            ".toml",
        ),
        Format(
            "nccl-tests-text",
            "text",
            [(IMPORTED / "all_reduce_perf-2x8-h100.log").read_bytes()],
            _log_argv("dgx-h100"),
            ".log",
            "all_reduce_perf-2x8-h100.log",  # the benchmark's name is read from the file name
        ),
        Format(
            "nccl-tests-text-v100",
            "text",
            [(IMPORTED / "all_gather_perf-dgx1-v100-2019.log").read_bytes()],
            _log_argv("dgx1-v100"),
            ".log",
            "all_gather_perf-dgx1-v100-2019.log",  # the benchmark's name is read from the file name
        ),
        Format(
            "nccl-tests-json",
            "text",
            [(IMPORTED / "alltoall_perf-1x8-h100.json").read_bytes()],
            _log_argv("dgx-h100"),
            ".json",
            "alltoall_perf-1x8-h100.json",  # the benchmark's name is read from the file name
        ),
        Format(
            "topo-m", "text", [(IMPORTED / "topo-m-dgx-a100.txt").read_bytes()], _dump_argv, ".txt"
        ),
        Format(
            "nccl-xml",
            "text",
            [
                (IMPORTED / "nccl-topo-hgx-h100-4gpu.xml").read_bytes(),
                (IMPORTED / "rccl-topo-mi300x-8x.xml").read_bytes(),
            ],
            _dump_argv,
            ".xml",
        ),
        Format(
            "pytorch-trace",
            "text",
            [(IMPORTED / "pytorch-2.1-rank0.pt.trace.json").read_bytes()],
            _trace_argv(),
            ".json",
            "pytorch-2.1-rank0.pt.trace.json",
        ),
        Format(
            "chakra-json",
            "text",
            [(IMPORTED / "chakra-json-2rank.0.json").read_bytes()],
            _trace_argv(IMPORTED / "chakra-json-2rank.1.json"),
            ".json",
            "chakra-json-2rank.0.json",
        ),
        Format(
            "chakra-binary",
            "text",
            [(IMPORTED / "chakra-4rank" / "chakra.0.et").read_bytes()],
            _trace_argv(*(IMPORTED / "chakra-4rank" / f"chakra.{rank}.et" for rank in (1, 2, 3))),
            ".et",
            "chakra.0.et",
        ),
        Format("calibration-scoped", "toml", [scoped.read_bytes()], _scoped_argv, ".toml"),
        Format("step-trace", "jsonl", [step.read_bytes()], _step_trace_argv, ".jsonl"),
    ]


def _write_seeds(scoped: Path, step: Path) -> None:
    """A calibration written by ``calibrate`` (with a [[scoped]] entry) and a step trace written
    by ``train --emit-trace``, made once per campaign with this checkout."""
    scoped.parent.mkdir(parents=True, exist_ok=True)
    log = IMPORTED / "all_reduce_perf-2x8-h100.log"
    for argv in (
        [
            "calibrate",
            "--measurements",
            str(log),
            "--system",
            "dgx-h100",
            "--out",
            str(scoped),
            "--sweeps",
            "1",
        ],
        [
            "train",
            "--model",
            "llama3-8b",
            "--system",
            "dgx-h100",
            "--nodes",
            "2",
            "--tp",
            "8",
            "--pp",
            "2",
            "--global-batch",
            "4",
            "--engine",
            "des",
            "--emit-trace",
            str(step),
        ],
    ):
        outcome = run_main(argv)
        assert outcome.status == 0, outcome


_OPTION_CASES: list[list[str]] = [
    case.split()
    for case in (
        "topo dgx-h100 --nodes 2",
        "topo dgx-h100 --scalable-units 1",
        "collective --system dgx-h100 --nodes 2 --op all_reduce",
        "collective --system dgx1-v100 --nodes 2 --op sendrecv --nvlink-lanes 1",
        "collective --system dgx-h100 --op all_gather --step-factor 4",
        "train --model llama3-8b --system dgx-h100 --nodes 2 --tp 8 --pp 1",
        "train --model llama3-8b --system dgx-h100 --nodes 1 --tp 8 --pp 1 --tokens 1T",
    )
]
_OPTION_CASES[-1] += ["--mtbf-node", "50000 h"]

_NASTY_OPTION_VALUES = [
    "0",
    "-1",
    "1.5",
    "nan",
    "inf",
    "1e300",
    "100000",
    "50000",
    "9000",
    "1000",
    "1.000001",
    "\u0663",
    "",
    "x",
    "1" + "0" * 400,
    "1e400T",
    "0 h",
    "inf h",
    "1e400 h",
    "1e300 TB",
]


def _option_argv(rng: random.Random) -> tuple[list[str], list[str]]:
    argv = list(rng.choice(_OPTION_CASES))
    extra = {
        "topo": ["--oversubscription", "--nic-count", "--nvlink-lanes", "--levels"],
        "collective": ["--min-bytes", "--max-bytes", "--step-factor", "--gpus-per-node"],
        "train": ["--seq", "--global-batch", "--micro-batch", "--tokens", "--mtbf-node", "--dp"],
    }[argv[0]]
    options = [i for i, a in enumerate(argv) if a.startswith("--") and i + 1 < len(argv)]
    if options and rng.random() < 0.5:
        index = rng.choice(options) + 1
        argv[index] = rng.choice(_NASTY_OPTION_VALUES)
        return argv, [argv[index - 1], *([argv[index]] if len(argv[index]) > 2 else [])]
    option = rng.choice(extra)
    value = rng.choice(_NASTY_OPTION_VALUES)
    # an error names the option, or the value as typed (as the property test accepts); values
    # of one or two characters ("0", "x") would match by chance and do not count
    return [*argv, option, value], [option, *([value] if len(value) > 2 else [])]


def _report(
    name: str, counter: collections.Counter[str], examples: dict[str, str], slowest: float
) -> None:
    """Print one format's counts and failure signatures (as soon as the format is done)."""
    broken = sum(v for k, v in counter.items() if k not in ("ok", "user error"))
    print(
        f"{name:<15}{sum(counter.values()):>6}{counter['ok']:>6}{counter['user error']:>10}"
        f"{broken:>8}{slowest:>11.1f}"
    )
    for signature, count in counter.most_common():
        if signature not in ("ok", "user error"):
            print(f"    {count:>5}  {signature}\n           {examples[signature]}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="mutated inputs per format")
    parser.add_argument("--formats", default="", help="comma-separated subset (default all)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a hang")
    parser.add_argument("--memory-gib", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="folder for one reproducer per signature")
    args = parser.parse_args()
    limit = int(args.memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # options run in children, each
    # under the same limit: a request for 100,000 nodes must not take the machine's memory
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    formats = _formats(folder)
    wanted = set(args.formats.split(",")) - {""}
    start = time.perf_counter()
    print(f"# fuzzing campaign: {args.count} inputs per format, seed {args.seed}")
    print(f"{'format':<15}{'runs':>6}{'ok':>6}{'user err':>10}{'broken':>8}{'slowest s':>11}")
    for fmt in formats:
        if wanted and fmt.name not in wanted:
            continue
        rng = random.Random(f"{args.seed}-{fmt.name}")
        counter: collections.Counter[str] = collections.Counter()
        examples: dict[str, str] = {}
        slowest = 0.0
        for case in range(args.count):
            data = mutate(rng.choice(fmt.seeds), fmt.kind, rng, rounds=rng.choice([1, 1, 2, 3]))
            case_folder = folder / f"{fmt.name}-{case}"
            case_folder.mkdir()
            path = case_folder / (fmt.file_name or f"{fmt.name}-{case}{fmt.suffix}")
            path.write_bytes(data)
            outcome = run_main(fmt.argv(path, rng), timeout_s=args.timeout)
            slowest = max(slowest, outcome.seconds)
            names = (str(path), str(path.parent / "consts.toml"))
            signature = classify(outcome, *names, echoed=non_finite_words(data))
            counter[signature] += 1
            if signature not in examples:
                examples[signature] = " ".join(outcome.argv)
                if args.keep is not None and signature not in ("ok", "user error"):
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.copytree(case_folder, args.keep / case_folder.name)
            shutil.rmtree(case_folder, ignore_errors=True)
        _report(fmt.name, counter, examples, slowest)
    if not wanted or "options" in wanted:
        rng = random.Random(f"{args.seed}-options")
        counter = collections.Counter()
        examples = {}
        slowest = 0.0
        for _ in range(args.count):
            argv, names = _option_argv(rng)
            outcome = run_isolated(argv, timeout_s=args.timeout, memory_bytes=limit)
            slowest = max(slowest, outcome.seconds)
            signature = classify(outcome, *names)
            counter[signature] += 1
            examples.setdefault(signature, repr(argv))
        _report("options", counter, examples, slowest)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"# {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
