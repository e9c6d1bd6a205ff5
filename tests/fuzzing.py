"""Fuzzing helpers: run the CLI in-process, mutate input files, judge what came out.

Shared by the property tests (``tests/properties/test_input_fuzzing.py``), the regression tests
of issue #10 and the fuzzing campaign (``benchmarks/fuzz_campaign.py``); a new input format
reuses them by giving a seed file and, where it has one, its own value mutator.

The promise being checked (README, "Bad input gets a clear error"): whatever the input, the
command either succeeds with finite, non-negative numbers, or prints **one** line
``interconnect-sim: error: ...`` naming the file or option and exits with status 2. A traceback,
a hang, a second line or a NaN in the output breaks it.

* :func:`run_main` calls ``interconnect_sim.cli.main`` with captured output, an optional
  wall-clock limit (SIGALRM) and an optional memory limit (``RLIMIT_AS``), and returns an
  :class:`Outcome`.
* :func:`assert_user_error`, :func:`assert_finite_output` and :func:`assert_clean` are the
  assertions; :func:`classify` turns an outcome into a short signature for counting.
* :func:`mutate` applies one random mutation (bytes, lines, or a value replaced by a nasty one)
  chosen for a format: ``"jsonl"``, ``"csv"``, ``"toml"`` or ``"text"``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import random
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from interconnect_sim.cli import main

__all__ = [
    "NASTY_CSV_CELLS",
    "NASTY_JSON_VALUES",
    "NASTY_TOML_VALUES",
    "HangError",
    "Outcome",
    "assert_clean",
    "assert_finite_output",
    "assert_user_error",
    "classify",
    "mutate",
    "non_finite_words",
    "run_isolated",
    "run_main",
]

ERROR_PREFIX = "interconnect-sim: error: "

HUGE_INT = "1" + "0" * 400

NASTY_JSON_VALUES: tuple[str, ...] = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e300",
    "-1e300",
    "1e-320",
    "-1",
    "0",
    "0.5",
    "-0.0",
    HUGE_INT,
    "-" + HUGE_INT,
    '""',
    '" "',
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "[1, 2]",
    '"node:\\u00b2"',
    '"rail:\\u0663"',
    '"0-999999999"',
    '"5-3"',
    '"1e400 B"',
    '"1e300 TB"',
    '"-1 GiB"',
    '"8 Gb"',
    '"world"',
    '"x"',
    '"\\u0000"',
)
"""JSON texts that break careless readers: non-finite and huge numbers, wrong types, unicode
digits that pass ``str.isdigit`` but not ``int``, ranges that would allocate gigabytes."""

NASTY_CSV_CELLS: tuple[str, ...] = (
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    "1e300",
    "-1e300",
    "1e-320",
    "-1",
    "0",
    "0.0",
    "0.5",
    "1.5",
    HUGE_INT,
    "x",
    "\u0663",
    "\u00b2",
    "on",
    "fit",
    '"a,b"',
)
"""CSV cells: empty, non-finite, huge, fractional where whole numbers go, unicode digits."""

NASTY_TOML_VALUES: tuple[str, ...] = (
    "nan",
    "inf",
    "-inf",
    "1e300",
    "-1e300",
    "1e-320",
    "-1",
    "0",
    "0.5",
    "1.5",
    HUGE_INT[:19],  # TOML integers are 64-bit
    "9223372036854775807",
    '""',
    '"x"',
    '"8"',
    "true",
    "[]",
    "[1, 2]",
    "{}",
    '"1e400T"',
)
"""TOML values: non-finite, out of range, wrong types."""


class HangError(Exception):
    """Raised inside the command by :func:`run_main`'s alarm when it runs past its limit."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one in-process run of the command did.

    Attributes
    ----------
    argv : tuple of str
        The arguments.
    status : int or None
        Exit status (None when the command raised).
    stdout, stderr : str
        Captured output.
    error : str or None
        Formatted traceback of an exception that escaped ``main`` (a bug), or ``"hang"``.
    error_type : str or None
        The exception's type name and where it was raised (``ValueError at trace.py:123``).
    seconds : float
        Wall-clock time.
    """

    argv: tuple[str, ...]
    status: int | None
    stdout: str
    stderr: str
    error: str | None
    error_type: str | None
    seconds: float


@contextlib.contextmanager
def _alarm(timeout_s: float | None) -> Iterator[None]:
    if timeout_s is None:
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise HangError(f"still running after {timeout_s} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "interconnect_sim" in f.filename] or frames
    if not inside:
        return type(exc).__name__
    last = inside[-1]
    return f"{type(exc).__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.name}"


def run_main(argv: Sequence[str], *, timeout_s: float | None = None) -> Outcome:
    """Run ``interconnect-sim ARGV`` in this process and capture what it did.

    Parameters
    ----------
    argv : sequence of str
        Command-line arguments (without the program name).
    timeout_s : float, optional
        Wall-clock limit; a run past it is reported as ``error="hang"`` (SIGALRM, main thread
        only).
    """
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    error: str | None = None
    error_type: str | None = None
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with _alarm(timeout_s):
                status = main(list(argv))
        except SystemExit as exc:  # argparse errors and --help
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except HangError:
            error, error_type = "hang", "hang"
        except MemoryError:  # formatting the traceback could fail again
            error, error_type = "MemoryError", "MemoryError"
        except Exception as exc:
            error, error_type = "".join(traceback.format_exception(exc)), _where(exc)
    return Outcome(
        argv=tuple(argv),
        status=status,
        stdout=out.getvalue(),
        stderr=err.getvalue(),
        error=error,
        error_type=error_type,
        seconds=time.perf_counter() - start,
    )


_CHILD = """
import sys, json, resource
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from interconnect_sim.cli import main
sys.exit(main(json.loads(sys.argv[1])))
"""


def run_isolated(argv: Sequence[str], *, timeout_s: float, memory_bytes: int) -> Outcome:
    """Run the command in a fresh interpreter under a time and an address-space limit.

    For requests that may exhaust memory (a failed allocation leaves an in-process run's
    interpreter too fragmented to go on). A run past ``timeout_s`` is killed and reported as
    ``error="hang"``; one that dies of memory as ``MemoryError``.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(list(argv)), str(memory_bytes)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return Outcome(tuple(argv), None, "", stderr, "hang", "hang", time.perf_counter() - start)
    error = error_type = None
    if "Traceback (most recent call last)" in done.stderr or done.returncode < 0:
        error = done.stderr or f"killed by signal {-done.returncode}"
        last = (done.stderr.strip().splitlines() or ["killed"])[-1]
        error_type = "MemoryError" if "MemoryError" in last else last.split(":")[0][:60]
    return Outcome(
        argv=tuple(argv),
        status=None if error else done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        error=error,
        error_type=error_type,
        seconds=time.perf_counter() - start,
    )


def _describe(outcome: Outcome) -> str:
    return (
        f"interconnect-sim {' '.join(outcome.argv)}\n-> status {outcome.status}\n"
        f"stderr:\n{outcome.stderr}\nstdout (head):\n{outcome.stdout[:2000]}\n"
        f"{outcome.error or ''}"
    )


def assert_user_error(outcome: Outcome, *names: str) -> str:
    """Assert a clean user error: status 2, one line ``interconnect-sim: error: ...``, no
    traceback, naming at least one of ``names`` (a file path or an option). Returns the line."""
    assert outcome.error is None, _describe(outcome)
    assert outcome.status == 2, _describe(outcome)
    lines = outcome.stderr.strip("\n").split("\n")
    assert len(lines) == 1, _describe(outcome)
    assert lines[0].startswith(ERROR_PREFIX) or lines[0].startswith("interconnect-sim "), _describe(
        outcome
    )
    assert "Traceback" not in outcome.stderr, _describe(outcome)
    if names:
        assert any(name in lines[0] for name in names), _describe(outcome)
    return lines[0]


_NON_FINITE = re.compile(r"(?<![\w.])(-?nan|-?inf(inity)?)(?![\w])", re.IGNORECASE)
_NON_NEGATIVE_KEY = re.compile(r"(_s$|_us$|bytes|GBps|bandwidth|makespan|time|gpus|tokens|mfu)")


def _numbers(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numbers(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v, key)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield key, float(value)


def non_finite_words(data: bytes) -> frozenset[str]:
    """Words of an input file that read like non-finite numbers (``-inf``, ``nan``): a command
    may echo them as labels (a CSV's row id), so text output is not judged on them."""
    text = data.decode("utf-8", errors="replace")
    return frozenset(m.group(0) for m in _NON_FINITE.finditer(text))


def assert_finite_output(outcome: Outcome, *, echoed: frozenset[str] = frozenset()) -> None:
    """Assert a success whose printed numbers are all finite, and non-negative where they are
    times, sizes, bandwidths or counts.

    JSON output is checked value by value (strings are labels, not numbers). Text output may not
    show ``nan`` or ``inf`` words, except those in ``echoed`` (words of the input the command may
    print back as labels; see :func:`non_finite_words`).
    """
    assert outcome.error is None, _describe(outcome)
    assert outcome.status == 0, _describe(outcome)
    text = outcome.stdout.strip()
    if text[:1] in "[{":
        data = json.loads(text, parse_constant=lambda name: math.nan)
        for key, number in _numbers(data):
            assert math.isfinite(number), f"{key} = {number}\n{_describe(outcome)}"
            if _NON_NEGATIVE_KEY.search(key) and "vs" not in key and "error" not in key:
                assert number >= 0, f"{key} = {number}\n{_describe(outcome)}"
        return
    found = {m.group(0) for m in _NON_FINITE.finditer(text)} - echoed
    assert not found, f"{sorted(found)}\n{_describe(outcome)}"


def assert_clean(outcome: Outcome, *names: str, echoed: frozenset[str] = frozenset()) -> None:
    """Either a finite success or a one-line user error naming one of ``names``."""
    if outcome.status == 0 and outcome.error is None:
        assert_finite_output(outcome, echoed=echoed)
    else:
        assert_user_error(outcome, *names)


def classify(outcome: Outcome, *names: str, echoed: frozenset[str] = frozenset()) -> str:
    """A short signature: ``ok``, ``user error``, or what went wrong (for counting)."""
    if outcome.error_type is not None:
        return f"traceback: {outcome.error_type}" if outcome.error != "hang" else "hang"
    try:
        assert_clean(outcome, *names, echoed=echoed)
    except AssertionError:
        if outcome.status == 0:
            return "non-finite or negative output"
        lines = outcome.stderr.strip("\n").split("\n")
        if len(lines) != 1:
            return f"{len(lines)}-line error"
        return "error not naming the file or option"
    return "ok" if outcome.status == 0 else "user error"


# -- mutators ------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(7)
    position = rng.randrange(len(data) + 1)
    if choice == 0:  # a byte that is not UTF-8
        return (
            data[:position]
            + rng.choice([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80"])
            + data[position:]
        )
    if choice == 1 and data:  # flip one byte
        index = rng.randrange(len(data))
        return data[:index] + bytes([data[index] ^ (1 << rng.randrange(8))]) + data[index + 1 :]
    if choice == 2:  # cut short
        return data[:position]
    if choice == 3:
        return b""
    if choice == 4:
        return b" \n\t\n"
    if choice == 5:
        return data[:position] + b"\x00" + data[position:]
    return b"\xef\xbb\xbf" + data  # a BOM


def _mutate_lines(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    index = rng.randrange(len(lines))
    choice = rng.randrange(4)
    if choice == 0:
        del lines[index]
    elif choice == 1:
        lines.insert(index, lines[rng.randrange(len(lines))])
    elif choice == 2:
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    else:
        lines[index] = lines[index][: rng.randrange(len(lines[index]) + 1)]
    return "\n".join(lines)


_JSON_VALUE = re.compile(r'(:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*|true|false|null|\[[^\]]*\])')


CHAIN_LENGTHS = (300, 1200)
"""Default lengths of the reversed dependency chains the JSON Lines mutator writes (a few
hundred calls hit RecursionError before issue #10)."""


def _mutate_jsonl(
    text: str, rng: random.Random, chain_lengths: tuple[int, ...] = CHAIN_LENGTHS
) -> str:
    lines = _lines(text)
    candidates = [i for i, line in enumerate(lines) if line.strip().startswith("{")]
    if not candidates:
        return _mutate_lines(text, rng)
    index = rng.choice(candidates)
    line = lines[index]
    choice = rng.randrange(4)
    if choice == 0:  # replace one value by a nasty one
        matches = list(_JSON_VALUE.finditer(line))
        if matches:
            m = rng.choice(matches)
            value = rng.choice(NASTY_JSON_VALUES)
            lines[index] = line[: m.start(2)] + value + line[m.end(2) :]
    elif choice == 1:  # drop a key
        try:
            data = json.loads(line)
            if data:
                del data[rng.choice(sorted(data))]
                lines[index] = json.dumps(data)
        except (ValueError, TypeError):
            pass
    elif choice == 2:  # add a key, known or not
        key = rng.choice(
            ["start_s", "after", "ranks", "group", "compute_s", "algo", "proto", "p2p_comm", "zz"]
        )
        lines[index] = line.rstrip().rstrip("}") + f', "{key}": {rng.choice(NASTY_JSON_VALUES)}}}'
    else:  # a long dependency chain listed in reverse, or many calls
        count = rng.choice(chain_lengths)
        chain = [
            json.dumps(
                {"id": f"c{i}", "op": "all_reduce", "bytes": 1024, "group": "world"}
                | ({"after": [f"c{i - 1}"]} if i else {})
            )
            for i in range(count - 1, -1, -1)
        ]
        return "\n".join(chain) + "\n"
    return "\n".join(lines)


def _mutate_csv(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    rows = [i for i, line in enumerate(lines) if i > 0 and line.strip()]
    if not rows:
        return _mutate_lines(text, rng)
    index = rng.choice(rows)
    cells = lines[index].split(",")  # seeds have no quoted commas
    choice = rng.randrange(4)
    if choice == 0:  # a nasty cell
        cells[rng.randrange(len(cells))] = rng.choice(NASTY_CSV_CELLS)
    elif choice == 1:  # shift: a cell too many
        cells.insert(rng.randrange(len(cells) + 1), rng.choice(NASTY_CSV_CELLS))
    elif choice == 2:  # a cell too few
        del cells[rng.randrange(len(cells))]
    else:  # header damaged
        header = lines[0].split(",")
        header[rng.randrange(len(header))] = rng.choice(["", "zz", header[0]])
        lines[0] = ",".join(header)
        return "\n".join(lines)
    lines[index] = ",".join(cells)
    return "\n".join(lines)


_TOML_ASSIGN = re.compile(r"^(\s*[\w\-\"]+\s*=\s*)(.+)$")


def _mutate_toml(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    assigns = [i for i, line in enumerate(lines) if _TOML_ASSIGN.match(line)]
    if not assigns:
        return _mutate_lines(text, rng)
    index = rng.choice(assigns)
    match = _TOML_ASSIGN.match(lines[index])
    assert match is not None
    choice = rng.randrange(4)
    if choice == 0:
        lines[index] = match.group(1) + rng.choice(NASTY_TOML_VALUES)
    elif choice == 1:
        del lines[index]
    elif choice == 2:
        lines.insert(index, f"zz_unknown = {rng.choice(NASTY_TOML_VALUES)}")
    else:  # a table header mangled
        headers = [i for i, line in enumerate(lines) if line.startswith("[")]
        if headers:
            h = rng.choice(headers)
            lines[h] = rng.choice(["[zz]", "[fitted.zz]", lines[h] + "x", ""])
    return "\n".join(lines)


_STRUCTURED: dict[str, Callable[[str, random.Random], str]] = {
    "jsonl": _mutate_jsonl,
    "csv": _mutate_csv,
    "toml": _mutate_toml,
    "text": _mutate_lines,
}


def mutate(
    data: bytes,
    fmt: str,
    rng: random.Random,
    *,
    rounds: int = 1,
    chain_lengths: tuple[int, ...] = CHAIN_LENGTHS,
) -> bytes:
    """Apply ``rounds`` random mutations to a file's bytes.

    Parameters
    ----------
    data : bytes
        A valid seed file.
    fmt : {"jsonl", "csv", "toml", "text"}
        Which value mutator to use besides the byte and line mutators.
    rng : random.Random
        Source of choices (hypothesis' ``st.randoms()`` in tests, a seeded one in campaigns).
    rounds : int
        Mutations applied one after another.
    chain_lengths : tuple of int
        Lengths of the reversed dependency chains the ``jsonl`` mutator may write.
    """
    structured = _STRUCTURED[fmt]
    if fmt == "jsonl":
        structured = functools.partial(_mutate_jsonl, chain_lengths=chain_lengths)
    for _ in range(rounds):
        kind = rng.random()
        if kind < 0.15:
            data = _mutate_bytes(data, rng)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            data = _mutate_bytes(data, rng)
            continue
        text = _mutate_lines(text, rng) if kind < 0.3 or not text else structured(text, rng)
        data = text.encode("utf-8")
    return data
