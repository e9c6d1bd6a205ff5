"""Topology dumps become system files; fabrics go to NCCL XML and come back the same graph."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.cli import main
from interconnect_sim.errors import SpecError
from interconnect_sim.importers.nccl_topo_xml import fabric_to_nccl_xml, read_nccl_xml
from interconnect_sim.importers.system_file import SystemChoices, system_from_dump
from interconnect_sim.importers.topology import read_topology_dump
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest, build_fabric

DATA = Path(__file__).parents[1] / "data" / "importers"


def _import(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump: Path, *options: str
) -> Fabric:
    out = tmp_path / "systems" / "mine.toml"
    code = main(["import-topo", str(dump), *options, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    return build_fabric(load_catalog(out.parent), FabricRequest(system="mine"))


def _same(a: Fabric, b: Fabric) -> bool:
    return bool(
        nx.is_isomorphic(
            a.graph,
            b.graph,
            node_match=lambda x, y: x["kind"] == y["kind"] and x.get("spec") == y.get("spec"),
            edge_match=lambda x, y: (
                (x["link_count"], x["bandwidth_bytes_per_s"])
                == (y["link_count"], y["bandwidth_bytes_per_s"])
            ),
        )
    )


ROUND_TRIPS = [
    ("dgx-h100", None),
    ("dgx1-v100", None),
    ("h100-pcie-bridged", None),
    ("dgx-a100", None),
    ("hgx-h100-4gpu", None),
    ("h800-8x", None),
    ("a800-8x", None),
    ("hgx-b100", None),
    ("mi300x-8x", None),
    ("mi355x-8x", "connectx-7-roce"),  # a PCI id names the chip, not the RoCE link it runs
]


@pytest.mark.parametrize(("system", "nic"), ROUND_TRIPS)
def test_export_then_import_gives_the_same_graph(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, catalog: Catalog, system: str, nic: str
) -> None:
    xml = tmp_path / f"{system}.xml"
    assert main(["export-topo", system, "--out", str(xml)]) == 0
    original = build_fabric(catalog, FabricRequest(system=system))
    options = ["--nic", nic] if nic else []
    assert _same(_import(capsys, tmp_path, xml, *options), original)
    direct = build_fabric(catalog, FabricRequest(system=str(xml), nic=nic))
    assert _same(direct, original)


def test_export_of_a_roce_mesh_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-topo", "gaudi3-8x", "--out", str(tmp_path / "g.xml")]) == 2
    assert "cannot describe (only NVLink and xGMI)" in capsys.readouterr().err
    assert not (tmp_path / "g.xml").exists()


def _relation(fabric: Fabric, a: str, b: str) -> str:
    graph = fabric.graph
    if graph.has_edge(a, b) and graph.edges[a, b]["link_spec"].startswith("nvlink"):
        return f"NV{graph.edges[a, b]['link_count']}"
    switches = [n for n in graph.successors(a) if graph.nodes[n]["kind"] == "nvswitch"]
    if switches and all(graph.has_edge(s, b) for s in switches):
        return f"NV{sum(graph.edges[a, s]['link_count'] for s in switches)}"

    def up(node: str) -> tuple[str, str]:
        parent = next(n for n in graph.successors(node) if graph.nodes[n]["kind"] in
                      ("pcie_switch", "cpu"))  # fmt: skip
        cpu = (
            parent
            if graph.nodes[parent]["kind"] == "cpu"
            else next(n for n in graph.successors(parent) if graph.nodes[n]["kind"] == "cpu")
        )
        return parent, cpu

    (switch_a, cpu_a), (switch_b, cpu_b) = up(a), up(b)
    if switch_a == switch_b:
        return "PIX"
    return "PHB" if cpu_a == cpu_b else "SYS"


@pytest.mark.parametrize("route", ["import-topo", "direct"])
@pytest.mark.parametrize(
    ("dump", "gpu", "nic", "family"),
    [
        ("topo-m-dgx1-v100.txt", "v100-sxm2-32gb", "connectx-4", "mesh"),
        ("topo-m-dgx-a100.txt", "a100-sxm4-80gb", "connectx-6", "nvswitch"),
    ],
)
def test_topo_m_sample_becomes_a_system_with_its_link_types(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    catalog: Catalog,
    dump: str,
    gpu: str,
    nic: str,
    family: str,
    route: str,
) -> None:
    if route == "direct":  # the dump itself as the system, as `topo DUMP --gpu --nic` builds it
        fabric = build_fabric(catalog, FabricRequest(system=str(DATA / dump), gpu=gpu, nic=nic))
        system = {"topology": fabric.graph.graph["system_spec"].topology, "nic_count": 8}
        system["nic_count"] = len(fabric.nodes_of_kind("nic"))
    else:
        fabric = _import(capsys, tmp_path, DATA / dump, "--gpu", gpu, "--nic", nic)
        system = tomllib.loads((tmp_path / "systems" / "mine.toml").read_text())
    assert system["topology"] == family
    text = re.sub(r"\x1b\[[0-9;]*m", "", (DATA / dump).read_text())
    lines = [line.split() for line in text.splitlines()]
    header = next(line for line in lines if line[:1] == ["GPU0"] and "X" not in line)
    names = [h for h in header if re.fullmatch(r"(GPU|NIC)\d+|mlx5_\d+", h)]
    gpus = [n for n in names if n.startswith("GPU")]
    rows = {line[0]: line[1 : 1 + len(names)] for line in lines if line and line[0] in names}
    nics = [n for n in fabric.graph if fabric.graph.nodes[n]["kind"] == "nic"]
    assert len(nics) == system["nic_count"] == 8 if family == "nvswitch" else 4
    for i, a in enumerate(gpus):
        for j, b in enumerate(gpus):
            if i == j:
                continue
            want = rows[a][names.index(b)].replace("PXB", "PIX").replace("NODE", "PHB")
            assert _relation(fabric, f"n0/gpu{i}", f"n0/gpu{j}") == want, (a, b)


def test_xml_sample_reads_models_from_pci_ids(catalog: Catalog) -> None:
    dump = read_nccl_xml((DATA / "nccl-topo-hgx-h100-4gpu.xml").read_text(), "x.xml")
    assert dump.gpu_links[0] == [0, 6, 6, 6]
    assert dump.other_nics == ["mlx5_2"]  # the 100G NIC outside the GPU switches
    data = system_from_dump(dump, catalog, SystemChoices(id="hgx4"))
    assert (data["gpu"], data["nic"], data["nic_count"]) == ("h100-sxm5-80gb", "connectx-7", 4)
    assert data["topology"] == "mesh"
    assert data["cpu_pcie"] == "pcie-5"  # 32.0 GT/s in the dump
    assert "mlx5_2" in data["notes"]


def test_exported_xml_names_models_nccl_reads(catalog: Catalog) -> None:
    text = fabric_to_nccl_xml(build_fabric(catalog, FabricRequest(system="dgx-h100")), catalog)
    assert text.count('device="0x2330"') == 8  # H100 SXM5
    assert text.count('device="0x1021"') == 8  # ConnectX-7
    assert text.count('tclass="0x068000"') == 8 * 4  # each GPU to 4 NVSwitch chips


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("topo-m-dgx1-v100.txt", [], "does not name the GPU model; give --gpu"),
        ("topo-m-dgx1-v100.txt", ["--gpu", "v100-sxm2-32gb"], "give --nic"),
        ("topo-m-dgx1-v100.txt", ["--gpu", "a100-sxm4-80gb", "--nic", "connectx-4"], None),
        ("topo-m-dgx1-v100.txt", ["--gpu", "rtx-4090", "--nic", "connectx-4"], "is --gpu right"),
    ],
)
def test_import_topo_asks_for_what_the_dump_does_not_say(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    text: str,
    options: list[str],
    message: str | None,
) -> None:
    code = main(["import-topo", str(DATA / text), *options, "--out", str(tmp_path / "x.toml")])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
        return
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_broken_matrix_row_names_the_line(tmp_path: Path) -> None:
    text = (DATA / "topo-m-dgx1-v100.txt").read_text().replace("NV2", "NVX", 1)
    path = tmp_path / "topo.txt"
    path.write_text(text)
    with pytest.raises(SpecError, match=r"topo.txt, line 2: expected 12 cells"):
        read_topology_dump(path)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sample=st.sampled_from(["topo-m-dgx-a100.txt", "nccl-topo-hgx-h100-4gpu.xml"]),
    cut=st.floats(0, 1),
    junk=st.text(max_size=20),
)
def test_mutated_dumps_end_in_status_0_or_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sample: str, cut: float, junk: str
) -> None:
    text = (DATA / sample).read_text()
    at = int(len(text) * cut)
    path = tmp_path / "dump.txt"
    path.write_text(text[:at] + junk + text[at + len(junk) :])
    code = main(["import-topo", str(path), "--gpu", "a100-sxm4-80gb", "--nic", "connectx-6"])
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("interconnect-sim: error: ")
