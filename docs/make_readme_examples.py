"""Regenerate the console examples in README.md by running them, so they cannot go stale.

An example is a ``console`` block right after a marker comment::

    <!-- example: interconnect-sim topo dgx-h100 -->
    ```console
    $ interconnect-sim topo dgx-h100
    ... output, rewritten by this script ...
    ```

``<!-- example: CMD | lines 1-4,-2 -->`` keeps only some output lines (1-based; ``-2`` = the
last two), with ``...`` where lines were left out. Commands run in-process through the CLI's
``main`` in a scratch folder that sees the repository's ``scenarios/``, so reports they write do
not land in the checkout.

Run: ``.venv/bin/python docs/make_readme_examples.py`` (rewrite) or ``--check`` (exit 1 when the
README differs from what the commands print now; the test suite runs this).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

from interconnect_sim.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(
    r"(<!-- example: (?P<spec>.+?) -->\n```console\n)(?P<body>.*?)(```)", flags=re.DOTALL
)


def _select(lines: list[str], spec: str) -> list[str]:
    keep: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("-"):
            keep.extend(range(len(lines) + int(part), len(lines)))
        elif "-" in part:
            lo, hi = part.split("-")
            keep.extend(range(int(lo) - 1, min(int(hi), len(lines))))
        else:
            keep.append(int(part) - 1)
    out: list[str] = []
    last = -1
    for index in sorted(set(keep)):
        if index > last + 1:
            out.append("...")
        out.append(lines[index])
        last = index
    if last < len(lines) - 1:
        out.append("...")
    return out


def _run(command: str) -> str:
    argv = shlex.split(command)
    if argv[0] != "interconnect-sim":
        raise ValueError(f"example {command!r} does not run interconnect-sim")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        status = cli_main(argv[1:])
    if status != 0:
        raise RuntimeError(f"example {command!r} exited with {status}")
    return stdout.getvalue()


def render(text: str) -> str:
    """``text`` (the README) with every example block's output regenerated."""

    def replace(match: re.Match[str]) -> str:
        command, _, selection = match["spec"].partition(" | lines ")
        lines = _run(command.strip()).rstrip("\n").splitlines()
        if selection:
            lines = _select(lines, selection)
        body = "\n".join([f"$ {command.strip()}", *lines]) + "\n"
        return match.group(1) + body + match.group(4)

    previous = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.symlink(ROOT / "scenarios", Path(scratch) / "scenarios")
        os.chdir(scratch)
        try:
            return _BLOCK.sub(replace, text)
        finally:
            os.chdir(previous)


def main() -> int:
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in sys.argv[1:]:
        if fresh != current:
            print("README.md examples are stale: run .venv/bin/python docs/make_readme_examples.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
