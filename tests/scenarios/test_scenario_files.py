"""Scenario files: one-line errors naming file, table, key and what is allowed; keys read back
from the command line's own options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from interconnect_sim.cli import main
from interconnect_sim.errors import ScenarioError
from interconnect_sim.scenarios import load_scenario, parse_scenario
from interconnect_sim.scenarios.loader import run_tables, training_defaults
from interconnect_sim.scenarios.options import add_training_options

TRAINING = """
kind = "training"
model = "llama3-8b"
[fabric]
system = "dgx-h100"
nodes = 2
[parallel]
tp = 8
pp = 1
[training]
tokens = "1T"
"""


def _write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "Traceback" not in err
    return err


# -- the reproducers of issue #10: values must pass the command line's own checks ----------------


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        ("tp = 8", "tp = 0", "[parallel] tp = 0", "must be at least 1"),
        ("tp = 8", 'tp = "8"', '[parallel] tp = "8"', "a string, expected an integer"),
        ("nodes = 2", "nodes = 2.0", "[fabric] nodes = 2.0", "a number, expected an integer"),
        ('tokens = "1T"', 'tokens = "1e400T"', '[training] tokens = "1e400T"', "token count"),
        ("[training]\ntokens", "training = 1\n[x]\ntokens", "[training]", "must be a table"),
    ],
)
@pytest.mark.parametrize("command", ["train", "run"])
def test_issue_10_reproducers_give_one_line_naming_file_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    old: str,
    new: str,
    key: str,
    says: str,
) -> None:
    text = TRAINING.replace(old, new)
    if "training = 1" in text:  # a scalar where a table belongs
        text = TRAINING.replace('[training]\ntokens = "1T"', "").replace(
            'kind = "training"', 'kind = "training"\ntraining = 1'
        )
    path = _write(tmp_path, text)
    argv = ["train", "--scenario", str(path)] if command == "train" else ["run", str(path)]
    err = _one_line_error(capsys, argv)
    assert str(path) in err
    assert key in err
    assert says in err


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("nodes = 2", "nodez = 2"), "unknown key 'nodez' (did you mean 'nodes'?); allowed:"),
        (('kind = "training"', 'kind = "trainng"'), "did you mean 'training'?"),
        (('kind = "training"', ""), "missing kind"),
        (('system = "dgx-h100"', 'system = "dgx-h1000"'), "unknown system 'dgx-h1000'; did"),
        (('model = "llama3-8b"', 'model = "llama9"'), 'model = "llama9"'),
        (("pp = 1", 'pp = 1\nprecision = "fp4x"'), 'allowed: "bf16", "fp8"'),
        (("pp = 1", "pp = 1\ntp-overlap = 1"), "tp-overlap = 1: must be true or false"),
        (("tp = 8", ""), "tp is required"),
        (("nodes = 2", "nodes = 2\nscalable-units = 1"), "give only one of nodes, scalable-units"),
        (("[parallel]", "[parallell]"), "unknown key 'parallell'"),
        (("pp = 1", "pp = 1\nzero = 5"), "allowed: 0, 1, 2, 3"),
        (("nodes = 2", "nodes = 2\noversubscription = inf"), "must be a positive ratio"),
    ],
)
def test_bad_training_scenarios_name_file_key_and_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], says: str
) -> None:
    path = _write(tmp_path, TRAINING.replace(*change))
    err = _one_line_error(capsys, ["run", str(path)])
    assert err.startswith(f"interconnect-sim: error: {path}:"), err
    assert says in err, err


def test_bad_toml_and_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, ["run", str(_write(tmp_path, "kind = \n"))])
    assert "not valid TOML" in err
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'kind = "training"\nname = "caf\xe9"\n')
    assert "not UTF-8" in _one_line_error(capsys, ["run", str(path)])
    assert "not found" in _one_line_error(capsys, ["run", str(tmp_path / "missing.toml")])


COMPARE = """
kind = "compare"
run = "collective"
[fabric]
system = "dgx-h100"
[collective]
op = "all_reduce"
min-bytes = "1M"
max-bytes = "16M"
[[variant]]
name = "healthy"
[[variant]]
name = "half lanes"
fabric = { nvlink-lanes = 1 }
"""


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('run = "collective"', 'run = "replay"'), 'run = "replay": must be "collective" or'),
        (("fabric = { nvlink-lanes = 1 }", "fabric = { nvlink-lane = 1 }"), "'half lanes'"),
        (("fabric = { nvlink-lanes = 1 }", "fabrik = { nvlink-lanes = 1 }"), "did you mean"),
        (('name = "half lanes"\n', ""), 'needs a name = "..."'),
        (("fabric = { nvlink-lanes = 1 }", "fabric = { nvlink-lanes = 0 }"), "at least 1"),
        (
            ('[[variant]]\nname = "half lanes"\nfabric = { nvlink-lanes = 1 }', ""),
            "two [[variant]]",
        ),
        (("[fabric]", "fabrik = 1\n[fabric]"), 'for kind = "compare" with run = "collective"'),
        (('op = "all_reduce"', ""), "[collective]: op is required"),
    ],
)
def test_bad_compare_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], says: str
) -> None:
    path = _write(tmp_path, COMPARE.replace(*change))
    err = _one_line_error(capsys, ["run", str(path)])
    assert says in err, err


def test_a_compare_scenario_resolves_each_variant() -> None:
    scenario = parse_scenario(COMPARE)
    healthy, half = scenario.runs
    assert healthy.values["nvlink_lanes"] is None
    assert half.values["nvlink_lanes"] == 1
    assert half.written == (("nvlink-lanes", 1),)
    assert half.values["op"] == "all_reduce"  # the base carries over


def test_every_train_option_is_a_scenario_key() -> None:
    """Keys are read from the parser, so an option another change adds appears by itself."""
    parser = argparse.ArgumentParser()
    add_training_options(parser)
    flags = {a.dest for a in parser._actions if a.option_strings and a.dest != "help"}
    keys = {dest for table in run_tables("training").values() for dest in table.options}
    assert flags == keys
    assert set(training_defaults()) == keys


def test_train_scenario_values_with_command_line_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, TRAINING)
    assert main(["train", "--scenario", str(path), "--tp", "4", "--pp", "2", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"gpus": 16' in out
    assert main(["train", "--scenario", str(path)]) == 0
    assert "tp 8, pp 1" in capsys.readouterr().out


def test_train_scenario_of_another_kind_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, COMPARE)
    err = _one_line_error(capsys, ["train", "--scenario", str(path)])
    assert 'kind = "compare"' in err
    assert "interconnect-sim run" in err


def test_paths_in_a_scenario_are_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    path = _write(
        tmp_path,
        '\nkind = "replay"\n[fabric]\nsystem = "dgx-h100"\n[replay]\ntrace = "traces/t.jsonl"\n',
    )
    assert load_scenario(path).runs[0].values["trace"] == tmp_path / "traces" / "t.jsonl"


def test_errors_are_scenario_errors() -> None:
    with pytest.raises(ScenarioError, match=r"<scenario>: \[fabric\] nodes = -1"):
        parse_scenario(TRAINING.replace("nodes = 2", "nodes = -1"))


def test_docs_list_every_scenario_key() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text()
    for kind in ("collective", "replay", "training"):
        for table in run_tables(kind).values():
            for key in table.keys:
                assert f"`{key}`" in docs, f"docs/scenarios.md does not list {kind} key {key!r}"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('kind = "plan"\n', '[plan]: is required: sweep = "SWEEP.toml"'),
        ('kind = "plan"\n[plan]\nswep = "x.toml"\n', "did you mean 'sweep'?"),
        ('kind = "plan"\n[plan]\nsweep = "missing.toml"\n', 'sweep = "missing.toml"'),
        ('kind = "plan"\n[plan]\nsweep = "s.toml"\nworkers = 0\n', "workers = 0"),
        ('kind = "plan"\nfabric = 1\n[plan]\nsweep = "s.toml"\n', "unknown key 'fabric'"),
    ],
)
def test_bad_plan_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str
) -> None:
    shipped = Path(__file__).parents[2] / "scenarios" / "sweeps" / "llama3-70b-deadline.toml"
    (tmp_path / "s.toml").write_text(
        shipped.read_text().replace("../prices/", str(shipped.parents[1] / "prices") + "/")
    )
    err = _one_line_error(capsys, ["run", str(_write(tmp_path, text))])
    assert says in err, err
