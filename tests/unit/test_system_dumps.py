"""A topology dump works wherever a system file does: topo, collective, train, replay, scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from interconnect_sim.cli import main
from interconnect_sim.importers.device_ids import DEVICE_IDS_FILE, gpu_for_pci, nic_for_pci
from interconnect_sim.specs import Catalog, GpuSpec, NicSpec
from interconnect_sim.specs.provenance import field_provenance
from interconnect_sim.topology.presets import FabricRequest, build_fabric

DATA = Path(__file__).parents[1] / "data" / "importers"
DUMPS = {
    "topo-m-dgx1-v100.txt": ["--gpu", "v100-sxm2-32gb", "--nic", "connectx-4"],
    "topo-m-dgx-a100.txt": ["--gpu", "a100-sxm4-80gb", "--nic", "connectx-6"],
    "nccl-topo-hgx-h100-4gpu.xml": [],
    "rccl-topo-mi300x-8x.xml": [],
}


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _imported(capsys: pytest.CaptureFixture[str], tmp_path: Path, dump: str) -> Path:
    """The system file import-topo writes for a sample, named as the dump so the ids agree."""
    out = tmp_path / f"{Path(dump).stem}.toml"
    assert main(["import-topo", str(DATA / dump), *DUMPS[dump], "--out", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize("dump", sorted(DUMPS))
def test_topo_of_a_dump_equals_topo_of_its_imported_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump: str
) -> None:
    direct = _json(capsys, "topo", str(DATA / dump), *DUMPS[dump], "--json")
    from_file = _json(
        capsys, "topo", str(_imported(capsys, tmp_path, dump)), *DUMPS[dump], "--json"
    )
    assert direct == from_file


@pytest.mark.parametrize(
    "command",
    [
        ["collective", "--op", "all_reduce", "--nodes", "2", "--json"],
        ["train", "--model", "llama3-8b", "--nodes", "2", "--tp", "8", "--pp", "1", "--json"],
        ["replay", *(str(p) for p in sorted((DATA / "pytorch-4rank").glob("*.json"))), "--json"],
    ],
    ids=["collective", "train", "replay"],
)
def test_commands_give_the_same_answer_for_a_dump_and_its_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    dump = "topo-m-dgx-a100.txt"
    flags = DUMPS[dump]
    direct = _json(capsys, *command, "--system", str(DATA / dump), *flags)
    from_file = _json(capsys, *command, "--system", str(_imported(capsys, tmp_path, dump)), *flags)
    if isinstance(direct, dict) and "inputs" in direct:  # train echoes its inputs: the path
        assert direct["inputs"]["fabric"]["gpu"] == "a100-sxm4-80gb"
        del direct["inputs"]["fabric"]["system"], from_file["inputs"]["fabric"]["system"]
    assert direct == from_file


NODE = Path(__file__).parents[2] / "scenarios" / "systems"


def test_readme_node_dump_answers_as_the_hand_written_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's three commands on `my-node-topo.txt` (what `nvidia-smi topo -m` prints on
    the 4 x H100 node of `my-4xh100.toml`) give that file's answers: the dump holds every
    number the collective and the training step use."""
    dump = [str(NODE / "my-node-topo.txt"), "--gpu", "h100-sxm5-80gb", "--nic", "connectx-6"]
    hand = [str(NODE / "my-4xh100.toml")]
    topo = [_json(capsys, "topo", *system, "--json") for system in (dump, hand)]
    for key in ("per_gpu_bandwidth_bytes_per_s", "devices", "scale_up"):
        assert topo[0][key] == topo[1][key], key
    # topo -m does not show the socket link: 4 UPI links come from the catalog's hgx-h100-4gpu
    assert topo[0]["links_by_spec"] == {**topo[1]["links_by_spec"], "upi-sapphire-rapids": 4}
    assert topo[0]["provenance"]["system"]["fields"]["inter_socket_link_count"] == "inferred"
    assert topo[0]["provenance"]["system"]["fields"]["link_matrix"] == "measured"
    size = ["--nodes", "2", "--op", "all_reduce", "--min-bytes", "1M", "--max-bytes", "1G"]
    rows = [_json(capsys, "collective", "--system", *s, *size, "--json") for s in (dump, hand)]
    assert rows[0] == rows[1]
    job = ["--model", "llama3-8b", "--nodes", "4", "--tp", "4", "--pp", "1", "--json"]
    steps = [_json(capsys, "train", "--system", *system, *job) for system in (dump, hand)]
    assert steps[0]["step_time_s"] == steps[1]["step_time_s"]


def test_scenario_names_a_dump_next_to_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(DATA / "topo-m-dgx-a100.txt", tmp_path / "node-topo.txt")
    scenario = tmp_path / "job.toml"
    scenario.write_text(
        'model = "llama3-8b"\n[fabric]\nsystem = "node-topo.txt"\ngpu = "a100-sxm4-80gb"\n'
        'nic = "connectx-6"\nnodes = 2\n[parallel]\ntp = 8\npp = 1\n'
    )
    result = _json(capsys, "train", "--scenario", str(scenario), "--json")
    assert result["system"] == "node-topo"  # the id is the dump's file name
    assert result["gpus"] == 16


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["topo", "topo-m-dgx1-v100.txt"], "does not name the GPU model; give --gpu (one of:"),
        (["topo", "topo-m-dgx1-v100.txt", "--gpu", "v100-sxm2-32gb"], "give --nic (one of:"),
        (
            ["topo", "topo-m-dgx1-v100.txt", "--gpu", "mi300x", "--nic", "connectx-4"],
            "shows nvlink links between GPUs but a mi300x links by xgmi-mi300x",
        ),
        (["topo", "topo-m-dgx1-v100.txt", "--gpu", "h100-sxm"], "unknown GPU 'h100-sxm'"),
        (["topo", "dgx-h100", "--gpu", "a100-sxm4-80gb"], "--gpu a100-sxm4-80gb names the GPU"),
        (["topo", "README.md"], "neither a system file (.toml) nor a topology dump"),
        (["topo", "missing-topo.txt"], "system file 'missing-topo.txt' does not exist"),
    ],
)
def test_what_a_dump_lacks_is_one_line_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(DATA)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("interconnect-sim: error: ")


def test_a_dump_named_after_a_preset_gets_its_own_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    xml = tmp_path / "dgx-h100.xml"
    assert main(["export-topo", "dgx-h100", "--out", str(xml)]) == 0
    capsys.readouterr()
    assert _json(capsys, "topo", str(xml), "--json")["system"] == "dgx-h100-dump"


def test_dump_values_are_measured_and_catalog_values_inferred(catalog: Catalog) -> None:
    request = FabricRequest(system=str(DATA / "topo-m-dgx1-v100.txt"), gpu="v100-sxm2-32gb",
                            nic="connectx-4")  # fmt: skip
    system = build_fabric(catalog, request).graph.graph["system_spec"]
    labels = field_provenance(system)
    for key in ("gpu_count", "link_matrix", "cpu_socket_count", "nic_count", "topology"):
        assert labels[key] == "measured", key
    # from the catalog's DGX-1 or the command line, not from the dump
    for key in ("gpu", "nic", "mesh_link", "cpu_model", "inter_socket_link"):
        assert labels[key] == "inferred", key
    xml = build_fabric(catalog, FabricRequest(system=str(DATA / "rccl-topo-mi300x-8x.xml")))
    labels = field_provenance(xml.graph.graph["system_spec"])
    assert labels["gpu"] == "measured"  # from the XML's PCI ids 1002:74a1
    # a shipped file with only measurement sources stays cited; only the user's dumps are
    assert set(field_provenance(catalog.system("h800-8x")).values()) <= {"cited", "inferred"}


def test_topo_text_says_measured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", str(DATA / "rccl-topo-mi300x-8x.xml")]) == 0
    out = capsys.readouterr().out
    assert "Infinity Fabric             448 GB/s" in out  # 7 peers x 64 GB/s (xgmi-mi300x)
    assert "user file                 measured (inferred:" in out


def test_rccl_xml_is_an_infinity_fabric_mesh(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system=str(DATA / "rccl-topo-mi300x-8x.xml")))
    system = fabric.graph.graph["system_spec"]
    assert (system.topology, system.gpu, system.mesh_link) == ("mesh", "mi300x", "xgmi-mi300x")
    assert system.link_matrix == tuple(
        tuple(0 if i == j else 1 for j in range(8)) for i in range(8)
    )
    assert (system.nic, system.nic_count, system.pcie_switch_count) == ("connectx-7", 8, 8)
    assert "AMD EPYC" in system.cpu_model  # <cpu vendor="AuthenticAMD">


def test_device_ids_name_catalog_parts_by_vendor(catalog: Catalog) -> None:
    import tomllib

    table = tomllib.loads(DEVICE_IDS_FILE.read_text())
    gpus = {g.id for g in catalog.of_kind(GpuSpec)}
    nics = {n.id for n in catalog.of_kind(NicSpec)}
    assert {e["id"] for e in table["gpu"]} <= gpus
    assert {e["id"] for e in table["nic"]} <= nics
    new = ["b300-sxm-270gb", "gb300", "b100-sxm-192gb", "h800-sxm5-80gb", "h20-96gb",
           "a800-sxm4-80gb", "mi300x", "mi325x", "mi355x", "gaudi3"]  # fmt: skip
    assert set(new) <= {e["id"] for e in table["gpu"]}
    assert gpu_for_pci("1002:74a1") == "mi300x"
    assert gpu_for_pci("0x10de:0x74a1") is None  # the device id is AMD's, not NVIDIA's
    assert gpu_for_pci("0x1da3:0x1060") == "gaudi3"
    assert gpu_for_pci("10de:2324") == "h800-sxm5-80gb"
    assert nic_for_pci("15b3:1021") == "connectx-7"  # the InfiniBand entry, not the RoCE one


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('count="1"', 'count="x"', "has count 'x'; expected a whole number of links"),
        ('count="1"', 'count="2"', "GPU0 lists 2 link(s) to GPU1 but GPU1 lists 1 back"),
        ('dev="1"', 'dev="0"', "two <gpu> elements have the same dev number or busid"),
        ("<xgmi ", "<nvlink ", "both <nvlink> and <xgmi> links; expected one kind"),
        ('device="0x74a1"', 'device="0x7fff"', "PCI id(s) 0x1002:0x7fff (AMD (GPUs)) are not in"),
    ],
)
def test_damaged_rccl_xml_is_one_line_naming_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "node.xml"
    path.write_text((DATA / "rccl-topo-mi300x-8x.xml").read_text().replace(old, new, 1))
    assert main(["topo", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1


def test_validate_takes_a_dump_as_the_system_relative_to_here(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--system` names a file from where the command runs, not from the log's folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["export-topo", "dgx-h100", "--out", "node.xml"]) == 0
    capsys.readouterr()
    log = str(DATA / "all_reduce_perf-2x8-h100.log")
    preset = _json(capsys, "validate", "--measurements", log, "--system", "dgx-h100", "--json")
    dump = _json(capsys, "validate", "--measurements", log, "--system", "node.xml", "--json")
    assert dump["overall"] == preset["overall"]


def test_a_sweep_takes_a_dump_next_to_it(tmp_path: Path) -> None:
    """Sweep points build their fabric from a dump (gpu and nic keys) as from the file."""
    from interconnect_sim.planning.executors import RowStore, run_sweep
    from interconnect_sim.planning.sweep import parse_sweep

    shutil.copy(NODE / "my-node-topo.txt", tmp_path / "my-node-topo.txt")
    shutil.copy(NODE / "my-4xh100.toml", tmp_path / "my-4xh100.toml")
    design = {"model": "llama3-8b", "global_batch": 64, "tokens": "1T", "precision": "bf16",
              "nic": "connectx-6", "layout": {"tp": 4, "pp": 1}}  # fmt: skip
    systems = {
        "dump": {"system": "my-node-topo.txt", "gpu": "h100-sxm5-80gb"},
        "file": {"system": "my-4xh100.toml"},
    }
    steps = {}
    for name, system in systems.items():
        data = {"name": name, "design": {**design, **system}, "axes": {"nodes": [2]}}
        run_sweep(parse_sweep(data, tmp_path / f"{name}.toml"), tmp_path / name, workers=1)
        frame = RowStore(tmp_path / name).read()
        assert frame["error"].isna().all(), frame["error"].tolist()
        steps[name] = float(frame["step_time_s"].iloc[0])
    assert steps["dump"] == steps["file"]
