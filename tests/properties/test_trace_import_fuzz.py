"""Fuzzing the trace readers (PyTorch profiler JSON, Chakra binary and JSON) through the CLI."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.cli import main

DATA = Path(__file__).parents[1] / "data" / "importers"
SAMPLES = {
    "pytorch": DATA / "pytorch-2.1-rank0.pt.trace.json",
    "chakra-json": DATA / "chakra-json-2rank.0.json",
    "chakra-binary": DATA / "chakra-4rank" / "chakra.0.et",
}
PARTNERS = {
    "chakra-json": DATA / "chakra-json-2rank.1.json",
    "chakra-binary": DATA / "chakra-4rank" / "chakra.1.et",
}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_mutated_traces_end_in_status_0_or_one_line_status_2(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = SAMPLES[kind].read_bytes()

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(at=st.integers(0, len(data)), junk=st.binary(max_size=12), cut=st.booleans())
    def check(at: int, junk: bytes, cut: bool) -> None:
        mutated = data[:at] if cut else data[:at] + junk + data[at + len(junk) :]
        folder = Path(tempfile.mkdtemp())
        try:
            path = folder / SAMPLES[kind].name
            path.write_bytes(mutated)
            files = [str(path)] + ([str(PARTNERS[kind])] if kind in PARTNERS else [])
            code = main(["replay", *files, "--system", "dgx-h100", "--engine", "analytic"])
        finally:
            shutil.rmtree(folder)
        err = capsys.readouterr().err
        assert code in (0, 2)
        if code == 2:
            errors = [line for line in err.splitlines() if "error:" in line]
            assert len(errors) == 1, err
            assert err.strip().splitlines()[-1].startswith("interconnect-sim: error: ")

    check()
