"""Compute events, copies and repeats in traces, and how both engines time them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.classes import class_parts
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.flownet import EdgeIndex
from interconnect_sim.errors import TraceError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.workload.trace import (
    TraceCompute,
    TraceEvent,
    read_trace,
    resolve_copies,
    write_trace,
)

Build = Callable[..., Fabric]
MIB = 2**20


def _read(tmp_path: Path, lines: list[str]) -> list[TraceEvent]:
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return read_trace(path)


def test_compute_copies_repeat_and_tag_round_trip(tmp_path: Path) -> None:
    events = _read(
        tmp_path,
        [
            '{"id": "f", "op": "compute", "duration_s": 0.002, "ranks": "0-7", '
            '"copies": ["0-24:8"], "tag": "forward", "start_s": 0}',
            '{"id": "ag", "op": "all_gather", "bytes": "1 MiB", "ranks": "0-7", '
            '"copies": [0, "8-24:8"], "repeat": 4, "tag": "tp", "after": ["f"]}',
        ],
    )
    compute, call = events
    assert isinstance(compute, TraceCompute)
    assert compute.duration_s == 0.002
    assert compute.copies == (range(0, 25, 8),)
    assert call.copies == (range(0, 25, 8),)
    assert call.repeat == 4
    assert call.tag == "tp"
    assert resolve_copies(call, 32, 8) == [tuple(range(o, o + 8)) for o in (0, 8, 16, 24)]
    write_trace(tmp_path / "copy.jsonl", events, header=["a comment"])
    again = read_trace(tmp_path / "copy.jsonl")
    assert [e.to_json() for e in again] == [e.to_json() for e in events]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "op": "compute", "ranks": [0]}', "needs 'duration_s'"),
        ('{"id": "x", "op": "compute", "duration_s": -1, "ranks": [0]}', "non-negative"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "bytes": 4, "ranks": [0]}', "unknown key"),
        ('{"id": "x", "op": "all_reduce", "bytes": 4, "duration_s": 1, "ranks": [0]}', "unknown"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "ranks": [0], "copies": [8]}', "include 0"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "group": "world", "copies": [0]}', "ranks"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "ranks": [0], "copies": ["4-0"]}', "back"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "ranks": [0], "copies": [0, 0]}', "twice"),
        ('{"id": "x", "op": "all_reduce", "bytes": 4, "ranks": [0, 1], "repeat": 0}', "repeat"),
        ('{"id": "x", "op": "compute", "duration_s": 1, "ranks": [0], "tag": ""}', "tag"),
    ],
)
def test_bad_event_lines_name_the_problem(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        _read(tmp_path, [line])


def test_copies_past_the_fabric_are_an_error(tmp_path: Path) -> None:
    (event,) = _read(
        tmp_path, ['{"id": "x", "op": "compute", "duration_s": 1, "ranks": [0], "copies": [0, 9]}']
    )
    with pytest.raises(TraceError, match="copies reach rank 9; the fabric has ranks 0-7"):
        resolve_copies(event, 8, 8)


def test_engines_time_compute_and_repeats_on_an_idle_fabric(
    build: Build, catalog: Catalog, tmp_path: Path
) -> None:
    fabric = build("dgx-h100", node_count=2)
    events = _read(
        tmp_path,
        [
            '{"id": "f", "op": "compute", "duration_s": 0.003, "ranks": "0-7", "start_s": 0}',
            '{"id": "one", "op": "all_gather", "bytes": "64 MiB", "ranks": "0-7", "after": ["f"]}',
            '{"id": "four", "op": "all_gather", "bytes": "64 MiB", "ranks": "0-7", '
            '"repeat": 4, "after": ["one"]}',
            '{"id": "g", "op": "compute", "duration_s": 0.001, "ranks": "0-7", "after": ["f"]}',
        ],
    )
    for engine in (AnalyticEngine(catalog), DiscreteEventEngine(catalog)):
        result = engine.replay(fabric, events)
        calls = {c.id: c for c in result.calls}
        assert calls["f"].end_s == pytest.approx(0.003)
        assert calls["g"].start_s == pytest.approx(0.003)  # beside the call: no contention
        assert calls["four"].duration_s == pytest.approx(4 * calls["one"].duration_s, rel=1e-6)
        assert result.makespan_s == pytest.approx(max(calls["four"].end_s, calls["g"].end_s))


def _copies_trace(tmp_path: Path, op: str, ranks: str, copies: str) -> list[TraceEvent]:
    return _read(
        tmp_path,
        [f'{{"id": "c", "op": "{op}", "bytes": "256 MiB", "ranks": {ranks}, "copies": {copies}}}'],
    )


@pytest.mark.parametrize(
    ("op", "ranks", "copies"),
    [
        ("all_gather", '"0-7"', '["0-24:8"]'),  # the TP groups of four nodes
        ("reduce_scatter", '"0-24:8"', '["0-7"]'),  # the DP groups of every rail
        ("sendrecv", "[0, 16]", '["0-7"]'),  # pipeline sends between nodes 0 and 2
        ("alltoall", "[0, 8, 16, 24]", '["0-7"]'),  # cross-node expert parallel
    ],
)
def test_merged_copies_take_what_separate_copies_take(
    build: Build, catalog: Catalog, tmp_path: Path, op: str, ranks: str, copies: str
) -> None:
    # on a healthy fabric identical copies move at one rate: one merged flow gives the time of
    # every copy with its own flows, and of one copy alone when they share nothing
    fabric = build("dgx-h100", node_count=4)
    events = _copies_trace(tmp_path, op, ranks, copies)
    des = DiscreteEventEngine(catalog)
    merged = des.replay(fabric, events, merge_copies=True).makespan_s
    separate = des.replay(fabric, events, merge_copies=False).makespan_s
    assert merged == pytest.approx(separate, rel=1e-6)
    assert AnalyticEngine(catalog).replay(fabric, events).makespan_s <= merged * (1 + 1e-6)


def test_a_merged_class_loads_every_link_as_its_copies_do(build: Build, catalog: Catalog) -> None:
    fabric = build("dgx-h100", node_count=4)
    gpus = fabric.gpus
    # sends from nodes 0 and 1 to nodes 2 and 3, every GPU: one part per local GPU
    members = [[gpus[8 * n + r], gpus[8 * n + 16 + r]] for n in range(2) for r in range(8)]
    des = DiscreteEventEngine(catalog)
    index = EdgeIndex(fabric)
    analytic = des.analytic

    def load(bw: CommunicatorBandwidths) -> np.ndarray:
        algo, proto = analytic.choose(CollectiveOp.SENDRECV, bw, 2**28, None, None)
        _, flows = des.flows_of(index, CollectiveOp.SENDRECV, bw, algo, proto, 2**28, {})
        total = np.zeros(index.capacity.size)
        for _, incidence, _ in flows:
            np.add.at(total, incidence.edges, incidence.weights)
        return total

    parts = class_parts(fabric, catalog, members)
    assert [part.copies for part in parts] == [2] * 8
    separate = sum(load(analyse_communicator(fabric, catalog, gpus=m)) for m in members)
    assert np.allclose(sum(load(part.bandwidths) for part in parts), separate)
