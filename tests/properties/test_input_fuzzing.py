"""Every input format fuzzed through the CLI's ``main`` (issue #10).

Per format: random mutations of a valid seed end in a finite, non-negative success or a
one-line error naming the file (exit 2); values known to be invalid always end in that error.
Options get nasty values the same way. Generated inputs are kept small so the whole module runs
in well under a minute; ``benchmarks/fuzz_campaign.py`` runs the same mutators 1,000 times per
format.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.calibration.model import DEFAULT_CALIBRATION
from interconnect_sim.training.model import MODELS_DIR
from interconnect_sim.validation.measurements import SHIPPED_MEASUREMENTS
from interconnect_sim.validation.training_runs import SHIPPED_TRAINING_RUNS
from tests.fuzzing import (
    HUGE_INT,
    assert_clean,
    assert_user_error,
    mutate,
    non_finite_words,
    run_main,
)

ROOT = Path(__file__).parents[2]
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
STRICT = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
TIMEOUT_S = 120.0  # a hang fails the test instead of stalling the suite


@contextmanager
def _file(name: str, data: bytes) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        path = folder / name
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _csv(frame: pd.DataFrame) -> bytes:
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode()


def _measurements_seed() -> bytes:
    frame = pd.read_csv(SHIPPED_MEASUREMENTS, dtype=str, keep_default_na=False)
    rows = frame[frame["run_id"] == "autodl_2x2080ti_all_reduce"].head(4)
    return _csv(rows.drop(columns=["source_note", "source_url", "measured_system"]))


def _training_seed() -> bytes:
    frame = pd.read_csv(SHIPPED_TRAINING_RUNS, dtype=str, keep_default_na=False)
    rows = frame[frame["row_id"].isin(["25", "49", "60"])].copy()
    for column in rows.columns:  # the mutators split on commas
        rows[column] = rows[column].str.replace(",", ";")
    return _csv(rows)


TRACE = (ROOT / "scenarios" / "traces" / "tp-dp-overlap.jsonl").read_bytes()
MEASUREMENTS = _measurements_seed()
TRAINING_RUNS = _training_seed()
CALIBRATION = DEFAULT_CALIBRATION.read_bytes()
MODEL = (MODELS_DIR / "llama3-8b.toml").read_bytes()
MOE_MODEL = (MODELS_DIR / "mixtral-8x7b.toml").read_bytes()

Argv = Callable[[Path, random.Random], list[str]]


def _replay(path: Path, rng: random.Random) -> list[str]:
    engine = rng.choice(["des", "analytic"])
    return ["replay", str(path), "--system", "dgx-h100", "--nodes", "2", "--engine", engine,
            *(["--json"] if rng.random() < 0.5 else [])]  # fmt: skip


def _validate(path: Path, rng: random.Random) -> list[str]:
    return ["validate", "--measurements", str(path), *(["--json"] if rng.random() < 0.5 else [])]


def _validate_training(path: Path, rng: random.Random) -> list[str]:
    return ["validate-training", "--runs", str(path), *(["--json"] if rng.random() < 0.5 else [])]


def _collective(path: Path, rng: random.Random) -> list[str]:
    return ["collective", "--system", "dgx-h100", "--nodes", "2", "--op",
            rng.choice(["all_reduce", "sendrecv"]), "--min-bytes", "1K", "--max-bytes", "1G",
            "--step-factor", "32", "--calibration", str(path)]  # fmt: skip


def _train(path: Path, rng: random.Random) -> list[str]:
    return ["train", "--model", str(path), "--system", "dgx-h100", "--nodes", "2", "--tp", "8",
            "--pp", "1", "--tokens", "1T", "--mtbf-node", "50000 h",
            *(["--json"] if rng.random() < 0.5 else [])]  # fmt: skip


FORMATS: dict[str, tuple[str, str, list[bytes], Argv]] = {
    "trace": ("trace.jsonl", "jsonl", [TRACE], _replay),
    "measurements": ("m.csv", "csv", [MEASUREMENTS], _validate),
    "training-runs": ("runs.csv", "csv", [TRAINING_RUNS], _validate_training),
    "calibration": ("c.toml", "toml", [CALIBRATION], _collective),
    "model": ("model.toml", "toml", [MODEL, MOE_MODEL], _train),
}


def _fuzz_one(fmt: str, rng: random.Random) -> None:
    name, kind, seeds, argv = FORMATS[fmt]
    data = mutate(rng.choice(seeds), kind, rng, rounds=rng.choice([1, 2]), chain_lengths=(1100,))
    with _file(name, data) as path:
        # A valid model too big for the layout is refused naming the options to change.
        names = (str(path), "tp/pp") if fmt == "model" else (str(path),)
        outcome = run_main(argv(path, rng), timeout_s=TIMEOUT_S)
        assert_clean(outcome, *names, echoed=non_finite_words(data))


@FUZZ
@given(st.randoms(use_true_random=False))
def test_mutated_traces_end_clean(rng: random.Random) -> None:
    _fuzz_one("trace", rng)


@FUZZ
@given(st.randoms(use_true_random=False))
def test_mutated_measurement_files_end_clean(rng: random.Random) -> None:
    _fuzz_one("measurements", rng)


@FUZZ
@given(st.randoms(use_true_random=False))
def test_mutated_training_run_files_end_clean(rng: random.Random) -> None:
    _fuzz_one("training-runs", rng)


@FUZZ
@given(st.randoms(use_true_random=False))
def test_mutated_calibration_files_end_clean(rng: random.Random) -> None:
    _fuzz_one("calibration", rng)


@FUZZ
@given(st.randoms(use_true_random=False))
def test_mutated_model_files_end_clean(rng: random.Random) -> None:
    _fuzz_one("model", rng)


# -- values that must be refused -------------------------------------------------------------

_BAD_TRACE_VALUES: dict[str, list[object]] = {
    "start_s": [
        float("nan"),
        float("inf"),
        -1.0,
        1e300,
        "1",
        True,
        None,
        int(HUGE_INT),
        -int(HUGE_INT),
    ],
    "compute_s": [float("nan"), -0.5, 1e12, [], int(HUGE_INT), -int(HUGE_INT)],
    "bytes": [
        0,
        -1,
        "1e400 B",
        "1e300 TB",
        "8 Gb",
        "x",
        True,
        [],
        1.5e3,
        int(HUGE_INT),
        -int(HUGE_INT),
    ],
    "group": ["node:\u00b2", "rail:\u0663", "rail:-1", "x", 3, "node:99"],
    "ranks": ["0-999999999", "5-3", "0-x", [], [-1], [0, 0], [0, 99], [True, 1], "0-1e3"],
    "op": ["x", 3, None],
    "algo": ["x", 3, ["ring"]],
    "proto": ["x", 0],
    "after": ["tp-node0", [1], ["missing"]],
    "id": ["", 3, None],
    "p2p_comm": ["x", [], "pairs"],
    "unknown_key": [1],
}


@STRICT
@given(
    key=st.sampled_from(sorted(_BAD_TRACE_VALUES)),
    data=st.data(),
    engine=st.sampled_from(["des", "analytic"]),
)
def test_invalid_trace_values_are_one_line_errors(
    key: str, data: st.DataObject, engine: str
) -> None:
    value = data.draw(st.sampled_from(_BAD_TRACE_VALUES[key]), label="value")
    call = {"id": "x", "op": "all_reduce", "bytes": 1024, "group": "world"}
    if key == "ranks":
        del call["group"]
    call[key] = value
    line = json.dumps(call)  # NaN and Infinity written as JSON extensions, as a user might
    with _file("trace.jsonl", TRACE + line.encode() + b"\n") as path:
        outcome = run_main(_replay(path, random.Random(engine)), timeout_s=TIMEOUT_S)
        assert_user_error(outcome, str(path))


_BAD_CELLS: dict[str, list[str]] = {
    "nodes": ["0", "-1", "1.5", "x", "\u0663", "\u00b2", HUGE_INT, "100000", "nan"],
    "gpus_per_node": ["0", "9", "1e3", ""],
    "bytes": ["0", "-1", "inf", "nan", "1e400", HUGE_INT, ""],
    "time_us": ["0", "1e-320", "nan", "inf", "-1", "x"],
    "busbw_GBps": ["nan", "inf", "-1", "x", ""],
    "op": ["x", ""],
    "system": ["x", ""],
    "p2p": ["x", "1"],
    "fit_role": ["x", "train"],
    "algo": ["x", "nvls"],  # nvls exists, but not on these PCIe GPUs
    "nic_count": ["0", "x", "1.5"],
}


@STRICT
@given(column=st.sampled_from(sorted(_BAD_CELLS)), data=st.data())
def test_invalid_measurement_cells_are_one_line_errors(column: str, data: st.DataObject) -> None:
    value = data.draw(st.sampled_from(_BAD_CELLS[column]), label="value")
    frame = pd.read_csv(io.BytesIO(MEASUREMENTS), dtype=str, keep_default_na=False)
    if column not in frame.columns:
        frame[column] = ""
    frame.loc[data.draw(st.integers(0, len(frame) - 1), label="row"), column] = value
    with _file("m.csv", _csv(frame)) as path:
        assert_user_error(run_main(_validate(path, random.Random(0))), str(path))


_BAD_CALIBRATION: list[tuple[str, str]] = [
    ("nvlink = 0.8125", v) for v in ("nvlink = nan", "nvlink = 0", "nvlink = -1", 'nvlink = "x"',
                                     "")
] + [
    ("infiniband = 0.941875", v) for v in ("infiniband = inf", "infiniband = 1.5",
                                           "infiniband = []", "infiniband = true", "")
] + [
    ("infiniband = 3.125", v) for v in ("infiniband = -1.0", "infiniband = nan",
                                        "infiniband = 1e300")
] + [
    ('constants = "nccl-2.30"', v) for v in ('constants = "../x"', "constants = 3",
                                             'constants = "nope"', "")
] + [("[fitted.intra_efficiency]", "[fitted.intra_efficiency]\nrubin = 1.0")]  # fmt: skip


@STRICT
@given(st.sampled_from(_BAD_CALIBRATION))
def test_invalid_calibration_values_are_one_line_errors(edit: tuple[str, str]) -> None:
    old, new = edit
    text = CALIBRATION.decode()
    assert old in text
    with _file("c.toml", text.replace(old, new, 1).encode()) as path:
        assert_user_error(run_main(_collective(path, random.Random(0))), str(path))


_BAD_MODEL: list[tuple[str, str]] = [
    ("layers = 32", v) for v in ("layers = 0", "layers = -1", "layers = 1.5", 'layers = "32"',
                                 "layers = true", "layers = 9223372036854775807", "")
] + [
    ("hidden = 4096", v) for v in ("hidden = 0", "hidden = inf", "hidden = nan")
] + [
    ("kv_heads = 8", v) for v in ("kv_heads = 7", "kv_heads = 0")
] + [
    ('mlp = "swiglu"', 'mlp = "relu"'), ("seq_len = 8192", "seq_len = 0"),
    ('name = "Llama 3 8B"', "name = 3"), ("vocab = 128256", "vocab = []"),
]  # fmt: skip


@STRICT
@given(st.sampled_from(_BAD_MODEL))
def test_invalid_model_values_are_one_line_errors(edit: tuple[str, str]) -> None:
    old, new = edit
    text = MODEL.decode()
    assert old in text, old
    with _file("model.toml", text.replace(old, new, 1).encode()) as path:
        assert_user_error(run_main(_train(path, random.Random(0))), str(path))


# -- options --------------------------------------------------------------------------------

_COMMANDS = {
    "topo": (["topo", "dgx-h100", "--nodes", "2"],
             ["--nodes", "--scalable-units", "--oversubscription", "--nic-count", "--nvlink-lanes",
              "--nic", "--switch"]),
    "collective": (["collective", "--system", "dgx-h100", "--nodes", "2", "--op", "all_reduce",
                    "--max-bytes", "1M"],
                   ["--nodes", "--min-bytes", "--max-bytes", "--step-factor", "--gpus-per-node",
                    "--op", "--algo", "--proto", "--nvlink-lanes"]),
    "train": (["train", "--model", "llama3-8b", "--system", "dgx-h100", "--nodes", "1", "--tp",
               "8", "--pp", "1", "--tokens", "1T", "--mtbf-node", "50000 h"],
              ["--nodes", "--tp", "--pp", "--dp", "--seq", "--global-batch", "--micro-batch",
               "--tokens", "--mtbf-node", "--checkpoint-interval", "--checkpoint-cost", "--restart",
               "--oversubscription", "--model", "--system"]),
    "replay": (["replay", "scenarios/traces/tp-dp-overlap.jsonl", "--system", "dgx-h100",
                "--nodes", "2", "--engine", "analytic"],
               ["--nodes", "--top-links", "--calibration", "--out", "--nvlink-lanes"]),
}  # fmt: skip
_NASTY_OPTION_VALUES = [
    "0", "-1", "1.5", "nan", "inf", "-inf", "1e300", "100000", "9000", "1.000001", "\u0663",
    "\u00b2", "", " ", "x", HUGE_INT, "1e400T", "0 h", "inf h", "1e400 h", "1e300 TB",
    "README.md/x", "/proc/none/x.toml",
]  # fmt: skip


@FUZZ
@given(command=st.sampled_from(sorted(_COMMANDS)), data=st.data())
def test_nasty_option_values_end_clean(command: str, data: st.DataObject) -> None:
    base, options = _COMMANDS[command]
    option = data.draw(st.sampled_from(options), label="option")
    value = data.draw(st.sampled_from(_NASTY_OPTION_VALUES), label="value")
    argv = list(base)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    argv = [a.replace("scenarios/", f"{ROOT}/scenarios/") for a in argv]
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):  # --out x writes
        outcome = run_main(argv, timeout_s=TIMEOUT_S)  # an --out folder named nan is echoed
        assert_clean(outcome, option, value, echoed=non_finite_words(value.encode()))
