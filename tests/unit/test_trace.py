"""Trace format: valid files, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.errors import TraceError
from interconnect_sim.workload.trace import read_trace, resolve_ranks, write_trace

GOOD = [
    '{"id": "a", "op": "all_reduce", "bytes": 1024, "group": "world", "start_s": 0}',
    "# comments and blank lines are skipped",
    "",
    '{"id": "b", "op": "allgather", "bytes": "1 GiB", "ranks": "0-7", "after": ["a"], '
    '"compute_s": 0.001}',
    '{"id": "c", "op": "alltoall", "bytes": 64, "ranks": [0, 8], "algo": "ring"}',
]


def _read(tmp_path: Path, lines: list[str]):  # type: ignore[no-untyped-def]
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return read_trace(path)


def test_valid_trace_round_trips(tmp_path: Path) -> None:
    calls = _read(tmp_path, GOOD)
    assert [c.id for c in calls] == ["a", "b", "c"]
    assert calls[1].op is CollectiveOp.ALL_GATHER
    assert calls[1].size_bytes == 2**30
    assert calls[1].ranks == tuple(range(8))
    assert calls[1].after == ("a",)
    write_trace(tmp_path / "copy.jsonl", calls)
    assert read_trace(tmp_path / "copy.jsonl") == [
        type(c)(**{**{f: getattr(c, f) for f in c.__dataclass_fields__}, "line": i})
        for i, c in enumerate(calls, start=1)
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "op": "allscatter", "bytes": 1, "group": "world"}', "line 1.*unknown"),
        ('{"id": "x", "op": "all_reduce", "bytes": 1}', "exactly one of 'ranks' and 'group'"),
        ('{"id": "x", "op": "all_reduce", "bytes": "1 Gb", "group": "world"}', "ambiguous"),
        ('{"id": "x", "op": "all_reduce", "bytes": 0, "group": "world"}', "bytes"),
        ('{"id": "x", "op": "all_reduce", "bytes": 1, "group": "pod:1"}', "world, node:K"),
        (
            '{"id": "x", "op": "all_reduce", "bytes": 1, "group": "world", "colour": 1}',
            "unknown key",
        ),
        (
            '{"id": "x", "op": "all_reduce", "bytes": 1, "group": "world", "after": ["y"]}',
            "unknown id 'y'",
        ),
        (
            '{"id": "x", "op": "all_reduce", "bytes": 1, "group": "world", "start_s": 0, '
            '"after": []}',
            None,
        ),
        ("{not json", "not valid JSON"),
        (
            '{"id": "x", "op": "sendrecv", "bytes": 1, "group": "world", "p2p_comm": "pair"}',
            "p2p_comm 'pair' must be one of group, pairs",
        ),
        (
            '{"id": "x", "op": "all_reduce", "bytes": 1, "group": "world", "p2p_comm": "pairs"}',
            "sendrecv only",
        ),
    ],
)
def test_bad_lines_name_the_line(tmp_path: Path, line: str, message: str | None) -> None:
    if message is None:
        assert _read(tmp_path, [line])[0].id == "x"
        return
    with pytest.raises(TraceError, match=message):
        _read(tmp_path, [line])


def test_dependency_cycles_and_duplicates_are_errors(tmp_path: Path) -> None:
    cycle = [
        '{"id": "a", "op": "all_reduce", "bytes": 1, "group": "world", "after": ["b"]}',
        '{"id": "b", "op": "all_reduce", "bytes": 1, "group": "world", "after": ["a"]}',
    ]
    with pytest.raises(TraceError, match="cycle"):
        _read(tmp_path, cycle)
    duplicate = [GOOD[0], GOOD[0]]
    with pytest.raises(TraceError, match=r"trace.jsonl, line 2: id .a. also used on line 1"):
        _read(tmp_path, duplicate)


def test_ranks_out_of_range_name_the_call(tmp_path: Path) -> None:
    call = _read(tmp_path, ['{"id": "x", "op": "all_reduce", "bytes": 1, "ranks": [0, 99]}'])[0]
    with pytest.raises(TraceError, match=r"line 1.*rank 99 out of range.*0-15"):
        resolve_ranks(call, 16, 8)
    rail = _read(tmp_path, ['{"id": "r", "op": "all_reduce", "bytes": 1, "group": "rail:3"}'])[0]
    assert resolve_ranks(rail, 16, 8) == (3, 11)
