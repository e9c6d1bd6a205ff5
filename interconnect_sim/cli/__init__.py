"""The ``interconnect-sim`` command. Parses arguments, calls the library, prints; no model logic.

User errors (unknown preset, bad number, bad unit, impossible design) print one line to stderr
and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from interconnect_sim.cli.collective_commands import (
    add_collective_command,
    run_collective_command,
)
from interconnect_sim.cli.common import PROG, Parser
from interconnect_sim.cli.fabric_commands import add_fabric_commands, run_fabric_command
from interconnect_sim.cli.import_commands import (
    add_import_commands,
    add_topology_commands,
    run_import_command,
    run_topology_command,
)
from interconnect_sim.cli.planning_commands import add_planning_commands, run_planning_command
from interconnect_sim.cli.replay_commands import add_replay_command, run_replay_command
from interconnect_sim.cli.scenario_commands import add_scenario_command, run_scenario_command
from interconnect_sim.cli.training_commands import add_training_commands, run_training_command
from interconnect_sim.cli.validation_commands import (
    add_validation_commands,
    run_validation_command,
)
from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.importers.topology import system_from_dump_file
from interconnect_sim.specs.system_readers import register_system_reader

__all__ = ["main"]

# A topology dump works wherever a system file does (docs/design/system-dumps.md).
register_system_reader(system_from_dump_file)


def _build_parser() -> Parser:
    parser = Parser(prog=PROG, description="GPU cluster interconnect simulator and planner.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_fabric_commands(commands)
    add_collective_command(commands)
    add_validation_commands(commands)
    add_replay_command(commands)
    add_training_commands(commands)
    add_scenario_command(commands)
    add_planning_commands(commands)
    add_import_commands(commands)
    add_topology_commands(commands)
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks remove temporary files."""
    raise SystemExit(128 + signum)


def _one_line(message: str) -> str:
    """``message`` with line breaks and other control characters escaped (``\\n``): a name read
    from a user's file may hold them, and an error is one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``interconnect-sim`` console script."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = _build_parser().parse_args(argv)
    try:
        if args.command in ("systems", "specs", "topo"):
            return run_fabric_command(args)
        if args.command == "collective":
            return run_collective_command(args)
        if args.command == "replay":
            return run_replay_command(args)
        if args.command in ("train", "validate-training"):
            return run_training_command(args)
        if args.command == "run":
            return run_scenario_command(args)
        if args.command == "plan":
            return run_planning_command(args)
        if args.command in ("import-topo", "export-topo"):
            return run_topology_command(args)
        if args.command == "import-trace":
            return run_import_command(args)
        return run_validation_command(args)
    except InterconnectSimError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
