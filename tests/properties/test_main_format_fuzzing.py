"""Property tests of issue #10 for the formats main added: system files, ``--catalog`` folders,
scenario files (``run``), plan sweeps, calibrations written by ``calibrate`` and step traces
written by ``train --emit-trace``.

Every mutated input (``tests.fuzzing.mutate``: bytes, lines, and values replaced by non-finite,
400-digit, wrong-typed or unicode-digit ones) must end in status 0 with finite output, or in one
line ``interconnect-sim: error: ...`` naming the mutated file and status 2. The importer formats
(nccl-tests logs, topology dumps, PyTorch and Chakra traces) have their own property tests in
``test_importer_fuzz.py`` and ``test_trace_import_fuzz.py``; ``benchmarks/fuzz_campaign.py`` runs
all of them hundreds of times.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import assert_clean, mutate, non_finite_words, run_main

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "scenarios"
SYSTEM_FILE = SCENARIOS / "systems" / "my-4xh100.toml"
TRACE = SCENARIOS / "traces" / "tp-dp-overlap.jsonl"
LAB_NIC = (
    'id = "lab-nic"\nkind = "nic"\nname = "Our 400G NIC"\nport_link = "ib-ndr"\n'
    'port_count = 1\nhost_link = "pcie-5"\nhost_lanes = 16\n'
)
SWEEP = """name = "tiny"
description = "Llama 3 8B on DGX H100, two sizes"
[objective]
minimize = "time_to_train"
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
gpus = [16, 32]
"""


def _lab_node() -> str:
    return (
        SYSTEM_FILE.read_text()
        .replace('"my-4xh100"', '"lab-node"')
        .replace('nic = "connectx-6"', 'nic = "lab-nic"')
    )


def _system(path: Path) -> list[str]:
    return ["topo", str(path), "--json"]


def _catalog(path: Path) -> list[str]:
    (path.parent / "lab-node.toml").write_text(_lab_node())
    return ["topo", "lab-node", "--catalog", str(path.parent), "--json"]


def _scenario(path: Path) -> list[str]:
    (path.parent / "traces").mkdir()
    shutil.copy(TRACE, path.parent / "traces")
    return ["run", str(path), "--out", str(path.parent / "report")]


def _sweep(path: Path) -> list[str]:
    return ["plan", str(path), "--out", str(path.parent / "out"), "--workers", "1",
            "--no-progress", "--json"]  # fmt: skip


def _scoped(path: Path) -> list[str]:
    return ["collective", "--system", "dgx-h100", "--nodes", "2", "--op", "all_reduce",
            "--min-bytes", "1M", "--max-bytes", "1G", "--step-factor", "32",
            "--calibration", str(path), "--json"]  # fmt: skip


def _step_trace(path: Path) -> list[str]:
    return ["replay", str(path), "--system", "dgx-h100", "--nodes", "2", "--engine", "des",
            "--json"]  # fmt: skip


def _written(tmp: Path) -> dict[str, bytes]:
    """A calibration written by ``calibrate`` (with a [[scoped]] entry) and a small step trace
    written by ``train --emit-trace``, made by this checkout."""
    log = ROOT / "tests" / "data" / "importers" / "all_reduce_perf-2x8-h100.log"
    scoped, step = tmp / "scoped.toml", tmp / "step.jsonl"
    for argv in (
        ["calibrate", "--measurements", str(log), "--system", "dgx-h100", "--out", str(scoped),
         "--sweeps", "1"],
        ["train", "--model", "llama3-8b", "--system", "dgx-h100", "--nodes", "2", "--tp", "8",
         "--pp", "2", "--global-batch", "4", "--engine", "des", "--emit-trace", str(step)],
    ):  # fmt: skip
        assert run_main(argv).status == 0, argv
    return {"scoped": scoped.read_bytes(), "step": step.read_bytes()}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _written(tmp_path_factory.mktemp("written"))


# name: (mutator, file name, seed (bytes, or a key of `written`), command, examples)
FORMATS: dict[str, tuple[str, str, bytes | str, Callable[[Path], list[str]], int]] = {
    "system-toml": ("toml", SYSTEM_FILE.name, SYSTEM_FILE.read_bytes(), _system, 20),
    "catalog": ("toml", "lab-nic.toml", LAB_NIC.encode(), _catalog, 15),
    "scenario": (
        "toml",
        "collective.toml",
        (SCENARIOS / "allreduce-dgx-h100-2nodes.toml")
        .read_text()
        .replace("step-factor = 2", "step-factor = 64")
        .encode(),
        _scenario,
        5,
    ),
    "plan-sweep": ("toml", "sweep.toml", SWEEP.encode(), _sweep, 4),
    "calibration-scoped": ("toml", "scoped.toml", "scoped", _scoped, 15),
    "step-trace": ("jsonl", "step.jsonl", "step", _step_trace, 8),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_mutated_inputs_end_clean(name: str, written: dict[str, bytes]) -> None:
    kind, file_name, seed, command, examples = FORMATS[name]
    data = written[seed] if isinstance(seed, str) else seed

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        mutated = mutate(data, kind, rng, rounds=rng.choice([1, 2]))
        folder = Path(tempfile.mkdtemp())
        try:
            path = folder / file_name
            path.write_bytes(mutated)
            outcome = run_main(command(path), timeout_s=120)
            assert_clean(outcome, str(path), echoed=non_finite_words(mutated))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()
