"""Every reproducer of issue #10, one test each, grouped by the issue's bullets.

Each runs the CLI's ``main`` in-process (:func:`tests.fuzzing.run_main`) and asserts the promise:
one line ``interconnect-sim: error: ...`` naming the file or option, exit status 2, no work
started on input that will fail. (Scenario values and the scenario reader are issue #17's.)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from interconnect_sim.calibration.model import DEFAULT_CALIBRATION
from interconnect_sim.errors import ScenarioError
from interconnect_sim.topology import fat_tree
from interconnect_sim.training.model import MODELS_DIR
from interconnect_sim.training.time_to_train import Goodput, time_to_train
from interconnect_sim.validation.measurements import SHIPPED_MEASUREMENTS
from tests.fuzzing import assert_finite_output, assert_user_error, run_main

ROOT = Path(__file__).parents[2]
TRACE = ROOT / "scenarios" / "traces" / "tp-dp-overlap.jsonl"
UNWRITABLE = Path("/proc/no-such-folder")  # no one, root included, can create folders here
CALL = {"id": "a", "op": "all_reduce", "bytes": 1024, "group": "world"}


def _trace(tmp_path: Path, *calls: dict[str, object] | str) -> Path:
    path = tmp_path / "trace.jsonl"
    path.write_text("".join((c if isinstance(c, str) else json.dumps(c)) + "\n" for c in calls))
    return path


def _replay(path: Path, engine: str) -> list[str]:
    return ["replay", str(path), "--system", "dgx-h100", "--engine", engine]


@pytest.fixture
def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the systems built: a request refused "before any work" builds at most one."""
    built: list[int] = []
    original = fat_tree.add_system

    def counting(*args: object, **kwargs: object) -> object:
        built.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fat_tree, "add_system", counting)
    return built


# -- Output paths are never checked before work starts ---------------------------------------------


def test_output_paths_replay_out_under_a_file_fails_before_the_trace_is_read() -> None:
    missing_trace = "no-such-trace.jsonl"  # if --out were checked after, this would be named
    outcome = run_main(
        ["replay", missing_trace, "--system", "dgx-h100", "--out", str(ROOT / "README.md/out")]
    )
    assert "a file, not a folder" in assert_user_error(outcome, "--out")


def test_output_paths_validate_plots_unwritable_fails_before_predicting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interconnect_sim.validation import harness

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("predictions started before --plots was checked")

    monkeypatch.setattr(harness.Predictor, "predict", never)
    assert_user_error(run_main(["validate", "--plots", str(UNWRITABLE / "plots")]), "--plots")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_output_paths_validate_plots_into_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert_user_error(run_main(["validate", "--plots", str(folder / "plots")]), "--plots")
    finally:
        folder.chmod(0o755)


def test_output_paths_collective_csv_unwritable_and_missing_folder(tmp_path: Path) -> None:
    base = ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--max-bytes", "1M"]
    assert_user_error(run_main([*base, "--csv", str(UNWRITABLE / "rows.csv")]), "--csv")
    created = tmp_path / "new" / "folder" / "rows.csv"
    assert run_main([*base, "--csv", str(created)]).status == 0
    assert created.read_text().startswith("bytes,")


def test_output_paths_calibrate_out_unwritable_fails_before_fitting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interconnect_sim.cli import validation_commands

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitting started before --out was checked")

    monkeypatch.setattr(validation_commands, "fit_calibration", never)
    assert_user_error(run_main(["calibrate", "--out", str(UNWRITABLE / "c.toml")]), "--out")
    assert_user_error(run_main(["calibrate", "--out", str(ROOT / "README.md/c.toml")]), "--out")


def test_output_paths_topo_draw_without_suffix_names_the_formats(tmp_path: Path) -> None:
    line = assert_user_error(run_main(["topo", "dgx-h100", "--draw", str(tmp_path / "pod")]))
    assert "--draw" in line
    assert ".png" in line


# -- Non-UTF-8 bytes -------------------------------------------------------------------------------


def test_non_utf8_trace_model_and_calibration_files(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_bytes(TRACE.read_bytes() + b"\xff\n")
    model = tmp_path / "m.toml"
    model.write_bytes((MODELS_DIR / "llama3-8b.toml").read_bytes().replace(b"Llama", b"L\xe9ama"))
    calibration = tmp_path / "c.toml"
    calibration.write_bytes(b"\xc3\x28" + DEFAULT_CALIBRATION.read_bytes())
    for argv, path in (
        (["replay", str(trace), "--system", "dgx-h100", "--nodes", "2"], trace),
        (["train", "--model", str(model), "--system", "dgx-h100", "--nodes", "1",
          "--tp", "8", "--pp", "1"], model),
        (["collective", "--system", "dgx-h100", "--op", "all_reduce",
          "--calibration", str(calibration)], calibration),
    ):  # fmt: skip
        assert "not UTF-8" in assert_user_error(run_main(argv), str(path))


# -- validate-training --runs FILE -----------------------------------------------------------------


def _runs(tmp_path: Path, rows: list[str]) -> Path:
    header = (
        "row_id,category,model_name,n_layers,hidden_size,n_heads,gpu_model,n_gpus,tp,pp,"
        "global_batch_sequences,seq_len,tflops_per_gpu,source_url"
    )
    path = tmp_path / "runs.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_validate_training_runs_with_no_held_out_row_prints_its_table(tmp_path: Path) -> None:
    fit_only = (
        "1,paper_benchmark,GPT 1.7B (Megatron-LM weak scaling),24,2304,24,A100,8,1,1,512,2048,137,x"
    )
    outcome = run_main(["validate-training", "--runs", str(_runs(tmp_path, [fit_only]))])
    assert_finite_output(outcome)
    assert "held-out median -" in outcome.stdout


def test_validate_training_runs_with_no_mapped_row_prints_its_table(tmp_path: Path) -> None:
    unmapped = "1,full_training_run,PaLM,118,18432,48,TPU v4 (NOT A GPU),6144,12,1,2048,2048,1,x"
    outcome = run_main(["validate-training", "--runs", str(_runs(tmp_path, [unmapped]))])
    assert_finite_output(outcome)
    assert "overall: 0 rows" in outcome.stdout
    assert "not mapped (1)" in outcome.stdout


@pytest.mark.parametrize(("column", "value"), [("n_layers", "0"), ("hidden_size", "0.4")])
def test_validate_training_zero_or_fractional_dimensions_are_reasons_not_crashes(
    tmp_path: Path, column: str, value: str
) -> None:
    row = {"n_layers": "24", "hidden_size": "2304", column: value}
    line = (
        f"1,paper_benchmark,GPT 1.7B (Megatron-LM weak scaling),{row['n_layers']},"
        f"{row['hidden_size']},24,A100 80GB,8,1,1,512,2048,137,x"
    )
    outcome = run_main(["validate-training", "--runs", str(_runs(tmp_path, [line])), "--json"])
    assert_finite_output(outcome)
    reasons = [r["reason"] for r in json.loads(outcome.stdout)["unmapped"]]
    assert any(column in reason and "whole number" in reason for reason in reasons), reasons


# -- Traces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["analytic", "des"])
@pytest.mark.parametrize(
    "bad",
    ['"start_s": NaN', '"start_s": Infinity', '"start_s": 1e300', '"compute_s": NaN',
     '"compute_s": 1e300'],
)  # fmt: skip
def test_traces_nan_infinite_or_huge_times_are_refused_by_both_engines(
    tmp_path: Path, engine: str, bad: str
) -> None:
    line = json.dumps(CALL)[:-1] + ", " + bad + "}"
    outcome = run_main(_replay(_trace(tmp_path, line), engine), timeout_s=60)
    assert_user_error(outcome, str(tmp_path / "trace.jsonl"))


@pytest.mark.parametrize("engine", ["analytic", "des"])
def test_traces_dependency_chain_listed_in_reverse(tmp_path: Path, engine: str) -> None:
    chain = [
        CALL | {"id": f"c{i}"} | ({"after": [f"c{i - 1}"]} if i else {})
        for i in range(1500, -1, -1)
    ]
    outcome = run_main([*_replay(_trace(tmp_path, *chain), engine), "--json"])
    assert_finite_output(outcome)
    calls = {c["id"]: c for c in json.loads(outcome.stdout)["calls"]}
    assert calls["c1500"]["start_s"] == pytest.approx(calls["c1499"]["end_s"])


def test_traces_rank_range_far_past_the_fabric_is_refused_before_allocating(
    tmp_path: Path,
) -> None:
    path = _trace(
        tmp_path, {k: v for k, v in CALL.items() if k != "group"} | {"ranks": "0-999999999"}
    )
    line = assert_user_error(run_main(_replay(path, "des")), str(path))
    assert "largest fabric" in line


@pytest.mark.parametrize("key", ["bytes", "start_s", "compute_s"])
@pytest.mark.parametrize("sign", ["", "-"])
def test_traces_400_digit_integers(tmp_path: Path, key: str, sign: str) -> None:
    path = _trace(
        tmp_path,
        json.dumps(CALL)[:-1] + f', "{key}": {sign}1{"0" * 400}}}',
    )
    assert_user_error(run_main(_replay(path, "analytic")), str(path))


@pytest.mark.parametrize("group", ["node:\u00b2", "rail:\u0663", "node:-1"])
def test_traces_group_index_must_be_ascii_digits(tmp_path: Path, group: str) -> None:
    path = _trace(tmp_path, CALL | {"group": group})
    assert "node:K or rail:R" in assert_user_error(run_main(_replay(path, "des")), str(path))


# -- CSV readers -----------------------------------------------------------------------------------


def test_csv_readers_empty_measurements_file() -> None:
    line = assert_user_error(run_main(["validate", "--measurements", "/dev/null"]), "/dev/null")
    assert "empty" in line


def test_csv_readers_empty_training_runs_file() -> None:
    outcome = run_main(["validate-training", "--runs", "/dev/null"])
    assert "empty" in assert_user_error(outcome, "/dev/null")


def _measurements(tmp_path: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    lines = SHIPPED_MEASUREMENTS.read_text().splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.startswith("autodl_2x2080ti_all_reduce")]
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header, *edit(rows[:4])]) + "\n")
    return path


def test_csv_readers_shifted_column(tmp_path: Path) -> None:
    path = _measurements(tmp_path, lambda rows: [rows[0], "x," + rows[1], *rows[2:]])
    line = assert_user_error(run_main(["validate", "--measurements", str(path)]), str(path))
    assert "row 2 has" in line


@pytest.mark.parametrize("column", [2, 3, 10])  # nodes, gpus_per_node, bytes
def test_csv_readers_huge_integers(tmp_path: Path, column: int) -> None:
    def huge(rows: list[str]) -> list[str]:
        cells = rows[0].split(",")
        cells[column] = "1" + "0" * 400
        return [",".join(cells), *rows[1:]]

    path = _measurements(tmp_path, huge)
    line = assert_user_error(run_main(["validate", "--measurements", str(path)]), str(path))
    assert "row 1" in line
    assert "characters" in line


# -- Calibration TOML ------------------------------------------------------------------------------


def _calibration(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "c.toml"
    text = DEFAULT_CALIBRATION.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("tcpxo = 0.90125\n", "", "fitted.network_efficiency]: missing ['tcpxo']"),
        ("nvlink = 0.8125", 'nvlink = "x"', "fitted.p2p_efficiency.nvlink must be a finite number"),
        ("infiniband = 0.941875", "infiniband = nan", "network_efficiency.infiniband must be a"),
        ("[fitted.intra_efficiency]", "intra_efficiency = 1\n[x]", "[fitted.intra_efficiency]"),
    ],
)  # fmt: skip
def test_calibration_toml_missing_keys_and_wrong_types(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = _calibration(tmp_path, old, new)
    argv = ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--calibration", str(path)]
    line = assert_user_error(run_main(argv), str(path))
    assert message in line or "missing" in line or "unknown" in line, line


def test_calibration_toml_architecture_class_not_listed(tmp_path: Path) -> None:
    constants = (DEFAULT_CALIBRATION.parent / "nccl-2.30.toml").read_text()
    (tmp_path / "consts.toml").write_text(
        constants.replace('hopper = "hopper"', 'hopper = "rubin"')
    )
    path = _calibration(tmp_path, 'constants = "nccl-2.30"', 'constants = "consts"')
    argv = ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--calibration", str(path)]
    line = assert_user_error(run_main(argv), str(tmp_path / "consts.toml"))
    assert "'rubin'" in line
    assert "volta, ampere, hopper, blackwell" in line


# -- Nonsense accepted -----------------------------------------------------------------------------


def test_nonsense_moe_with_more_dense_layers_than_layers(tmp_path: Path) -> None:
    path = tmp_path / "moe.toml"
    text = (MODELS_DIR / "deepseek-v3.toml").read_text()
    assert "dense_layers = 3\n" in text
    path.write_text(text.replace("dense_layers = 3\n", "dense_layers = 70\n"))
    argv = ["train", "--model", str(path), "--system", "dgx-h100", "--nodes", "1",
            "--tp", "8", "--pp", "1"]  # fmt: skip
    assert "dense_layers" in assert_user_error(run_main(argv), str(path))


@pytest.mark.parametrize("field", ["mtbf_per_node_s", "checkpoint_cost_s"])
def test_nonsense_infinite_mtbf_or_cost_is_refused_not_nan(field: str) -> None:
    inputs = {"mtbf_per_node_s": 1.8e8, "checkpoint_interval_s": 3600.0, "checkpoint_cost_s": 0.0,
              "restart_s": 600.0} | {field: math.inf}  # fmt: skip
    with pytest.raises(ScenarioError, match="finite duration"):
        time_to_train(15e12, 1e7, 1024, 128, Goodput(**inputs))


def test_nonsense_near_zero_busbw_gives_a_finite_error(tmp_path: Path) -> None:
    lines = SHIPPED_MEASUREMENTS.read_text().splitlines()
    header = lines[0].split(",")
    rows = [r for r in lines[1:] if ",dgx-h100,2,8," in r and ",all_reduce," in r][:3]
    cells = rows[-1].split(",")
    cells[header.index("busbw_GBps")] = "1e-320"
    cells[header.index("bytes")] = str(2**30)
    path = tmp_path / "m.csv"
    path.write_text("\n".join([lines[0], *rows[:-1], ",".join(cells)]) + "\n")
    assert_finite_output(run_main(["validate", "--measurements", str(path), "--json"]))


# -- Unbounded work --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["topo", "dgx-h100", "--nodes", "100000"],
        ["topo", "dgx-h100", "--scalable-units", "1000"],
        ["topo", "gb200-nvl72", "--nodes", "1000"],
        ["topo", "gb200-nvl72", "--nodes", "1000", "--switch", "q3400"],  # the GPU limit
        ["collective", "--system", "dgx-h100", "--nodes", "50000", "--op", "all_reduce"],
        ["train", "--model", "llama3-8b", "--system", "dgx-h100", "--nodes", "100000",
         "--tp", "8", "--pp", "1"],
    ],
)  # fmt: skip
def test_unbounded_work_is_refused_before_building(
    argv: list[str], count_builds: list[int]
) -> None:
    line = assert_user_error(
        run_main(argv), argv[argv.index("--nodes") + 1] if "--nodes" in argv else "1000"
    )
    assert "at most" in line or "largest fabric" in line
    assert len(count_builds) <= 1


def test_unbounded_work_step_factor_close_to_one(count_builds: list[int]) -> None:
    argv = ["collective", "--system", "dgx-h100", "--op", "all_reduce", "--step-factor", "1.000001"]
    line = assert_user_error(run_main(argv), "--step-factor")
    assert "20,794,426 sizes" in line
    assert "10,000" in line
    assert not count_builds


# -- Output folders are not whole ------------------------------------------------------------------


def test_output_folders_replay_out_killed_midway_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interconnect_sim.report import drawing

    out = tmp_path / "out"
    out.mkdir()
    (out / "calls.csv").write_text("old run\n")

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(drawing, "save_figure", killed)
    argv = ["replay", str(TRACE), "--system", "dgx-h100", "--nodes", "2", "--out", str(out)]
    with pytest.raises(KeyboardInterrupt):
        run_main(argv)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left
    assert [p.name for p in out.iterdir()] == ["calls.csv"]
    assert (out / "calls.csv").read_text() == "old run\n"


def test_output_folders_validate_plots_replaced_whole(tmp_path: Path) -> None:
    lines = SHIPPED_MEASUREMENTS.read_text().splitlines()
    rows = [r for r in lines[1:] if r.startswith("autodl_2x2080ti_all_reduce")][:3]
    measurements = tmp_path / "m.csv"
    measurements.write_text("\n".join([lines[0], *rows]) + "\n")
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "stale.png").write_bytes(b"old")
    outcome = run_main(["validate", "--measurements", str(measurements), "--plots", str(plots)])
    assert_finite_output(outcome)
    names = sorted(p.name for p in plots.iterdir())
    assert names
    assert "stale.png" not in names
    assert all(n.endswith(".png") for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "plots"]


# -- Found by the property tests and the campaign ---------------------------------------------


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["collective", "--system", "dgx-h100", "--op", "all_reduce", "--min-bytes",
          "1" + "0" * 400], "--min-bytes"),
        (["replay", str(TRACE), "--system", "dgx-h100", "--out", "a" * 400], "--out"),
        (["collective", "--system", "dgx-h100", "--op", "all_reduce", "--csv", "a" * 400],
         "--csv"),
        (["train", "--model", "a" * 400, "--system", "dgx-h100", "--nodes", "1", "--tp", "8",
          "--pp", "1"], "unknown model"),
        (["train", "--model", "a" * 400 + ".toml", "--system", "dgx-h100", "--nodes", "1",
          "--tp", "8", "--pp", "1"], "aaaa"),
    ],
)  # fmt: skip
def test_found_huge_numbers_and_names_too_long_for_the_file_system(
    argv: list[str], name: str
) -> None:
    assert_user_error(run_main(argv), name)
