"""The ``interconnect-sim`` command. Parses arguments, calls the library, prints; no model logic.

User errors (unknown preset, bad number, bad unit, impossible design) print one line to stderr
and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from interconnect_sim.cli.parser import PROG, Parser
from interconnect_sim.errors import InterconnectSimError

__all__ = ["main"]

# Each command's module is imported only when that command runs (a module pulls in the engines,
# networkx, numpy, pandas or matplotlib it needs), so `--help` and small commands start fast.
# command: (module in interconnect_sim.cli, function adding its parsers, function running it,
# the one line `--help` shows; tests check it is the module's own)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "systems": (
        "fabric_commands",
        "add_fabric_commands",
        "run_fabric_command",
        "list the systems: presets, your own files, announced (hypothetical) ones",
    ),
    "specs": (
        "fabric_commands",
        "add_fabric_commands",
        "run_fabric_command",
        "list the cited hardware spec catalog",
    ),
    "topo": (
        "fabric_commands",
        "add_fabric_commands",
        "run_fabric_command",
        "build a fabric and summarise it",
    ),
    "collective": (
        "collective_commands",
        "add_collective_command",
        "run_collective_command",
        "predict a collective like nccl-tests prints it",
    ),
    "validate": (
        "validation_commands",
        "add_validation_commands",
        "run_validation_command",
        "score predictions against measured nccl-tests results",
    ),
    "calibrate": (
        "validation_commands",
        "add_validation_commands",
        "run_validation_command",
        "fit efficiencies and latencies to measured nccl-tests results",
    ),
    "replay": (
        "replay_commands",
        "add_replay_command",
        "run_replay_command",
        "replay a collective trace (JSON Lines) on a fabric, with contention",
    ),
    "train": (
        "training_commands",
        "add_training_commands",
        "run_training_command",
        "estimate an LLM training step and time-to-train on a fabric",
    ),
    "validate-training": (
        "training_commands",
        "add_training_commands",
        "run_training_command",
        "score the step model against published training runs",
    ),
    "run": (
        "scenario_commands",
        "add_scenario_command",
        "run_scenario_command",
        "run a scenario file and write its report (HTML, CSV, Markdown, plots)",
    ),
    "plan": (
        "planning_commands",
        "add_planning_commands",
        "run_planning_command",
        "evaluate a sweep of cluster designs (sizing, layout, BOM, power, cost)",
    ),
    "import-trace": (
        "import_commands",
        "add_import_commands",
        "run_import_command",
        "convert PyTorch profiler or Chakra traces (one file per rank) to a JSON Lines trace",
    ),
    "import-topo": (
        "import_commands",
        "add_topology_commands",
        "run_topology_command",
        "turn `nvidia-smi topo -m` output or NCCL's topology XML into a system file",
    ),
    "export-topo": (
        "import_commands",
        "add_topology_commands",
        "run_topology_command",
        "write one server of a system as NCCL topology XML (for NCCL_TOPO_FILE)",
    ),
}


def _function(command: str, position: int) -> Callable[..., Any]:
    module = importlib.import_module(f"interconnect_sim.cli.{COMMANDS[command][0]}")
    function: Callable[..., Any] = getattr(module, COMMANDS[command][position])
    return function


def _build_parser(command: str | None = None) -> Parser:
    """The parser, with ``command``'s own options (every other command is listed only)."""
    parser = Parser(prog=PROG, description="GPU cluster interconnect simulator and planner.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    added: set[str] = set()
    for name, (module, add, _, summary) in COMMANDS.items():
        if name in added:
            continue
        if command is not None and (module, add) == COMMANDS[command][:2]:
            before = set(commands.choices)
            _function(name, 1)(commands)
            added |= set(commands.choices) - before
        else:
            commands.add_parser(name, help=summary, add_help=False)
            added.add(name)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first argument that is one)."""
    for argument in argv:
        if argument in COMMANDS:
            return argument
        if not argument.startswith("-"):
            return None
    return None


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks remove temporary files."""
    raise SystemExit(128 + signum)


def _read_dumps_as_systems() -> None:
    """A topology dump works wherever a system file does (docs/design/system-dumps.md)."""
    from interconnect_sim.importers.topology import system_from_dump_file
    from interconnect_sim.specs.system_readers import register_system_reader

    register_system_reader(system_from_dump_file)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``interconnect-sim`` console script."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _build_parser(_command_in(arguments)).parse_args(arguments)
    _read_dumps_as_systems()
    try:
        status: int = _function(args.command, 2)(args)
        return status
    except InterconnectSimError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
