"""A system is a file: the user's own node through topo, collective and train; bad files fail
with one line naming file, key and value; ids in any case; --catalog; provenance; the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from interconnect_sim.cli import main
from interconnect_sim.specs import DATA_DIR, load_catalog
from interconnect_sim.specs.loader import _ALIASES, _COMMON, _SYSTEM
from interconnect_sim.topology import FabricRequest, build_fabric

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "scenarios" / "systems" / "my-4xh100.toml"
SCHEMA = json.loads((ROOT / "docs" / "system.schema.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- the README's user node: one file through topo, collective and train ----------------------


def test_user_file_through_topo_shows_its_mesh_and_user_supplied(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "topo", str(EXAMPLE), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["system"] == "my-4xh100"
    # 6 NVLink 4 links to each of 3 peers: H100's 18 x 25 GB/s = 450 GB/s per direction.
    assert data["scale_up"]["per_gpu_bytes_per_s"] == 450e9
    assert data["per_gpu_bandwidth_bytes_per_s"]["network"] == 25e9  # one HDR 200G per GPU
    assert data["provenance"]["system"]["entry"] == "user file"
    assert set(data["provenance"]["system"]["fields"].values()) == {"user-supplied"}
    assert data["provenance"]["gpu"]["summary"] == "cited"


def test_user_file_through_collective_and_train(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "collective", "--system", str(EXAMPLE), "--nodes", "2", "--op", "all_reduce",
        "--min-bytes", "1G", "--max-bytes", "1G", "--json",
    )  # fmt: skip
    assert code == 0
    (row,) = json.loads(out)
    # two nodes: the 200G NICs, or NCCL's Tree channels (4, one per NIC) just before them
    assert "ib-hdr" in row["bottleneck"] or "Tree channels: 4 x" in row["bottleneck"]
    code, out, _ = run(
        capsys, "train", "--model", "llama3-8b", "--system", str(EXAMPLE), "--nodes", "2",
        "--tp", "4", "--pp", "1", "--json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["system"] == "my-4xh100"


def test_scenario_names_a_system_file_relative_to_itself(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "my-4xh100.toml").write_text(EXAMPLE.read_text())
    scenario = tmp_path / "job.toml"
    scenario.write_text(
        'model = "llama3-8b"\n[fabric]\nsystem = "nodes/my-4xh100.toml"\nnodes = 2\n'
        'fail_device = ["n0/nic3"]\n[parallel]\ntp = 4\npp = 1\n'
    )
    code, out, _ = run(capsys, "train", "--scenario", str(scenario), "--json")
    assert code == 0, out
    assert json.loads(out)["gpus"] == 8


def test_train_takes_the_fabric_options_of_topo(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--model", "llama3-8b", "--system", "dgx-h100", "--tp", "8", "--pp", "1"]
    code, base, _ = run(capsys, *args, "--nodes", "2", "--json")
    assert code == 0
    code, slow, _err = run(
        capsys, *args, "--nodes", "2", "--nic", "connectx-6", "--switch", "qm8700", "--json"
    )
    assert code == 0
    assert json.loads(slow)["step_time_s"] >= json.loads(base)["step_time_s"]
    code, _, _ = run(capsys, *args, "--scalable-units", "1", "--oversubscription", "2:1")
    assert code == 0
    code, _out, _ = run(
        capsys, *args, "--nodes", "1", "--disable-links", "n0/gpu0", "n0/nvsw0", "2"
    )
    assert code == 0


# -- bad files: one line naming file, key and value, exit status 2 ---------------------------


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "my-4xh100.toml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("gpu_count = 4\n", "", r"my-4xh100\.toml: gpu_count: is required"),
        (
            'cpu_pcie = "pcie-5"',
            'cpu_pcie = "pcie-5"\nnotes = 1',
            r"my-4xh100\.toml: notes: must be a non-empty string; got 1",
        ),
        (
            'gpu = "h100-sxm5-80gb"',
            'gpu = "h100-sxm"',
            r"my-4xh100\.toml: gpu: unknown GPU 'h100-sxm'; did you mean h100-sxm5-80gb",
        ),
        (
            "[6, 6, 6, 0]]",
            "[6, 6, 0]]",
            r"my-4xh100\.toml: link_matrix: has 4 rows of lengths \[3, 4\]; must be 4 x 4",
        ),
        (
            "[0, 6, 6, 6], [6, 0, 6, 6]",
            "[0, 6, 6, 6], [5, 0, 6, 6]",
            r"link_matrix: is not symmetric: \[1\]\[0\] = 5 but \[0\]\[1\] = 6",
        ),
        (
            'topology = "mesh"',
            'topology = "ring"',
            r"my-4xh100\.toml: topology: must be one of 'nvswitch'.*got 'ring'",
        ),
        ("rail_count = 4", "rail_count = 9", r"rail_count: is 9 but nic_count is only 4"),
    ],
)
def test_bad_system_file_is_one_line_naming_file_key_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, old: str, new: str, pattern: str
) -> None:
    path = _broken(tmp_path, old, new)
    code, out, err = run(capsys, "topo", str(path))
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.search(pattern, err), err


def test_wrong_unit_in_a_user_gpu_file_names_file_key_and_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gpu = (DATA_DIR / "gpus" / "h100-sxm5-80gb.toml").read_text()
    (tmp_path / "my-gpu.toml").write_text(
        gpu.replace('id = "h100-sxm5-80gb"', 'id = "my-gpu"').replace(
            'memory_bandwidth = "3.35 TB/s"', 'memory_bandwidth = "3350 GBps"'
        )
    )
    code, _, err = run(capsys, "topo", "dgx-h100", "--catalog", str(tmp_path))
    assert code == 2
    assert re.search(r"my-gpu\.toml: memory_bandwidth: .*'3350 GBps'", err), err


def test_missing_file_and_wrong_kind_are_clear(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "topo", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "does not exist" in err
    gpu = tmp_path / "h100-sxm5-80gb.toml"
    gpu.write_text((DATA_DIR / "gpus" / "h100-sxm5-80gb.toml").read_text())
    code, _, err = run(capsys, "topo", str(gpu))
    assert code == 2
    assert 'a system file needs kind = "system"' in err


def test_a_file_reusing_a_preset_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dgx-h100.toml"
    path.write_text((DATA_DIR / "systems" / "dgx-h100.toml").read_text())
    with pytest.raises(Exception, match=r"'dgx-h100' is already defined"):
        build_fabric(load_catalog(), FabricRequest(system=str(path)))


# -- ids in any case, nearest suggestions ------------------------------------------------------


def test_ids_are_case_insensitive_and_unknown_ids_suggest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "topo", "DGX-H100", "--nic", "ConnectX-8", "--json")
    assert code == 0
    assert json.loads(out)["system"] == "dgx-h100"
    code, _, err = run(capsys, "topo", "dgx-h10")
    assert code == 2
    assert "did you mean dgx-h100" in err


# -- --catalog: the user's own parts, user-supplied where uncited ------------------------------


def test_catalog_folder_adds_user_parts_marked_user_supplied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "lab-nic.toml").write_text(
        'id = "lab-nic"\nkind = "nic"\nname = "Our 400G NIC"\nport_link = "ib-ndr"\n'
        'port_count = 1\nhost_link = "pcie-5"\nhost_lanes = 16\n'
    )
    (tmp_path / "lab-node.toml").write_text(
        EXAMPLE.read_text()
        .replace('"my-4xh100"', '"lab-node"')
        .replace('nic = "connectx-6"', 'nic = "lab-nic"')
    )
    code, out, _ = run(capsys, "topo", "lab-node", "--catalog", str(tmp_path), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["provenance"]["nic"]["summary"] == "user-supplied"
    assert data["per_gpu_bandwidth_bytes_per_s"]["network"] == 50e9
    code, out, _ = run(capsys, "systems", "--catalog", str(tmp_path), "--json")
    entries = {row["id"]: row["entry"] for row in json.loads(out)}
    assert entries["lab-node"] == "user file"
    assert entries["dgx-h100"] == "preset"
    assert entries["rubin-nvl144"] == "announced (hypothetical)"
    code, out, _ = run(capsys, "specs", "--catalog", str(tmp_path), "--json")
    specs = {row["id"]: row for row in json.loads(out)}
    assert set(specs["lab-nic"]["provenance"].values()) == {"user-supplied"}
    assert specs["nvswitch-2"]["provenance"]["port_count"] == "inferred"
    assert specs["rubin"]["provenance"]["memory"] == "announced"


def test_catalog_provenance_api_labels_fields() -> None:
    catalog = load_catalog()
    labels = catalog.provenance("dgx-gh200")
    assert labels["gpu_count"] == "cited"
    assert labels["spine_nvswitch_count"] == "inferred"
    assert catalog.provenance("rubin-nvl144")["gpu_count"] == "announced"


# -- the JSON Schema users point their editor at agrees with the loader ------------------------


def test_schema_keys_agree_with_the_loader() -> None:
    loader_keys = set(_COMMON) | set(_SYSTEM) | set(_ALIASES["system"])
    assert set(SCHEMA["properties"]) == loader_keys
    required = {k for k, f in {**_COMMON, **_SYSTEM}.items() if f.required} - {"sources"}
    assert set(SCHEMA["required"]) == required


@pytest.mark.parametrize(
    "path", sorted((DATA_DIR / "systems").glob("*.toml")), ids=lambda p: p.stem
)
def test_every_shipped_system_validates_against_the_schema(path: Path) -> None:
    import tomllib

    jsonschema.validate(tomllib.loads(path.read_text()), SCHEMA)


def test_the_example_validates_and_a_typo_does_not() -> None:
    import tomllib

    data = tomllib.loads(EXAMPLE.read_text())
    jsonschema.validate(data, SCHEMA)
    data["gpu_cuont"] = 4
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_measurement_files_name_system_files_relative_to_themselves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "my-4xh100.toml").write_text(EXAMPLE.read_text())
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "system,nodes,gpus_per_node,op,bytes,time_us,busbw_GBps\n"
        "nodes/my-4xh100.toml,1,4,all_reduce,1073741824,4000,400\n"
        "nodes/my-4xh100.toml,1,4,all_reduce,8,20,0\n"
    )
    code, out, err = run(capsys, "validate", "--measurements", str(csv), "--json")
    assert code == 0, err
    assert json.loads(out)["overall"]["n"] == 2


def test_catalog_that_is_not_a_folder_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for argv in (["systems"], ["topo", "dgx-h100"], ["specs", "--json"]):
        code, out, err = run(capsys, *argv, "--catalog", str(tmp_path / "nope"))
        assert code == 2
        assert out == ""
        assert "is not a folder of spec files" in err
