"""NCCL's topology XML: read a dump (``NCCL_TOPO_DUMP_FILE``), write one (``NCCL_TOPO_FILE``).

The file is ``<system version="1">`` holding one ``<cpu numaid=...>`` per NUMA node; under it
``<pci busid class vendor device link_speed link_width>`` elements nest as the PCIe tree does
(a bridge holds the devices below it); a GPU's ``<pci>`` holds ``<gpu dev sm rank gdr>`` with
``<nvlink target count tclass>`` children (``tclass`` 0x068000: an NVSwitch; 0x0302xx: a GPU), a
NIC's holds ``<nic>`` with ``<net name dev speed port gdr>``.

Reading: GPUs in ``dev`` order, NVLink counts to peer GPUs and to each NVSwitch, devices under one
top-level bridge share a switch, the ``<cpu>`` is the socket, PCI device ids name the models.
Writing: the same elements for node 0 of a fabric, with made-up but consistent bus ids.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from typing import Any

from interconnect_sim.errors import SpecError
from interconnect_sim.importers.device_ids import DEVICE_IDS_FILE
from interconnect_sim.importers.topo_dump import TopoDump
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric

__all__ = ["fabric_to_nccl_xml", "looks_like_nccl_xml", "read_nccl_xml"]

_GT_PER_GEN = {"2.5": 1, "5.0": 2, "5": 2, "8.0": 3, "8": 3, "16.0": 4, "16": 4, "32.0": 5,
               "32": 5, "64.0": 6, "64": 6}  # fmt: skip
_GEN_GT = {1: "2.5", 2: "5.0", 3: "8.0", 4: "16.0", 5: "32.0", 6: "64.0"}
_SM = {"volta": 70, "turing": 75, "ampere": 80, "ada": 89, "hopper": 90, "blackwell": 100}
_NVSWITCH_CLASS = "0x068000"
_GPU_CLASS = "0x030200"


def looks_like_nccl_xml(text: str) -> bool:
    """True for an XML document whose root is NCCL's ``<system>``."""
    head = text.lstrip()[:2000]
    return head.startswith("<") and "<system" in head


def _gen(speed: str) -> int | None:
    return _GT_PER_GEN.get(speed.split()[0]) if speed.strip() else None


def read_nccl_xml(text: str, source: str) -> TopoDump:
    """The :class:`TopoDump` of an NCCL topology XML file.

    Raises
    ------
    SpecError
        Not XML, no ``<system>`` root, no GPU, a GPU without ``dev``.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SpecError(f"{source}: not valid XML: {exc}") from None
    if root.tag != "system":
        raise SpecError(f"{source}: expected NCCL's <system> root element, got <{root.tag}>")
    dump = TopoDump(source=source, kind="NCCL topology XML")
    gpus: list[tuple[int, str, ET.Element, str]] = []  # dev, busid, <gpu>, pci device id
    groups: dict[str, list[str]] = {}
    for socket, cpu in enumerate(root.iter("cpu")):
        for top in cpu.findall("pci"):
            _walk(top, socket, top if top.find("pci") is not None else None, gpus, groups, dump)
        for nic in cpu.findall("nic"):
            for net in nic.findall("net"):
                dump.other_nics.append(net.get("name", "nic"))
    if not gpus:
        raise SpecError(f"{source}: no <gpu> element")
    gpus.sort(key=lambda g: g[0])
    busids = {busid: f"GPU{i}" for i, (_, busid, _, _) in enumerate(gpus)}
    dump.gpus = [f"GPU{i}" for i in range(len(gpus))]
    dump.nvlink = [[0] * len(gpus) for _ in gpus]
    dump.switch_links = [{} for _ in gpus]
    for i, (_, busid, element, pci_id) in enumerate(gpus):
        dump.gpu_pci_ids.append(pci_id)
        for link in element.findall("nvlink"):
            target, count = link.get("target", ""), int(link.get("count", "0") or 0)
            if target in busids:
                dump.nvlink[i][dump.gpus.index(busids[target])] += count
            elif link.get("tclass", "").lower() == _NVSWITCH_CLASS:
                dump.switch_links[i][target] = dump.switch_links[i].get(target, 0) + count
        dump.socket[f"GPU{i}"] = dump.socket.pop(busid)
    dump.pcie_groups = [
        [busids.get(member, member) for member in members] for members in groups.values()
        if len(members) > 1
    ]  # fmt: skip
    with_gpu = {m for g in dump.pcie_groups if any(x in dump.gpus for x in g) for m in g}
    far = [nic for nic in dump.nics if nic not in with_gpu]
    if far:
        keep = [i for i, nic in enumerate(dump.nics) if nic in with_gpu]
        dump.other_nics.extend(far)
        dump.nic_pci_ids = [dump.nic_pci_ids[i] for i in keep]
        dump.nics = [dump.nics[i] for i in keep]
    dump.quote = ET.tostring(gpus[0][2], encoding="unicode").split("\n")[0][:200]
    return dump


def _walk(
    element: ET.Element,
    socket: int,
    bridge: ET.Element | None,
    gpus: list[tuple[int, str, ET.Element, str]],
    groups: dict[str, list[str]],
    dump: TopoDump,
) -> None:
    busid = element.get("busid", "")
    gpu = element.find("gpu")
    nic = element.find("nic")
    key = bridge.get("busid", "") if bridge is not None else ""
    if gpu is not None:
        dev = gpu.get("dev")
        if dev is None or not dev.isdigit():
            raise SpecError(f"{dump.source}: <gpu> under {busid} without a dev number")
        gpus.append((int(dev), busid, gpu, element.get("device", "")))
        dump.socket[busid] = socket
        dump.pcie_gen = dump.pcie_gen or _gen(element.get("link_speed", ""))
        if key:
            groups.setdefault(key, []).append(busid)
    elif nic is not None:
        names = [net.get("name", "nic") for net in nic.findall("net")] or [busid]
        if key:
            groups.setdefault(key, []).append(names[0])
            dump.nics.append(names[0])
            dump.nic_pci_ids.append(element.get("device", ""))
        else:
            dump.other_nics.append(names[0])
        dump.socket[names[0]] = socket
    for child in element.findall("pci"):
        _walk(child, socket, bridge, gpus, groups, dump)


# -- export ---------------------------------------------------------------------------------


def _pci_id(kind: str, spec_id: str) -> str:
    with DEVICE_IDS_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    for entry in data.get(kind, []):
        if entry["id"] == spec_id and entry.get("pci_device_ids"):
            return str(entry["pci_device_ids"][0])
    return "0x0000"


def fabric_to_nccl_xml(fabric: Fabric, catalog: Catalog, node: int = 0) -> str:
    """NCCL topology XML of one server of ``fabric`` (for ``NCCL_TOPO_FILE``).

    GPUs, NICs, PCIe switches and CPU sockets of node ``node`` with their PCIe link speeds and
    widths, and every GPU's NVLinks to peer GPUs and NVSwitch chips with their counts.
    """
    graph = fabric.graph
    local = [n for n, d in graph.nodes(data=True) if d.get("node") == node]
    bus: dict[str, str] = {}
    counter = iter(range(0x10, 0x10000))

    def busid(name: str) -> str:
        if name not in bus:
            kind = graph.nodes[name]["kind"]
            domain = 1 if kind == "nvswitch" else 0
            bus[name] = f"{domain:04x}:{next(counter) & 0xFF:02x}:00.0"
        return bus[name]

    root = ET.Element("system", version="1")
    cpus = sorted((n for n in local if graph.nodes[n]["kind"] == "cpu"),
                  key=lambda n: graph.nodes[n].get("socket", 0))  # fmt: skip
    for socket, cpu in enumerate(cpus):
        model = str(graph.nodes[cpu].get("model", ""))
        vendor = "AuthenticAMD" if "AMD" in model or "EPYC" in model else "GenuineIntel"
        element = ET.SubElement(root, "cpu", numaid=str(socket), arch="x86_64", vendor=vendor)
        for child in _pci_children(graph, cpu, local):
            _export_device(element, graph, child, cpu, catalog, busid)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _pci_children(graph: Any, parent: str, local: list[str]) -> list[str]:
    kinds = ("pcie_switch", "gpu", "nic")
    children = [
        n for n in graph.successors(parent)
        if n in local and graph.nodes[n]["kind"] in kinds
        and graph.edges[parent, n].get("link_spec", "").startswith("pcie")
    ]  # fmt: skip
    return sorted(children, key=lambda n: (graph.nodes[n]["kind"] != "pcie_switch", n))


def _link_attributes(graph: Any, a: str, b: str, catalog: Catalog) -> dict[str, str]:
    edge = graph.edges[a, b]
    link = catalog.link(edge["link_spec"])
    gen = int(link.generation.split(".")[0]) if link.generation[:1].isdigit() else 0
    lanes = edge.get("lanes_per_link") or link.lanes_per_direction
    return {"link_speed": f"{_GEN_GT.get(gen, '0')} GT/s PCIe", "link_width": str(lanes)}


def _export_device(
    parent: ET.Element, graph: Any, name: str, up: str, catalog: Catalog, busid: Any
) -> None:
    data = graph.nodes[name]
    attrs = {"busid": busid(name), **_link_attributes(graph, name, up, catalog)}
    if data["kind"] == "pcie_switch":
        bridge = {"class": "0x060400", "vendor": "0x1000", "device": "0xc010"}
        element = ET.SubElement(parent, "pci", **{**attrs, **bridge})
        for child in _pci_children(graph, name, [n for n in graph if n != up]):
            if child != up:
                _export_device(element, graph, child, name, catalog, busid)
        return
    if data["kind"] == "gpu":
        spec = catalog.gpu(data["spec"])
        element = ET.SubElement(parent, "pci", **{**attrs, "class": _GPU_CLASS,
                                                   "vendor": "0x10de",
                                                   "device": _pci_id("gpu", spec.id)})  # fmt: skip
        gpu = ET.SubElement(element, "gpu", dev=str(data["local_rank"]),
                            sm=str(_SM.get(spec.architecture.lower(), 0)),
                            rank=str(data["local_rank"]), gdr="1")  # fmt: skip
        for peer in sorted(graph.successors(name)):
            kind = graph.nodes[peer]["kind"]
            if kind in ("gpu", "nvswitch") and graph.edges[name, peer].get("link_count"):
                target_class = _NVSWITCH_CLASS if kind == "nvswitch" else _GPU_CLASS
                count = str(graph.edges[name, peer]["link_count"])
                ET.SubElement(gpu, "nvlink", target=busid(peer), count=count, tclass=target_class)
        return
    spec_nic = catalog.nic(data["spec"])
    port = catalog.link(spec_nic.port_link).data_rate_per_direction_bytes_per_s
    element = ET.SubElement(parent, "pci", **{**attrs, "class": "0x020700", "vendor": "0x15b3",
                                               "device": _pci_id("nic", spec_nic.id)})  # fmt: skip
    nic = ET.SubElement(element, "nic")
    index = name.rsplit("nic", 1)[-1]
    ET.SubElement(nic, "net", name=f"mlx5_{index}", dev=index, speed=f"{port * 8 / 1e6:.0f}",
                  port="1", gdr="1", maxconn="131072", latency="0.000000")  # fmt: skip
