"""Fuzzing every reader through the CLI: bad input ends in status 2 and one line, never a traceback.

A log cut short is what a crashed run leaves, so truncation may also be read (status 0, rows
before the cut kept); anything else the mutations produce must be a one-line error.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.cli import main

DATA = Path(__file__).parents[1] / "data" / "importers"
SAMPLES = {
    "text": DATA / "all_gather_perf-dgx1-v100-2019.log",
    "json": DATA / "alltoall_perf-1x8-h100.json",
    "inspector": DATA / "nccl-inspector-4711" / "gpu-d001-pid30211.log",
}
SYSTEM = {"text": "dgx1-v100", "json": "dgx-h100", "inspector": "dgx-h100"}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run(kind: str, data: bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / SAMPLES[kind].name
        path.write_bytes(data)
        code = main(["validate", "--measurements", str(path), "--system", SYSTEM[kind], "--json"])
        return code, capsys.readouterr().err
    finally:
        shutil.rmtree(folder)


def _check(code: int, err: str) -> None:
    assert code in (0, 2)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("interconnect-sim: error: "), err


def _mutations(text: str) -> st.SearchStrategy[bytes]:
    lines = text.splitlines(keepends=True)
    at = st.integers(0, len(lines))
    garbage = st.text(min_size=1, max_size=40).map(lambda s: s.replace("\r", "") + "\n")
    number = st.sampled_from(["1e400", "nan", "-5", "99999999999999999999999999", "inf", "1,5"])

    def insert(i: int, extra: str) -> bytes:
        return "".join([*lines[:i], extra, *lines[i:]]).encode()

    def replace_number(i: int, value: str) -> bytes:
        line = lines[min(i, len(lines) - 1)]
        for token in line.replace(",", " ").replace(":", " ").split():
            if token.replace(".", "", 1).isdigit():
                line = line.replace(token, value, 1)
                break
        return "".join(
            [*lines[: min(i, len(lines) - 1)], line, *lines[min(i, len(lines) - 1) + 1 :]]
        ).encode()

    return st.one_of(
        st.integers(0, len(text)).map(lambda n: text[:n].encode()),  # truncated
        st.builds(insert, at, garbage),  # a garbage line
        st.builds(replace_number, at, number),  # a huge or broken number
        st.builds(lambda i: "".join(lines[:i] + lines[i + 1 :]).encode(), at),  # a line lost
        st.builds(lambda i: text.encode()[:i] + b"\xff\xfe" + text.encode()[i:], at),  # not UTF-8
    )


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_mutated_files_end_in_status_0_or_one_line_status_2(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SAMPLES[kind].read_text()

    @FUZZ
    @given(data=_mutations(text))
    def check(data: bytes) -> None:
        _check(*_run(kind, data, capsys))

    check()


CASES: dict[str, Callable[[str], str]] = {
    "missing column": lambda t: t.replace("  busbw", "", 1).replace('"bus_bw"', '"bu_bw"'),
    "huge number": lambda t: t.replace("9.47", "9e999", 1).replace('"time":', '"time":1e999,"x":'),
    "garbage row": lambda t: t.replace("\n  ", "\n  12x45 garbage\n  ", 1).replace(
        "},{", "},7,{", 1
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["text", "json"])
def test_damaged_files_are_rejected_with_one_line(
    kind: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CASES[case](SAMPLES[kind].read_text())
    code, err = _run(kind, text.encode(), capsys)
    assert code == 2, err
    _check(code, err)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_non_utf8_bytes_are_rejected(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = SAMPLES[kind].read_bytes()
    code, err = _run(kind, data[:200] + b"\xc3\x28" + data[200:], capsys)
    assert code == 2
    assert "not UTF-8" in err
    _check(code, err)


DUMPS = {
    "topo-m-dgx-a100.txt": ["--gpu", "a100-sxm4-80gb", "--nic", "connectx-6"],
    "topo-m-dgx1-v100.txt": ["--gpu", "v100-sxm2-32gb", "--nic", "connectx-4"],
    "nccl-topo-hgx-h100-4gpu.xml": [],
    "rccl-topo-mi300x-8x.xml": [],
}


@pytest.mark.parametrize("dump", sorted(DUMPS))
def test_mutated_dumps_given_as_the_system_end_in_status_0_or_one_line(
    dump: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A topology dump where a system goes (`topo DUMP`): the reader, the system checks and the
    builders all answer a damaged dump with one line."""
    text = (DATA / dump).read_text()

    @settings(FUZZ, max_examples=25)
    @given(data=_mutations(text))
    def check(data: bytes) -> None:
        folder = Path(tempfile.mkdtemp())
        try:
            path = folder / dump
            path.write_bytes(data)
            code = main(["topo", str(path), *DUMPS[dump], "--json"])
            _check(code, capsys.readouterr().err)
        finally:
            shutil.rmtree(folder)

    check()
