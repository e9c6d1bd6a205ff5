"""NCCL's topology XML: read a dump (``NCCL_TOPO_DUMP_FILE``), write one (``NCCL_TOPO_FILE``).

The file is ``<system version="1">`` holding one ``<cpu numaid=...>`` per NUMA node; under it
``<pci busid class vendor device link_speed link_width>`` elements nest as the PCIe tree does
(a bridge holds the devices below it); a GPU's ``<pci>`` holds ``<gpu dev sm rank gdr>`` with
``<nvlink target count tclass>`` children (``tclass`` 0x068000: an NVSwitch; 0x0302xx: a GPU), a
NIC's holds ``<nic>`` with ``<net name dev speed port gdr>``. RCCL, AMD's port of NCCL, writes
the same format (it honours the same ``NCCL_TOPO_DUMP_FILE``) with ``<gpu ... gcn="gfx942">``
and ``<xgmi target count tclass>`` children for its Infinity Fabric links; its GPUs have PCI
class 0x120000 (processing accelerator) and vendor 0x1002.

Reading: GPUs in ``dev`` order, NVLink or xGMI counts to peer GPUs and NVLink counts to each
NVSwitch, devices under one top-level bridge share a switch, the ``<cpu>`` is the socket, PCI
vendor and device ids name the models. Writing: the same elements for node 0 of a fabric, with
made-up but consistent bus ids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from interconnect_sim.errors import SpecError
from interconnect_sim.importers.device_ids import pci_for, pci_id
from interconnect_sim.importers.topo_dump import TopoDump
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.fabric import Fabric

__all__ = ["fabric_to_nccl_xml", "looks_like_nccl_xml", "read_nccl_xml"]

_GT_PER_GEN = {"2.5": 1, "5.0": 2, "5": 2, "8.0": 3, "8": 3, "16.0": 4, "16": 4, "32.0": 5,
               "32": 5, "64.0": 6, "64": 6}  # fmt: skip
_GEN_GT = {1: "2.5", 2: "5.0", 3: "8.0", 4: "16.0", 5: "32.0", 6: "64.0"}
_SM = {"volta": 70, "turing": 75, "ampere": 80, "ada": 89, "hopper": 90, "blackwell": 100}
_GCN = {"cdna3": "gfx942", "cdna4": "gfx950"}
_NVSWITCH_CLASS = "0x068000"
_GPU_CLASS = {"0x10de": "0x030200", "0x1002": "0x120000"}
_LINK_TAGS = {"nvlink": "nvlink", "xgmi": "infinity-fabric"}
_CPU_VENDORS = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}


def looks_like_nccl_xml(text: str) -> bool:
    """True for an XML document whose root is NCCL's ``<system>``."""
    head = text.lstrip()[:2000]
    return head.startswith("<") and "<system" in head


def _gen(speed: str) -> int | None:
    return _GT_PER_GEN.get(speed.split()[0]) if speed.strip() else None


def _count(link: ET.Element, source: str) -> int:
    text = link.get("count", "1")
    if not text.isdigit():
        raise SpecError(
            f"{source}: <{link.tag} target={link.get('target', '')!r}> has count {text!r}; "
            "expected a whole number of links"
        )
    return int(text)


def read_nccl_xml(text: str, source: str) -> TopoDump:
    """The :class:`TopoDump` of an NCCL (or RCCL) topology XML file.

    Raises
    ------
    SpecError
        Not XML, no ``<system>`` root, no GPU, a GPU without ``dev``, a link count that is not
        a whole number, NVLink and xGMI links in one file, GPUs that disagree on their links.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SpecError(f"{source}: not valid XML: {exc}") from None
    if root.tag != "system":
        raise SpecError(f"{source}: expected NCCL's <system> root element, got <{root.tag}>")
    dump = TopoDump(source=source, kind="NCCL topology XML")
    gpus: list[tuple[int, str, ET.Element, str]] = []  # dev, busid, <gpu>, vendor:device
    groups: dict[str, list[str]] = {}
    for socket, cpu in enumerate(root.iter("cpu")):
        dump.cpu_vendor = dump.cpu_vendor or _CPU_VENDORS.get(cpu.get("vendor", ""))
        for top in cpu.findall("pci"):
            _walk(top, socket, top if top.find("pci") is not None else None, gpus, groups, dump)
        for nic in cpu.findall("nic"):
            for net in nic.findall("net"):
                dump.other_nics.append(net.get("name", "nic"))
    if not gpus:
        raise SpecError(f"{source}: no <gpu> element")
    if len({dev for dev, *_ in gpus}) < len(gpus) or len({b for _, b, *_ in gpus}) < len(gpus):
        raise SpecError(f"{source}: two <gpu> elements have the same dev number or busid")
    gpus.sort(key=lambda g: g[0])
    busids = {busid: f"GPU{i}" for i, (_, busid, _, _) in enumerate(gpus)}
    dump.gpus = [f"GPU{i}" for i in range(len(gpus))]
    _read_links(dump, [element for _, _, element, _ in gpus], busids)
    if dump.link_family == "infinity-fabric" or any(g[2].get("gcn") for g in gpus):
        dump.kind = "RCCL topology XML"
    for i, (_, busid, _, pci) in enumerate(gpus):
        dump.gpu_pci_ids.append(pci)
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


def _read_links(dump: TopoDump, elements: list[ET.Element], busids: dict[str, str]) -> None:
    """GPU-to-GPU link counts (NVLink or xGMI) and NVLink counts to NVSwitch chips."""
    n = len(elements)
    dump.gpu_links = [[0] * n for _ in range(n)]
    dump.switch_links = [{} for _ in range(n)]
    tags = {link.tag for element in elements for link in element if link.tag in _LINK_TAGS}
    if len(tags) > 1:
        raise SpecError(f"{dump.source}: both <nvlink> and <xgmi> links; expected one kind")
    dump.link_family = _LINK_TAGS[tags.pop()] if tags else "nvlink"
    for i, element in enumerate(elements):
        for link in element:
            if link.tag not in _LINK_TAGS:
                continue
            target, count = link.get("target", ""), _count(link, dump.source)
            if target in busids:
                dump.gpu_links[i][dump.gpus.index(busids[target])] += count
            elif link.get("tclass", "").lower() == _NVSWITCH_CLASS:
                dump.switch_links[i][target] = dump.switch_links[i].get(target, 0) + count
    for i in range(n):
        for j in range(i + 1, n):
            if dump.gpu_links[i][j] != dump.gpu_links[j][i]:
                raise SpecError(
                    f"{dump.source}: GPU{i} lists {dump.gpu_links[i][j]} link(s) to GPU{j} but "
                    f"GPU{j} lists {dump.gpu_links[j][i]} back"
                )


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
    pci = pci_id(element.get("vendor", ""), element.get("device", ""))
    if gpu is not None:
        dev = gpu.get("dev")
        if dev is None or not dev.isdigit():
            raise SpecError(f"{dump.source}: <gpu> under {busid} without a dev number")
        gpus.append((int(dev), busid, gpu, pci))
        dump.socket[busid] = socket
        dump.pcie_gen = dump.pcie_gen or _gen(element.get("link_speed", ""))
        if key:
            groups.setdefault(key, []).append(busid)
    elif nic is not None:
        names = [net.get("name", "nic") for net in nic.findall("net")] or [busid]
        if key:
            groups.setdefault(key, []).append(names[0])
            dump.nics.append(names[0])
            dump.nic_pci_ids.append(pci)
        else:
            dump.other_nics.append(names[0])
        dump.socket[names[0]] = socket
    for child in element.findall("pci"):
        _walk(child, socket, bridge, gpus, groups, dump)


# -- export ---------------------------------------------------------------------------------


def _pci_attributes(kind: str, spec_id: str) -> dict[str, str]:
    vendor, device = pci_for("nic" if kind == "nic" else "gpu", spec_id) or ("0x10de", "0x0000")
    return {"vendor": vendor, "device": device}


def fabric_to_nccl_xml(fabric: Fabric, catalog: Catalog, node: int = 0) -> str:
    """NCCL topology XML of one server of ``fabric`` (for ``NCCL_TOPO_FILE``).

    GPUs, NICs, PCIe switches and CPU sockets of node ``node`` with their PCIe link speeds and
    widths, and every GPU's NVLinks to peer GPUs and NVSwitch chips with their counts; AMD GPUs
    as RCCL writes them (``gcn`` architecture, ``<xgmi>`` links).

    Raises
    ------
    SpecError
        GPUs linked by something neither NCCL nor RCCL describes (Gaudi's RoCE mesh).
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

    families = {
        catalog.link(d["link_spec"]).family
        for a, b, d in graph.edges(data=True)
        if a in local and graph.nodes[a]["kind"] == "gpu" and graph.nodes[b]["kind"] == "gpu"
    }
    if families - {"nvlink", "infinity-fabric"}:
        raise SpecError(
            f"{fabric.name}: its GPUs link by {', '.join(sorted(families))}, which NCCL's and "
            "RCCL's topology XML cannot describe (only NVLink and xGMI)"
        )
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
        _export_gpu(parent, graph, name, attrs, catalog, busid)
        return
    spec_nic = catalog.nic(data["spec"])
    port = catalog.link(spec_nic.port_link).data_rate_per_direction_bytes_per_s
    ids = _pci_attributes("nic", spec_nic.id)
    element = ET.SubElement(parent, "pci", **{**attrs, "class": "0x020700", **ids})
    nic = ET.SubElement(element, "nic")
    index = name.rsplit("nic", 1)[-1]
    ET.SubElement(nic, "net", name=f"mlx5_{index}", dev=index, speed=f"{port * 8 / 1e6:.0f}",
                  port="1", gdr="1", maxconn="131072", latency="0.000000")  # fmt: skip


def _export_gpu(
    parent: ET.Element, graph: Any, name: str, attrs: dict[str, str], catalog: Catalog, busid: Any
) -> None:
    data = graph.nodes[name]
    spec = catalog.gpu(data["spec"])
    ids = _pci_attributes("gpu", spec.id)
    pci_class = _GPU_CLASS.get(ids["vendor"], _GPU_CLASS["0x10de"])
    element = ET.SubElement(parent, "pci", {**attrs, "class": pci_class, **ids})
    rank = str(data["local_rank"])
    architecture = spec.architecture.lower()
    if architecture in _GCN:
        gpu = ET.SubElement(element, "gpu", dev=rank, gcn=_GCN[architecture], rank=rank, gdr="1")
    else:
        gpu = ET.SubElement(element, "gpu", dev=rank, sm=str(_SM.get(architecture, 0)),
                            rank=rank, gdr="1")  # fmt: skip
    for peer in sorted(graph.successors(name)):
        kind = graph.nodes[peer]["kind"]
        edge = graph.edges[name, peer]
        if kind not in ("gpu", "nvswitch") or not edge.get("link_count"):
            continue
        family = catalog.link(edge["link_spec"]).family
        tag = "xgmi" if family == "infinity-fabric" else "nvlink"
        tclass = _NVSWITCH_CLASS if kind == "nvswitch" else pci_class
        ET.SubElement(gpu, tag, target=busid(peer), count=str(edge["link_count"]), tclass=tclass)
