"""Issue #10 for the formats main added after the first hardening pass: what the fuzzing campaign
(``benchmarks/fuzz_campaign.py``) found in system files, ``--catalog`` folders, scenario runs,
importer inputs, calibrations written by ``calibrate`` and step traces, one test each.

Each runs the CLI's ``main`` in-process and asserts the promise: one line
``interconnect-sim: error: ...`` naming the file, exit status 2, no traceback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fuzzing import assert_user_error, run_main

ROOT = Path(__file__).parents[2]
SYSTEM_FILE = ROOT / "scenarios" / "systems" / "my-4xh100.toml"
SCENARIOS = ROOT / "scenarios"
LAB_NIC = (
    'id = "lab-nic"\nkind = "nic"\nname = "Our 400G NIC"\nport_link = "ib-ndr"\n'
    'port_count = 1\nhost_link = "pcie-5"\nhost_lanes = 16\n'
)


def _lab_node() -> str:
    return (
        SYSTEM_FILE.read_text()
        .replace('"my-4xh100"', '"lab-node"')
        .replace('nic = "connectx-6"', 'nic = "lab-nic"')
    )


def _catalog(tmp_path: Path, nic: str | bytes = LAB_NIC, node: str | None = None) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "lab-nic.toml").write_bytes(nic.encode() if isinstance(nic, str) else nic)
    (folder / "lab-node.toml").write_text(_lab_node() if node is None else node)
    return folder


def test_system_file_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / SYSTEM_FILE.name
    path.write_bytes(SYSTEM_FILE.read_bytes().replace(b"4 x H100", b"4 x H100 \xff\xfe"))
    line = assert_user_error(run_main(["topo", str(path)]), str(path))
    assert "not UTF-8" in line


def test_catalog_file_not_utf8_is_one_line(tmp_path: Path) -> None:
    folder = _catalog(tmp_path, nic=LAB_NIC.encode().replace(b"Our", b"\xc3\x28ur"))
    argv = ["topo", "lab-node", "--catalog", str(folder)]
    assert "not UTF-8" in assert_user_error(run_main(argv), str(folder / "lab-nic.toml"))


def test_catalog_spec_kind_that_is_a_table_is_one_line(tmp_path: Path) -> None:
    folder = _catalog(tmp_path, nic=LAB_NIC.replace('kind = "nic"', "kind = {}"))
    argv = ["topo", "lab-node", "--catalog", str(folder)]
    assert "kind" in assert_user_error(run_main(argv), str(folder / "lab-nic.toml"))


def test_system_without_a_nic_names_its_file_and_the_key(tmp_path: Path) -> None:
    node = _lab_node().replace('nic = "lab-nic"', "")
    folder = _catalog(tmp_path, node=node)
    argv = ["topo", "lab-node", "--catalog", str(folder)]
    line = assert_user_error(run_main(argv), str(folder / "lab-node.toml"))
    assert "nic" in line


def test_run_error_in_a_file_the_scenario_names_also_names_the_scenario(tmp_path: Path) -> None:
    """The scenario sets one node; its trace uses node 1: the error names both files."""
    (tmp_path / "traces").mkdir()
    shutil.copy(SCENARIOS / "traces" / "tp-dp-overlap.jsonl", tmp_path / "traces")
    path = tmp_path / "replay.toml"
    path.write_text((SCENARIOS / "replay-tp-dp-overlap.toml").read_text().replace("nodes = 2", ""))
    outcome = run_main(["run", str(path), "--out", str(tmp_path / "out")])
    line = assert_user_error(outcome, str(path))
    assert "tp-dp-overlap.jsonl, line" in line
    assert not (tmp_path / "out").exists()


def test_an_error_message_holding_a_line_break_stays_one_line(tmp_path: Path) -> None:
    """A name read from a user's file may hold a line break; the error is still one line."""
    path = tmp_path / "trace.jsonl"
    path.write_text('{"id": "a\\nb", "op": "all_reduce", "bytes": 8, "group": "node:5"}\n')
    outcome = run_main(["replay", str(path), "--system", "dgx-h100"])
    line = assert_user_error(outcome, str(path))
    assert "'a\\\\nb'" in line or "a\\nb" in line


def test_the_cli_escapes_line_breaks_in_any_error_message() -> None:
    from interconnect_sim.cli import _one_line

    assert _one_line("kernel(a,\nb)\r\x00") == "kernel(a,\\nb)\\r\\x00"
    assert _one_line("é ² ok") == "é ² ok"


IMPORTED = ROOT / "tests" / "data" / "importers"


def test_trace_files_of_mixed_formats_are_each_named(tmp_path: Path) -> None:
    first = tmp_path / "chakra-json-2rank.0.json"
    first.write_text('{"id": "a", "op": "all_reduce", "bytes": 8, "group": "world"}\n')
    second = IMPORTED / "chakra-json-2rank.1.json"
    outcome = run_main(["replay", str(first), str(second), "--system", "dgx-h100"])
    line = assert_user_error(outcome, str(first))
    assert f"{second} is chakra" in line


def test_a_chakra_group_known_from_one_file_names_the_file() -> None:
    """One rank's file of a four-rank job: its process groups' other ranks are unknown."""
    only = IMPORTED / "chakra-4rank" / "chakra.0.et"
    outcome = run_main(["replay", str(only), "--system", "dgx-h100"])
    assert "unknown from one file" in assert_user_error(outcome, str(only))


def test_system_file_with_no_link_between_its_two_sockets_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / SYSTEM_FILE.name
    text = SYSTEM_FILE.read_text()
    assert "inter_socket_link_count = 3" in text
    path.write_text(text.replace("inter_socket_link_count = 3", "inter_socket_link_count = 0"))
    line = assert_user_error(run_main(["topo", str(path)]), str(path))
    assert "inter_socket_link_count" in line


def test_scenario_kind_that_is_a_list_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    text = (SCENARIOS / "allreduce-dgx-h100-2nodes.toml").read_text()
    path.write_text(text.replace('kind = "collective"', "kind = [1, 2]"))
    line = assert_user_error(run_main(["run", str(path), "--out", str(tmp_path / "o")]), str(path))
    assert "kind" in line


def test_a_chakra_group_recorded_by_one_file_names_the_files_without_it() -> None:
    """Rank 0's file missing (or damaged so its group records are lost): the error names the
    file that records the group and the files that do not."""
    files = [IMPORTED / "chakra-4rank" / f"chakra.{rank}.et" for rank in (1, 2, 3)]
    outcome = run_main(["replay", *map(str, files), "--system", "dgx-h100"])
    line = assert_user_error(outcome, str(files[0]))
    assert f"{files[1]}, {files[2]} do not record it" in line


def test_a_model_file_that_does_not_fit_is_named(tmp_path: Path) -> None:
    from interconnect_sim.training.model import MODELS_DIR

    path = tmp_path / "big.toml"
    text = (MODELS_DIR / "llama3-8b.toml").read_text()
    assert "layers = 32" in text
    path.write_text(text.replace("layers = 32", "layers = 320"))
    argv = ["train", "--model", str(path), "--system", "dgx-h100", "--nodes", "1", "--tp", "8",
            "--pp", "1"]  # fmt: skip
    assert "does not fit" in assert_user_error(run_main(argv), str(path))


def test_train_scenario_errors_name_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    text = (SCENARIOS / "llama3-70b-h100-superpod.toml").read_text()
    assert "cp = 2\n" in text
    path.write_text(text.replace("cp = 2\n", ""))  # found by the campaign: a layout the
    outcome = run_main(["train", "--scenario", str(path)])  # model cannot place
    assert_user_error(outcome, str(path))


def test_a_system_name_too_long_for_the_file_system_is_an_unknown_system() -> None:
    huge = "1" + "0" * 400
    argv = ["train", "--model", "llama3-8b", "--system", huge, "--nodes", "1", "--tp", "8"]
    assert "unknown system" in assert_user_error(run_main(argv), huge[:40])


def test_an_unknown_collective_names_the_option() -> None:
    argv = ["collective", "--system", "dgx-h100", "--op", "1e300 TB"]
    assert "unknown collective" in assert_user_error(run_main(argv), "--op")


def test_an_oversubscription_no_leaf_can_split_names_the_option() -> None:
    argv = ["topo", "dgx-h100", "--nodes", "2", "--oversubscription", "1e300"]
    assert "cannot be split" in assert_user_error(run_main(argv), "--oversubscription")


def test_an_output_folder_that_would_replace_the_working_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    trace = SCENARIOS / "traces" / "tp-dp-overlap.jsonl"
    for out in ("", ".", "x/.."):
        argv = ["replay", str(trace), "--system", "dgx-h100", "--nodes", "2", "--out", out]
        assert "name a folder of its own" in assert_user_error(run_main(argv), "--out")
    assert list(tmp_path.iterdir()) == []
