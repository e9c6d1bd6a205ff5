"""The options of every run, declared once.

The command line adds them to its parsers (``topo``, ``collective``, ``replay``, ``train``), and
scenario files are checked against the very same declarations
(:class:`~interconnect_sim.scenarios.keys.OptionTable` reads them back from a parser): a scenario
key is an option's name without the dashes (``micro-batch = 2`` is ``--micro-batch 2``), its value
goes through the option's own converter, and an option added here appears in both places at once.

Options of ``train`` sit in argparse groups named after the scenario table that holds them
(``[fabric]``, ``[parallel]``, ``[training]``); options in no group are top-level keys
(``model = "llama3-70b"``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interconnect_sim.converters import (
    duration,
    message_size,
    on_off,
    positive_int,
    ratio,
    token_count,
)
from interconnect_sim.errors import ScenarioError
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.presets import FabricRequest
from interconnect_sim.topology.whatif import with_links_disabled, without_device, without_link

__all__ = [
    "ENGINES",
    "add_collective_options",
    "add_fabric_options",
    "add_failure_options",
    "add_training_options",
    "apply_failures",
    "fabric_request",
]

ENGINES = ("analytic", "des", "both")
"""Engine choices of ``collective`` and ``replay``."""


def add_fabric_options(
    parser: argparse._ActionsContainer, *, system_flag: bool, system_required: bool = True
) -> None:
    """Options that describe a fabric (shared by ``topo``, ``collective``, ``replay``, ``train``).

    ``system_flag``: the system is ``--system ID`` (else a positional argument);
    ``system_required``: whether ``--system`` must be given on the command line.
    """
    if system_flag:
        parser.add_argument(
            "--system", required=system_required, help="preset id (`interconnect-sim systems`)"
        )
    else:
        parser.add_argument("system", help="preset id (see `interconnect-sim systems`)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--nodes", type=positive_int, help="number of systems (default 1)")
    size.add_argument(
        "--scalable-units",
        type=positive_int,
        metavar="SU",
        help="build this many scalable units of the system's SuperPOD design",
    )
    parser.add_argument(
        "--oversubscription",
        type=ratio,
        default=1.0,
        metavar="R",
        help="leaf down:up port ratio, e.g. 2 or 2:1 (default 1:1)",
    )
    parser.add_argument("--levels", type=int, choices=(2, 3), help="force 2 or 3 network levels")
    parser.add_argument("--nic", help="replace the compute NICs by this NIC id (e.g. connectx-8)")
    parser.add_argument(
        "--nic-count", type=positive_int, metavar="N", help="number of compute NICs per system"
    )
    parser.add_argument("--switch", help="network switch id for leaf/spine/core (e.g. q3400)")
    parser.add_argument(
        "--nvlink-lanes",
        type=positive_int,
        metavar="LANES",
        help="active lanes per NVLink link (e.g. 1 of 2 on NVLink 4)",
    )
    parser.add_argument("--p2p", type=on_off, metavar="on|off", help="GPU peer-to-peer on or off")


def add_failure_options(parser: argparse._ActionsContainer) -> None:
    """Failed links and devices applied to a built fabric (``topo`` and scenario fabrics)."""
    parser.add_argument(
        "--fail-link",
        nargs=2,
        action="append",
        metavar=("A", "B"),
        default=[],
        help="remove all links between devices A and B (repeatable)",
    )
    parser.add_argument(
        "--disable-links",
        nargs=3,
        action="append",
        metavar=("A", "B", "COUNT"),
        default=[],
        help="disable COUNT of the parallel links between A and B",
    )
    parser.add_argument(
        "--fail-device",
        action="append",
        metavar="DEVICE",
        default=[],
        help="remove a switch or NIC, e.g. n0/nvsw1 or spine3 (repeatable)",
    )


def add_collective_options(parser: argparse._ActionsContainer) -> None:
    """What ``collective`` predicts: the op, the size sweep, algorithm and engine choices."""
    parser.add_argument(
        "--gpus-per-node",
        type=positive_int,
        metavar="G",
        help="GPUs per node in the communicator (default all)",
    )
    parser.add_argument(
        "--op",
        required=True,
        help="all_reduce, all_gather, reduce_scatter, alltoall, broadcast, reduce or sendrecv",
    )
    parser.add_argument("--min-bytes", type=message_size, default=8.0, metavar="SIZE")
    parser.add_argument("--max-bytes", type=message_size, default=float(2**33), metavar="SIZE")
    parser.add_argument(
        "--step-factor",
        type=float,
        default=2.0,
        metavar="F",
        help="multiply the size by F each step (default 2)",
    )
    parser.add_argument(
        "--algo", help="force an algorithm like NCCL_ALGO: ring, tree, nvls, nvlstree, collnet, pat"
    )
    parser.add_argument("--proto", help="force a protocol like NCCL_PROTO: ll, ll128, simple")
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="calibration file from `interconnect-sim calibrate`",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="analytic",
        help="analytic (default), des (discrete-event), or both side by side",
    )


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Everything ``train`` needs, grouped as the scenario tables that hold it."""
    parser.add_argument("--model", help="preset id (e.g. llama3-70b) or a model .toml file")
    fabric = parser.add_argument_group("fabric", "the cluster (scenario table [fabric])")
    add_fabric_options(fabric, system_flag=True, system_required=False)
    add_failure_options(fabric)
    layout = parser.add_argument_group(
        "parallel", "the parallel layout (scenario table [parallel])"
    )
    for name in ("tp", "pp", "dp", "cp", "ep", "vpp"):
        layout.add_argument(f"--{name}", type=positive_int)
    layout.add_argument("--seq", type=positive_int, help="sequence length (default: the model's)")
    layout.add_argument("--global-batch", type=positive_int, metavar="B", help="sequences per step")
    layout.add_argument("--micro-batch", type=positive_int, metavar="M")
    layout.add_argument("--recompute", choices=("none", "selective", "full"))
    layout.add_argument("--precision", choices=("bf16", "fp8"))
    layout.add_argument(
        "--zero",
        type=int,
        choices=(0, 1, 2, 3),
        help="ZeRO stage (1 = distributed optimizer, default; 3 = FSDP)",
    )
    layout.add_argument("--no-sequence-parallel", action="store_true")
    layout.add_argument(
        "--tp-overlap",
        action="store_true",
        help="tensor-parallel communication overlapped with GEMMs",
    )
    layout.add_argument("--no-flash-attention", action="store_true")
    run = parser.add_argument_group("training", "the run (scenario table [training])")
    run.add_argument("--tokens", type=token_count, help="training tokens, e.g. 15T")
    run.add_argument(
        "--mtbf-node",
        type=duration,
        metavar="DURATION",
        help="mean time between failures of one node, e.g. '50000 h'",
    )
    run.add_argument("--checkpoint-interval", type=duration, default=3600.0, metavar="D")
    run.add_argument("--checkpoint-cost", type=duration, default=60.0, metavar="D")
    run.add_argument("--restart", type=duration, default=600.0, metavar="D")
    run.add_argument("--engine", choices=("analytic", "des"), default="analytic")


def fabric_request(values: Mapping[str, Any]) -> FabricRequest:
    """The fabric that option values (argparse dests, e.g. ``vars(args)``) describe."""
    return FabricRequest(
        system=values["system"],
        node_count=values.get("nodes"),
        scalable_units=values.get("scalable_units"),
        oversubscription=values.get("oversubscription") or 1.0,
        levels=values.get("levels"),
        nic=values.get("nic"),
        nic_count=values.get("nic_count"),
        switch=values.get("switch"),
        nvlink_lanes_per_link=values.get("nvlink_lanes"),
        p2p=values.get("p2p"),
    )


def apply_failures(fabric: Fabric, values: Mapping[str, Any]) -> Fabric:
    """``fabric`` with the failures of :func:`add_failure_options` applied."""
    for a, b in values.get("fail_link") or ():
        fabric = without_link(fabric, a, b)
    for a, b, count in values.get("disable_links") or ():
        try:
            links = int(count)
        except ValueError:
            raise ScenarioError(f"--disable-links count {count!r} is not a whole number") from None
        fabric = with_links_disabled(fabric, a, b, links)
    for device in values.get("fail_device") or ():
        fabric = without_device(fabric, device)
    return fabric
