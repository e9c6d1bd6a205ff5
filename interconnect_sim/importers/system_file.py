"""Turn a topology dump into a system file of the catalog (``docs/specs.md``, kind ``system``).

The dump gives the counts and the wiring; the catalog gives every rate. The GPU and NIC models
come from the dump's PCI ids where it has them (NCCL XML) or from ``--gpu`` / ``--nic``:
``nvidia-smi topo -m`` names neither, and the error says so. What no dump shows (CPU model,
inter-socket link, switch uplink width, and for ``topo -m`` which NVSwitch chips the NV# links
go to) is taken from the catalog preset with the same GPU and listed under ``[inferred]`` with
that reasoning.

Builder family: NVLink to NVSwitch chips (XML targets, or ``topo -m`` showing every GPU pair with
all of the GPU's links, which only a switch gives) -> ``nvswitch``; NVLink pairs only ->
``pcie`` with ``nvlink_bridge_pairs``; any other NVLink pattern -> a link-count matrix
(``hybrid-cube-mesh``); no NVLink -> ``pcie``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from interconnect_sim.errors import SpecError
from interconnect_sim.files import write_atomically
from interconnect_sim.importers.device_ids import gpu_for_pci, nic_for_pci
from interconnect_sim.importers.topo_dump import TopoDump
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import GpuSpec, NicSpec, SystemSpec

__all__ = ["SystemChoices", "system_from_dump", "write_system_file"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemChoices:
    """What the user says that the dump does not: ``--gpu``, ``--nic``, the system id."""

    gpu: str | None = None
    nic: str | None = None
    id: str | None = None


def _gpu(dump: TopoDump, catalog: Catalog, choice: str | None) -> GpuSpec:
    if choice is not None:
        return catalog.gpu(choice)
    known = {gpu_for_pci(pci) for pci in dump.gpu_pci_ids}
    if len(known) == 1 and None not in known:
        return catalog.gpu(str(known.pop()))
    what = (
        f"PCI device id(s) {', '.join(sorted(set(dump.gpu_pci_ids)))} are not in "
        "interconnect_sim/importers/data/device_ids.toml"
        if dump.gpu_pci_ids
        else f"{dump.kind} does not name the GPU model"
    )
    ids = ", ".join(g.id for g in catalog.of_kind(GpuSpec))
    raise SpecError(f"{dump.source}: {what}; give --gpu (one of: {ids})")


def _nic(dump: TopoDump, catalog: Catalog, choice: str | None) -> NicSpec | None:
    if not dump.nics:
        return None
    if choice is not None:
        return catalog.nic(choice)
    known = {nic_for_pci(pci) for pci in dump.nic_pci_ids}
    if len(known) == 1 and None not in known:
        return catalog.nic(str(known.pop()))
    ids = ", ".join(n.id for n in catalog.of_kind(NicSpec))
    raise SpecError(
        f"{dump.source}: {len(dump.nics)} compute NIC(s) ({', '.join(dump.nics[:4])}"
        f"{' ...' if len(dump.nics) > 4 else ''}) but {dump.kind} does not name their model; "
        f"give --nic (one of: {ids})"
    )


def _template(catalog: Catalog, gpu: GpuSpec, nvswitch: bool) -> SystemSpec | None:
    same = [s for s in catalog.of_kind(SystemSpec) if s.gpu == gpu.id]
    preferred = [s for s in same if (s.topology == "nvswitch") == nvswitch]
    chosen = preferred or same
    return chosen[0] if chosen else None


def _nvlink_family(
    dump: TopoDump, gpu: GpuSpec, template: SystemSpec | None, inferred: dict[str, str]
) -> dict[str, Any]:
    n = len(dump.gpus)
    off = [dump.nvlink[i][j] for i in range(n) for j in range(n) if i != j]
    if dump.switch_links and any(dump.switch_links):
        targets = sorted({t for links in dump.switch_links for t in links})
        counts = [dump.switch_links[0].get(t, 0) for t in targets]
        if template is None or template.nvswitch is None:
            raise SpecError(f"{dump.source}: NVSwitch links but no catalog NVSwitch for {gpu.id}")
        inferred["nvswitch"] = f"the NVSwitch generation of the catalog's {template.id}"
        return {
            "topology": "nvswitch",
            "nvswitch": template.nvswitch,
            "nvswitch_count": len(targets),
            "gpu_links_per_nvswitch": counts,
        }
    if n > 2 and gpu.nvlink_count and off and all(c == gpu.nvlink_count for c in off):
        if template is None or template.topology != "nvswitch" or template.nvswitch is None:
            raise SpecError(
                f"{dump.source}: every GPU pair shows NV{gpu.nvlink_count} (all of a GPU's links), "
                f"which needs NVSwitch chips, but no catalog system with {gpu.id} has them"
            )
        for key in ("nvswitch", "nvswitch_count", "gpu_links_per_nvswitch"):
            inferred[key] = (
                f"{dump.kind} shows NV{gpu.nvlink_count} between every GPU pair, which only "
                f"NVSwitch chips give; how the links split over the chips is taken from "
                f"the catalog's {template.id}"
            )
        return {
            "topology": "nvswitch",
            "nvswitch": template.nvswitch,
            "nvswitch_count": template.nvswitch_count,
            "gpu_links_per_nvswitch": list(template.gpu_links_per_nvswitch),
        }
    for i, row in enumerate(dump.nvlink):
        if sum(row) > gpu.nvlink_count:
            raise SpecError(
                f"{dump.source}: {dump.gpus[i]} shows {sum(row)} NVLinks but a {gpu.id} has "
                f"{gpu.nvlink_count}; is --gpu right?"
            )
    if not any(off):
        return {"topology": "pcie"}
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if dump.nvlink[i][j]]
    if all(sum(1 for c in row if c) <= 1 for row in dump.nvlink) and (
        len({dump.nvlink[i][j] for i, j in pairs}) == 1
    ):
        return {
            "topology": "pcie",
            "nvlink_bridge_pairs": [list(p) for p in pairs],
            "nvlink_bridge_link_count": dump.nvlink[pairs[0][0]][pairs[0][1]],
        }
    return {"topology": "hybrid-cube-mesh", "nvlink_matrix": [list(r) for r in dump.nvlink]}


def _host(
    dump: TopoDump, catalog: Catalog, gpu: GpuSpec, template: SystemSpec | None,
    inferred: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    gpu_groups = [g for g in dump.pcie_groups if any(d in dump.gpus for d in g)]
    in_groups = {d for g in gpu_groups for d in g}
    switches = len(gpu_groups) if all(g in in_groups for g in dump.gpus) else 0
    sockets = min(dump.socket_count, 2)
    pcie = template.cpu_pcie if template is not None else gpu.pcie
    generation = f"pcie-{dump.pcie_gen}" if dump.pcie_gen else None
    if generation is not None and generation in catalog:
        pcie = generation
    reason = (
        f"not in {dump.kind}; taken from the catalog's {template.id}"
        if template
        else (f"not in {dump.kind}; a generic value for a {gpu.pcie} host")
    )
    values = {
        "cpu_model": template.cpu_model if template else f"{sockets}x CPU (unknown model)",
        "cpu_socket_count": sockets,
        "cpu_pcie": pcie,
        "inter_socket_link": template.inter_socket_link if template else "upi-sapphire-rapids",
        "inter_socket_link_count": template.inter_socket_link_count if template else 2,
        "pcie_switch_count": switches,
        "pcie_switch_uplink_lanes": template.pcie_switch_uplink_lanes if template else 16,
    }
    for key in ("cpu_model", "inter_socket_link", "inter_socket_link_count",
                "pcie_switch_uplink_lanes"):  # fmt: skip
        inferred[key] = reason
    if generation is None:
        inferred["cpu_pcie"] = reason
    if switches:
        inferred["pcie_switch_count"] = (
            f"{switches} groups of devices sharing a PCIe switch in {dump.kind}; the builder "
            "spreads GPUs and NICs evenly over the switches in index order"
        )
    return values


def system_from_dump(dump: TopoDump, catalog: Catalog, choices: SystemChoices) -> dict[str, Any]:
    """The system file (as a TOML-ready dict) that describes the dumped server.

    Raises
    ------
    SpecError
        The GPU or NIC model is not known and not given; NVLink counts impossible for the GPU;
        an id that clashes with the catalog.
    """
    gpu = _gpu(dump, catalog, choices.gpu)
    nic = _nic(dump, catalog, choices.nic)
    system_id = choices.id or re.sub(r"[^a-z0-9-]+", "-", Path(dump.source).stem.lower()).strip("-")
    if system_id in catalog:
        raise SpecError(f"{dump.source}: id {system_id!r} is taken in the catalog; give --id")
    inferred: dict[str, str] = {}
    switched = bool(dump.switch_links and any(dump.switch_links)) or (
        len(dump.gpus) > 2
        and all(
            dump.nvlink[i][j] == gpu.nvlink_count > 0
            for i in range(len(dump.gpus))
            for j in range(len(dump.gpus))
            if i != j
        )
    )
    template = _template(catalog, gpu, switched)
    data: dict[str, Any] = {
        "id": system_id,
        "kind": "system",
        "name": f"{len(dump.gpus)}x {gpu.name}, from {dump.kind} ({Path(dump.source).name})",
    }
    family = _nvlink_family(dump, gpu, template, inferred)
    data["topology"] = family.pop("topology")
    data.update({"gpu": gpu.id, "gpu_count": len(dump.gpus)})
    data.update(family)
    data.update(_host(dump, catalog, gpu, template, inferred))
    if nic is not None:
        data.update({"nic": nic.id, "nic_count": len(dump.nics), "rail_count": len(dump.nics)})
        if not dump.nic_pci_ids:
            inferred["nic"] = "given with --nic"
    if dump.other_nics:
        data["notes"] = (
            f"Left out {len(dump.other_nics)} NIC(s) that share no PCIe switch with a GPU "
            f"(storage or management): {', '.join(dump.other_nics)}."
        )
    data["inferred"] = dict(sorted(inferred.items()))
    data["sources"] = [
        {
            "kind": "measurement",
            "title": f"{dump.kind} output of the user's server ({Path(dump.source).name})",
            "url": str(dump.source),
            "locator": "the whole dump",
            "quote": dump.quote[:300] or dump.kind,
            "grade": "measured",
        }
    ]
    return data


def write_system_file(path: Path, data: dict[str, Any]) -> None:
    """Write a system file with a TOML library (the file stem must be the id)."""
    text = tomli_w.dumps(data)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(path, write)
