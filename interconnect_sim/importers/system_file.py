"""Turn a topology dump into a system file of the catalog (``docs/systems.md``).

The dump gives the counts and the wiring; the catalog gives every rate. The GPU and NIC models
come from the dump's PCI ids where it has them (NCCL / RCCL XML) or from ``--gpu`` / ``--nic``:
``nvidia-smi topo -m`` names neither, and the error says which flag to add. What no dump shows
(CPU model, inter-socket link, switch uplink width, for ``topo -m`` which NVSwitch chips the NV#
links go to, the generation of the GPU links) is taken from the catalog system closest to the
dump (same GPU, else same scale-up link; same builder family first) and listed under
``[inferred]`` with that reasoning. The file's one ``[[sources]]`` entry is the dump itself, of
grade ``measured``: its other values are shown as *measured* (``specs/provenance.py``).

Builder family (the generalised families of ``docs/systems.md``):

* links to NVSwitch chips (XML targets), or ``topo -m`` showing every GPU pair with all of the
  GPU's links, which only switches give -> ``nvswitch``;
* GPU pairs only (each GPU linked to at most one other, same count) -> ``pcie`` with
  ``nvlink_bridge_pairs``;
* any other pattern of GPU-to-GPU links (NV#, RCCL's xGMI) -> ``mesh`` with ``link_matrix`` and
  ``mesh_link``;
* no scale-up links -> ``pcie``, with the ``p2p`` setting of the closest catalog system.

Every family carries the PCIe tree the dump shows: the switches GPUs and NICs share, the CPU
sockets, the compute NICs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from interconnect_sim.errors import SpecError
from interconnect_sim.files import write_atomically
from interconnect_sim.importers.device_ids import gpu_for_pci, nic_for_pci, vendor_name
from interconnect_sim.importers.topo_dump import TopoDump
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import GpuSpec, NicSpec, SystemSpec

__all__ = [
    "SystemChoices",
    "system_file_text",
    "system_from_dump",
    "system_id_for",
    "write_system_file",
]

_INT_ARRAY = re.compile(r"\[\n(?:[ \t]+-?\d+,\n)+[ \t]*\]")


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemChoices:
    """What the user says that the dump does not: ``--gpu``, ``--nic``, the system id."""

    gpu: str | None = None
    nic: str | None = None
    id: str | None = None


def system_id_for(source: str) -> str:
    """The system id a dump gets from its file name (``My Node.txt`` -> ``my-node``)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", Path(source).stem.lower()).strip("-")
    return stem or "topology-dump"


def _unknown_pci(ids: list[str]) -> str:
    unique = sorted(set(ids))
    vendors = sorted({vendor_name(pci.split(":")[0]) for pci in unique if ":" in pci})
    by = f" ({', '.join(vendors)})" if vendors else ""
    return (
        f"PCI id(s) {', '.join(unique)}{by} are not in "
        "interconnect_sim/importers/data/device_ids.toml"
    )


def _gpu(dump: TopoDump, catalog: Catalog, choice: str | None, inferred: dict[str, str]) -> GpuSpec:
    models = {pci: gpu_for_pci(pci) for pci in dump.gpu_pci_ids}
    known = {model for model in models.values() if model is not None}
    from_ids = known.pop() if len(known) == 1 and None not in models.values() else None
    if choice is not None:
        gpu = catalog.gpu(choice)
        if from_ids is None:
            inferred["gpu"] = f"given with --gpu ({dump.kind} does not name it)"
        elif from_ids != gpu.id:
            inferred["gpu"] = f"given with --gpu; the dump's PCI ids say {from_ids}"
        return gpu
    if from_ids is not None:
        return catalog.gpu(from_ids)
    unknown = [pci for pci, model in models.items() if model is None]
    if unknown:
        what = _unknown_pci(unknown)
    elif known:
        what = f"GPUs of several models ({', '.join(sorted(known))}); a system has one"
    else:
        what = f"{dump.kind} does not name the GPU model"
    ids = ", ".join(g.id for g in catalog.of_kind(GpuSpec))
    raise SpecError(f"{dump.source}: {what}; give --gpu (one of: {ids})")


def _nic(
    dump: TopoDump, catalog: Catalog, choice: str | None, inferred: dict[str, str]
) -> NicSpec | None:
    if not dump.nics:
        return None
    if choice is not None:
        inferred["nic"] = f"given with --nic ({dump.kind} names the NICs' chip at most)"
        return catalog.nic(choice)
    known = {nic_for_pci(pci) for pci in dump.nic_pci_ids}
    if len(known) == 1 and None not in known:
        inferred["nic"] = (
            "from the NICs' PCI ids, which name the adapter's chip, not the link it runs; the "
            "catalog's InfiniBand entry of that chip is taken (give --nic for a RoCE one)"
        )
        return catalog.nic(str(known.pop()))
    unknown = [pci for pci in dump.nic_pci_ids if nic_for_pci(pci) is None]
    if unknown:
        what = _unknown_pci(unknown)
    elif len(known) > 1:
        what = f"they are of several models ({', '.join(sorted(map(str, known)))})"
    else:
        what = f"{dump.kind} does not name their model"
    ids = ", ".join(n.id for n in catalog.of_kind(NicSpec))
    names = ", ".join(dump.nics[:4]) + (" ..." if len(dump.nics) > 4 else "")
    raise SpecError(
        f"{dump.source}: {len(dump.nics)} compute NIC(s) ({names}) but {what}; "
        f"give --nic (one of: {ids})"
    )


def _family(dump: TopoDump, gpu: GpuSpec) -> str:
    """``nvswitch``, ``full`` (topo -m: every pair has all links), ``bridges``, ``mesh``,
    ``pcie``."""
    n = len(dump.gpus)
    off = [dump.gpu_links[i][j] for i in range(n) for j in range(n) if i != j]
    if any(dump.switch_links):
        return "nvswitch"
    if n > 2 and gpu.nvlink_count and off and all(c == gpu.nvlink_count for c in off):
        return "full"
    if not any(off):
        return "pcie"
    for i, row in enumerate(dump.gpu_links):
        if sum(row) > gpu.nvlink_count:
            raise SpecError(
                f"{dump.source}: {dump.gpus[i]} shows {sum(row)} GPU links but a {gpu.id} has "
                f"{gpu.nvlink_count}; is --gpu right?"
            )
    counts = {count for count in off if count}
    if all(sum(1 for c in row if c) <= 1 for row in dump.gpu_links) and len(counts) == 1:
        return "bridges"
    return "mesh"


def _check_link_family(dump: TopoDump, catalog: Catalog, gpu: GpuSpec) -> None:
    if not any(map(any, dump.gpu_links)) and not any(dump.switch_links):
        return
    family = catalog.link(gpu.nvlink).family if gpu.nvlink else None
    if family != dump.link_family:
        has = f"links by {gpu.nvlink} ({family})" if gpu.nvlink else "has no scale-up link"
        raise SpecError(
            f"{dump.source}: the dump shows {dump.link_family} links between GPUs but a "
            f"{gpu.id} {has}; is --gpu right?"
        )


def _template(catalog: Catalog, gpu: GpuSpec, topology: str) -> SystemSpec | None:
    """The catalog system closest to the dump: same GPU, else same scale-up link; same family
    first."""
    systems = catalog.of_kind(SystemSpec)
    same_gpu = [s for s in systems if s.gpu == gpu.id]
    same_link = [s for s in systems if gpu.nvlink and catalog.gpu(s.gpu).nvlink == gpu.nvlink]
    for pool in (same_gpu, same_link):
        chosen = [s for s in pool if s.topology == topology] or pool
        if chosen:
            return chosen[0]
    return None


def _switched(
    dump: TopoDump, family: str, template: SystemSpec | None, inferred: dict[str, str]
) -> dict[str, Any]:
    if template is None or template.topology != "nvswitch" or template.nvswitch is None:
        raise SpecError(
            f"{dump.source}: the GPUs link to NVSwitch chips, but no catalog system with this "
            "GPU or its NVLink generation names an NVSwitch generation; write the system file "
            "by hand (docs/systems.md)"
        )
    inferred["nvswitch"] = f"the NVSwitch generation of the catalog's {template.id}"
    if family == "nvswitch":
        targets = sorted({t for links in dump.switch_links for t in links})
        counts = [dump.switch_links[0].get(t, 0) for t in targets]
        return {
            "nvswitch": template.nvswitch,
            "nvswitch_count": len(targets),
            "gpu_links_per_nvswitch": counts,
        }
    for key in ("nvswitch_count", "gpu_links_per_nvswitch"):
        inferred[key] = (
            f"{dump.kind} shows all of a GPU's links between every GPU pair, which only NVSwitch "
            f"chips give; how the links split over the chips is taken from the catalog's "
            f"{template.id}"
        )
    return {
        "nvswitch": template.nvswitch,
        "nvswitch_count": template.nvswitch_count,
        "gpu_links_per_nvswitch": list(template.gpu_links_per_nvswitch),
    }


def _scale_up(
    dump: TopoDump, family: str, gpu: GpuSpec, template: SystemSpec | None,
    inferred: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """The builder family and its wiring keys."""
    if family in ("nvswitch", "full"):
        return {"topology": "nvswitch", **_switched(dump, family, template, inferred)}
    n = len(dump.gpus)
    if family == "bridges":
        pairs = [[i, j] for i in range(n) for j in range(i + 1, n) if dump.gpu_links[i][j]]
        return {
            "topology": "pcie",
            "nvlink_bridge_pairs": pairs,
            "nvlink_bridge_link_count": dump.gpu_links[pairs[0][0]][pairs[0][1]],
        }
    if family == "mesh":
        mesh_link = gpu.nvlink
        if template is not None and template.topology == "mesh" and template.mesh_link:
            mesh_link = template.mesh_link
        inferred["mesh_link"] = (
            f"{dump.kind} shows {dump.link_family} links and their counts, not their "
            f"generation; {mesh_link} is {gpu.id}'s own scale-up link"
        )
        return {
            "topology": "mesh",
            "link_matrix": [list(row) for row in dump.gpu_links],
            "mesh_link": mesh_link,
        }
    values: dict[str, Any] = {"topology": "pcie"}
    if template is not None and not template.p2p:
        values["p2p"] = False
        inferred["p2p"] = (
            f"not in {dump.kind}; the catalog's {template.id} (the same GPU on PCIe) has GPU "
            "peer-to-peer off (pass --p2p on to try it)"
        )
    return values


_CPU_NAMES = {"AMD": ("AMD", "EPYC"), "Intel": ("Intel", "Xeon")}


def _host_template(
    dump: TopoDump, catalog: Catalog, template: SystemSpec | None, pcie: str
) -> SystemSpec | None:
    """The template's host, unless the dump names another CPU vendor: then the first catalog
    system with such CPUs and the same PCIe generation."""
    names = _CPU_NAMES.get(dump.cpu_vendor or "")
    if names is None or (template is not None and any(n in template.cpu_model for n in names)):
        return template
    hosts = [
        s for s in catalog.of_kind(SystemSpec)
        if any(n in s.cpu_model for n in names) and s.cpu_pcie == pcie
    ]  # fmt: skip
    return hosts[0] if hosts else template


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
    host = _host_template(dump, catalog, template, pcie)
    reason = (
        f"not in {dump.kind}; taken from the catalog's {template.id}"
        if template
        else f"not in {dump.kind}; a generic value for a {gpu.pcie} host"
    )
    if host is not template and host is not None:
        template = host
        reason = (
            f"{dump.kind} names {dump.cpu_vendor} CPUs but not their model or links; taken "
            f"from the catalog's {host.id} ({dump.cpu_vendor} CPUs, {pcie})"
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
    if generation is None or generation not in catalog:
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
        The GPU or NIC model is not known and not given (naming ``--gpu`` / ``--nic``); links
        impossible for the GPU; an id that clashes with the catalog.
    """
    inferred: dict[str, str] = {}
    gpu = _gpu(dump, catalog, choices.gpu, inferred)
    nic = _nic(dump, catalog, choices.nic, inferred)
    system_id = choices.id or system_id_for(dump.source)
    if system_id in catalog:
        raise SpecError(
            f"{dump.source}: its system id {system_id!r} (from the file name) is a catalog "
            "id; rename the file"
        )
    _check_link_family(dump, catalog, gpu)
    family = _family(dump, gpu)
    topology = {"full": "nvswitch", "bridges": "pcie"}.get(family, family)
    template = _template(catalog, gpu, topology)
    wiring = _scale_up(dump, family, gpu, template, inferred)
    data: dict[str, Any] = {
        "id": system_id,
        "kind": "system",
        "name": f"{len(dump.gpus)}x {gpu.name}, from {dump.kind} ({Path(dump.source).name})",
        "topology": wiring.pop("topology"),
        "gpu": gpu.id,
        "gpu_count": len(dump.gpus),
        **wiring,
        **_host(dump, catalog, gpu, template, inferred),
    }
    if nic is not None:
        data.update({"nic": nic.id, "nic_count": len(dump.nics), "rail_count": len(dump.nics)})
    notes = list(dump.notes)
    if dump.other_nics:
        notes.append(
            f"Left out {len(dump.other_nics)} NIC(s) that share no PCIe switch with a GPU "
            f"(storage or management): {', '.join(dump.other_nics)}."
        )
    if notes:
        data["notes"] = " ".join(notes)
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


def system_file_text(data: dict[str, Any]) -> str:
    """The system file as TOML (tomli-w), with each array of integers on one line so that a
    link matrix reads as a matrix."""
    text = tomli_w.dumps(data)
    compact = _INT_ARRAY.sub(lambda m: "[" + ", ".join(re.findall(r"-?\d+", m.group())) + "]", text)
    return compact if tomllib.loads(compact) == tomllib.loads(text) else text


def write_system_file(path: Path, data: dict[str, Any]) -> None:
    """Write a system file (the file stem must be the id)."""
    text = system_file_text(data)

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(path, write)
