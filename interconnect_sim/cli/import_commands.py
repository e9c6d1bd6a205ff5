"""The ``import-trace`` command: a profiler or Chakra trace as the project's JSON Lines trace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from interconnect_sim.cli.common import PROG
from interconnect_sim.files import check_output_file
from interconnect_sim.importers.traces import load_trace
from interconnect_sim.workload.trace import write_trace

__all__ = ["add_import_commands", "run_import_command"]


def add_import_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import-trace``."""
    trace = commands.add_parser(
        "import-trace",
        help="convert PyTorch profiler or Chakra traces (one file per rank) to a JSON Lines trace",
        description="Read the collectives of a job's traces (PyTorch profiler Chrome-trace JSON "
        "or Chakra execution traces, one file per rank) and write them as a JSON Lines trace "
        "(docs/trace-format.md) with their order, groups, dependencies and compute gaps. "
        "`replay` reads the same files directly.",
    )
    trace.add_argument("traces", type=Path, nargs="+", metavar="TRACE")
    trace.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")


def run_import_command(args: argparse.Namespace) -> int:
    """Run ``import-trace``."""
    out = check_output_file(args.out, "--out")
    imported = load_trace(args.traces)
    for note in imported.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    write_trace(out, imported.calls)
    groups = len({call.ranks or call.group for call in imported.calls})
    print(
        f"{len(imported.calls)} calls in {groups} group(s) from {len(args.traces)} "
        f"{imported.kind} file(s) written to {out}"
    )
    return 0


def add_topology_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import-topo`` and ``export-topo``."""
    topo = commands.add_parser(
        "import-topo",
        help="turn `nvidia-smi topo -m` output or NCCL's topology XML into a system file",
        description="Read what `nvidia-smi topo -m` printed, or the XML NCCL (or RCCL) writes "
        "with NCCL_TOPO_DUMP_FILE, and write a system file in the catalog's schema "
        "(docs/systems.md). GPU and NIC models come from the XML's PCI ids; topo -m names "
        "neither: give --gpu and --nic. What no dump shows (CPU model, socket link) is taken "
        "from the catalog's closest system and marked [inferred]. The dump itself also works "
        "wherever a system file does (topo, collective, train, replay).",
    )
    topo.add_argument("dump", type=Path, metavar="FILE")
    topo.add_argument("--gpu", help="catalog GPU id (`interconnect-sim specs`)")
    topo.add_argument("--nic", help="catalog NIC id of the compute NICs")
    topo.add_argument(
        "--out",
        type=Path,
        metavar="FILE.toml",
        help="system file to write (default: print it); its name is the system id",
    )
    export = commands.add_parser(
        "export-topo",
        help="write one server of a system as NCCL topology XML (for NCCL_TOPO_FILE)",
    )
    export.add_argument("system", help="preset id or system .toml file")
    export.add_argument("--out", type=Path, required=True, metavar="FILE.xml")


def run_topology_command(args: argparse.Namespace) -> int:
    """Run ``import-topo`` or ``export-topo``."""
    from interconnect_sim.importers.nccl_topo_xml import fabric_to_nccl_xml
    from interconnect_sim.importers.system_file import (
        SystemChoices,
        system_file_text,
        system_from_dump,
        write_system_file,
    )
    from interconnect_sim.importers.topology import read_topology_dump
    from interconnect_sim.specs import load_catalog
    from interconnect_sim.topology.presets import FabricRequest, build_fabric

    catalog = load_catalog()
    if args.command == "export-topo":
        xml_out = check_output_file(args.out, "--out", suffixes=(".xml",))
        fabric = build_fabric(catalog, FabricRequest(system=args.system))
        text = fabric_to_nccl_xml(fabric, catalog)
        write_atomically_text(xml_out, text)
        print(f"NCCL topology of one {args.system} written to {xml_out} (NCCL_TOPO_FILE)")
        return 0
    out = check_output_file(args.out, "--out", suffixes=(".toml",)) if args.out else None
    dump = read_topology_dump(args.dump)
    choices = SystemChoices(gpu=args.gpu, nic=args.nic, id=out.stem if out else None)
    data = system_from_dump(dump, catalog, choices)
    for note in dump.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    if out is None:
        print(system_file_text(data), end="")
        return 0
    write_system_file(out, data)
    family = data["topology"]
    print(
        f"{data['gpu_count']} x {data['gpu']} ({family}), {data.get('nic_count', 0)} x "
        f"{data.get('nic', 'no NIC')}, {data['cpu_socket_count']} socket(s), "
        f"{data['pcie_switch_count']} PCIe switch(es): written to {out}"
    )
    return 0


def write_atomically_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole."""
    from interconnect_sim.files import write_atomically

    def write(tmp: Path) -> None:
        tmp.write_text(text)

    write_atomically(path, write)
