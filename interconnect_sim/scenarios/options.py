"""The options of every run, declared once.

The command line adds them to its parsers (``topo``, ``collective``, ``replay``, ``train``), and
scenario files are checked against the very same declarations
(:class:`~interconnect_sim.scenarios.keys.OptionTable` reads them back from a parser): a scenario
key is an option's name without the dashes (``micro-batch = 2`` is ``--micro-batch 2``), its value
goes through the option's own converter, and an option added here appears in both places at once.

Options of ``train`` sit in argparse groups named after the scenario table that holds them
(``[fabric]``, ``[parallel]``, ``[training]``, ``[whatif]``); options in no group are top-level
keys (``model = "llama3-70b"``).
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
    positive_float,
    positive_int,
    rate,
    ratio,
    token_count,
    virtual_stages,
)
from interconnect_sim.errors import ScenarioError
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology.presets import FabricRequest
from interconnect_sim.training.parallel import PRECISIONS
from interconnect_sim.training.schedule import SCHEDULES
from interconnect_sim.workload.placement import PLACEMENTS

__all__ = [
    "ENGINES",
    "add_calibration_option",
    "add_catalog_option",
    "add_collective_options",
    "add_fabric_options",
    "add_training_options",
    "catalog_from",
    "fabric_request_from",
    "fraction_of",
]

ENGINES = ("analytic", "des", "both")
"""Engine choices of ``collective`` and ``replay``."""


def add_catalog_option(parser: argparse._ActionsContainer) -> None:
    """``--catalog DIR`` (repeatable): a folder of the user's own spec files."""
    parser.add_argument(
        "--catalog",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of your own GPU, link, NIC, switch and system files in the catalog's "
        "format (repeatable; see docs/systems.md)",
    )


def catalog_from(values: Mapping[str, Any]) -> Catalog:
    """The shipped catalog plus the ``--catalog`` folders named in ``values``."""
    return load_catalog(*(Path(folder) for folder in values.get("catalog") or ()))


def add_calibration_option(parser: argparse._ActionsContainer) -> None:
    """``--calibration FILE``, shared by every command (and scenario kind) that predicts."""
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="calibration file written by `interconnect-sim calibrate` (default: the shipped one)",
    )


def add_fabric_options(
    parser: argparse._ActionsContainer, *, system_flag: bool, system_required: bool = True
) -> None:
    """Options that describe a fabric (``topo``, ``collective``, ``replay``, ``train``)."""
    system_help = (
        "preset id (any case; `interconnect-sim systems`), a system .toml file, or a topology "
        "dump: what `nvidia-smi topo -m` printed, or NCCL's (RCCL's) topology XML"
    )
    if system_flag:
        parser.add_argument("--system", required=system_required, help=system_help)
    else:
        parser.add_argument("system", help=system_help)
    parser.add_argument(
        "--gpu",
        metavar="ID",
        help="GPU id of a topology dump that does not name it (nvidia-smi topo -m); "
        "`interconnect-sim specs`",
    )
    add_catalog_option(parser)
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
    parser.add_argument(
        "--nic",
        help="replace the compute NICs by this NIC id (e.g. connectx-8); for a topology dump "
        "that does not name them, their model",
    )
    parser.add_argument(
        "--nic-count", type=positive_int, metavar="N", help="number of compute NICs per system"
    )
    parser.add_argument("--switch", help="network switch id for leaf/spine/core (e.g. q3400)")
    parser.add_argument(
        "--nvlink-lanes",
        type=positive_int,
        metavar="LANES",
        help="active lanes per scale-up link (e.g. 1 of 2 on NVLink 4)",
    )
    parser.add_argument("--p2p", type=on_off, metavar="on|off", help="GPU peer-to-peer on or off")
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
        help="disable COUNT of the parallel links between A and B (repeatable)",
    )
    parser.add_argument(
        "--fail-device",
        action="append",
        metavar="DEVICE",
        default=[],
        help="remove a switch or NIC, e.g. n0/nvsw1 or spine3 (repeatable)",
    )
    parser.add_argument(
        "--degrade-link",
        nargs=3,
        action="append",
        metavar=("A", "B", "FRACTION"),
        default=[],
        help="run the link between A and B at FRACTION of its capacity, e.g. 0.5 or 50%% "
        "(repeatable)",
    )
    parser.add_argument(
        "--degrade-device",
        nargs=2,
        action="append",
        metavar=("DEVICE", "FRACTION"),
        default=[],
        help="run every link of a NIC or switch at FRACTION of its capacity (repeatable)",
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
    add_calibration_option(parser)
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="analytic",
        help="analytic (default), des (discrete-event), or both side by side",
    )


def _add_parallel_options(layout: argparse._ActionsContainer) -> None:
    for name in ("tp", "pp", "dp", "cp", "ep"):
        layout.add_argument(f"--{name}", type=positive_int)
    layout.add_argument("--etp", type=positive_int, help="expert tensor parallel (default: tp)")
    layout.add_argument(
        "--vpp",
        type=virtual_stages,
        default="auto",
        help="virtual pipeline stages per rank, or auto (default): the fastest the split allows "
        "that fits memory",
    )
    layout.add_argument("--pp-first-stage-layers", type=positive_int, metavar="N")
    layout.add_argument("--pp-last-stage-layers", type=positive_int, metavar="N")
    layout.add_argument(
        "--pp-embedding-in-split",
        action="store_true",
        help="count the embedding as a layer in the pipeline split (done automatically when the "
        "layers do not divide, e.g. Llama 3 405B on 16 stages)",
    )
    layout.add_argument("--pp-loss-in-split", action="store_true")
    layout.add_argument("--seq", type=positive_int, help="sequence length (default: the model's)")
    layout.add_argument("--global-batch", type=positive_int, metavar="B", help="sequences per step")
    layout.add_argument("--micro-batch", type=positive_int, metavar="M")
    layout.add_argument("--recompute", choices=("none", "selective", "full"))
    layout.add_argument("--precision", choices=PRECISIONS)
    layout.add_argument(
        "--zero",
        type=int,
        choices=(0, 1, 2, 3),
        help="ZeRO stage (1 = distributed optimizer, default; 3 = FSDP)",
    )
    layout.add_argument("--fp32-grads", action="store_true", help="FP32 gradient accumulation")
    layout.add_argument("--no-sequence-parallel", action="store_true")
    layout.add_argument(
        "--tp-overlap", action="store_true", help="tensor-parallel communication overlapped"
    )
    layout.add_argument("--moe-capacity-factor", type=positive_float, metavar="C")
    layout.add_argument(
        "--moe-load-imbalance",
        type=positive_float,
        metavar="L",
        help="tokens on the busiest expert rank over the mean (default 1, balanced)",
    )
    layout.add_argument("--moe-a2a-overlap", action="store_true")
    layout.add_argument("--lora-rank", type=positive_int, metavar="R")
    layout.add_argument("--lora-mlp", action="store_true", help="LoRA on MLP projections too")
    layout.add_argument("--packed-document-tokens", type=positive_int, metavar="N")
    layout.add_argument("--no-flash-attention", action="store_true")
    layout.add_argument(
        "--layout",
        choices=("auto",),
        help="search the parallel layout (tp, pp, vpp, cp, ep, dp, ZeRO, micro-batch, "
        "recompute); --tp etc. given with it fix that knob",
    )


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Everything ``train`` needs, grouped as the scenario tables that hold it."""
    from interconnect_sim.training.benchmarks import list_benchmarks

    parser.add_argument("--model", help="preset id (e.g. llama3-70b) or a model .toml file")
    parser.add_argument(
        "--benchmark",
        help=f"MLPerf LLM benchmark: {', '.join(list_benchmarks())} (needs --global-batch)",
    )
    fabric = parser.add_argument_group("fabric", "the cluster (scenario table [fabric])")
    add_fabric_options(fabric, system_flag=True, system_required=False)
    layout = parser.add_argument_group(
        "parallel", "the parallel layout (scenario table [parallel])"
    )
    _add_parallel_options(layout)
    run = parser.add_argument_group("training", "the run (scenario table [training])")
    run.add_argument("--tokens", type=token_count, help="training tokens, e.g. 15T")
    run.add_argument(
        "--mtbf-node",
        type=duration,
        metavar="DURATION",
        help="mean time between failures of one node, e.g. '50000 h'",
    )
    run.add_argument(
        "--checkpoint-interval", type=duration, metavar="D", help="default: Daly's optimum"
    )
    run.add_argument("--checkpoint-cost", type=duration, metavar="D")
    run.add_argument("--restart", type=duration, metavar="D")
    run.add_argument(
        "--engine",
        choices=("analytic", "des"),
        default="analytic",
        help="analytic: the closed form; des: the step's trace (schedule, overlap, contention) "
        "replayed on the discrete-event engine, with the what-ifs of [whatif]",
    )
    run.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="pipeline schedule of --engine des (default: interleaved with vpp > 1, else 1f1b)",
    )
    run.add_argument(
        "--emit-trace",
        type=Path,
        metavar="FILE.jsonl",
        help="with --engine des: write the step's trace (replay it with `replay`) and FILE.png, "
        "its timeline",
    )
    add_calibration_option(run)
    run.add_argument("--failure-profile", help="published interruption statistics to use")
    run.add_argument(
        "--storage-bandwidth",
        type=rate,
        metavar="RATE",
        help="checkpoint write bandwidth, e.g. '100 GB/s' (sets the checkpoint cost)",
    )
    _add_whatif_options(parser)


def _add_whatif_options(parser: argparse.ArgumentParser) -> None:
    whatif = parser.add_argument_group(
        "whatif",
        "what-ifs the step's timeline answers, each compared with the step without it (scenario "
        "table [whatif]; --engine des; the fabric's own what-ifs are fabric options)",
    )
    whatif.add_argument(
        "--slow-node",
        action="append",
        default=[],
        metavar="NODE=PCT",
        help="a straggler: node NODE's GPUs take PCT %% longer to compute, e.g. 5=10%% "
        "(repeatable)",
    )
    whatif.add_argument(
        "--slow-gpu",
        action="append",
        default=[],
        metavar="RANK=PCT",
        help="a straggler GPU by rank (node x GPUs per node + local GPU), e.g. 41=25%% "
        "(repeatable)",
    )
    whatif.add_argument(
        "--neighbour-trace",
        type=Path,
        metavar="FILE.jsonl",
        help="a second job's trace (ranks numbered over its own nodes) sharing the fabric",
    )
    whatif.add_argument(
        "--neighbour-nodes", metavar="LIST", help="its fabric nodes, e.g. 40-47 or 3,9,12"
    )
    whatif.add_argument(
        "--neighbour-placement",
        choices=PLACEMENTS,
        help="how to choose its nodes among those the job leaves free (default packed)",
    )
    whatif.add_argument("--neighbour-seed", type=int, help="seed of random placement (default 0)")
    whatif.add_argument(
        "--neighbour-repeat",
        type=positive_int,
        metavar="N",
        help="run the neighbour's trace N times back to back (default 1)",
    )


def _link_count(text: object, where: str) -> int:
    try:
        count = int(str(text))
    except ValueError:
        raise ScenarioError(f"{where}: count {text!r} is not a whole number") from None
    if count < 1:
        raise ScenarioError(f"{where}: count {text!r} must be at least 1")
    return count


def fraction_of(text: object, where: str) -> float:
    """``0.5`` or ``50%``: a fraction strictly between 0 and 1."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ScenarioError(f"{where}: {text!r} is not a fraction such as 0.5 or 50%") from None
    if not 0.0 < value < 1.0:
        raise ScenarioError(f"{where}: {text!r} must lie strictly between 0 and 1 (0% and 100%)")
    return value


def fabric_request_from(values: Mapping[str, Any]) -> FabricRequest:
    """The fabric the shared fabric options (parsed arguments or a scenario) describe."""
    disable = tuple(
        (str(a), str(b), _link_count(count, "--disable-links"))
        for a, b, count in values.get("disable_links") or ()
    )
    return FabricRequest(
        system=str(values["system"]),
        gpu=values.get("gpu"),
        node_count=values.get("nodes"),
        scalable_units=values.get("scalable_units"),
        oversubscription=values.get("oversubscription") or 1.0,
        levels=values.get("levels"),
        nic=values.get("nic"),
        nic_count=values.get("nic_count"),
        switch=values.get("switch"),
        nvlink_lanes_per_link=values.get("nvlink_lanes"),
        p2p=values.get("p2p"),
        fail_links=tuple((str(a), str(b)) for a, b in values.get("fail_link") or ()),
        disable_links=disable,
        fail_devices=tuple(str(d) for d in values.get("fail_device") or ()),
        degrade_links=tuple(
            (str(a), str(b), fraction_of(f, "--degrade-link"))
            for a, b, f in values.get("degrade_link") or ()
        ),
        degrade_devices=tuple(
            (str(d), fraction_of(f, "--degrade-device"))
            for d, f in values.get("degrade_device") or ()
        ),
    )
