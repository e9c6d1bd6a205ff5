"""PyTorch profiler and Chakra traces become the project's trace, and replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.cli import main
from interconnect_sim.errors import TraceError
from interconnect_sim.importers.protobuf_wire import ProtobufError, fields, varint_messages
from interconnect_sim.importers.pytorch_trace import collective_op
from interconnect_sim.importers.traces import load_trace
from interconnect_sim.workload.trace import read_trace

DATA = Path(__file__).parents[1] / "data" / "importers"
PYTORCH = sorted((DATA / "pytorch-4rank").iterdir())
CHAKRA = sorted((DATA / "chakra-4rank").iterdir())

# What the samples' rank files hold (tests/data/importers/README.md): per rank, two TP
# all-reduces of 8 Mi bf16 elements, a DP reduce-scatter of 32 Mi elements in, an all-gather of
# 16 Mi elements in, a barrier; rank 0 sends 256 Ki bf16 elements to rank 2.
EXPECTED = [
    ("all_reduce", 16777216, (0, 1)),
    ("all_reduce", 16777216, (2, 3)),
    ("all_reduce", 16777216, (0, 1)),
    ("all_reduce", 16777216, (2, 3)),
    ("reduce_scatter", 67108864, (0, 2)),
    ("reduce_scatter", 67108864, (1, 3)),
    ("all_gather", 67108864, (0, 2)),
    ("all_gather", 67108864, (1, 3)),
    ("sendrecv", 524288, (0, 2)),
]


def _summary(calls):  # type: ignore[no-untyped-def]
    return [(c.op.value, c.size_bytes, c.ranks) for c in calls]


def test_four_rank_pytorch_trace_keeps_calls_groups_and_gaps() -> None:
    trace = load_trace(PYTORCH)
    assert trace.kind == "pytorch"
    assert _summary(trace.calls) == EXPECTED
    by_id = {c.id: c for c in trace.calls}
    second = by_id["all_reduce-tp@0-1"]
    assert second.after == ("all_reduce-tp@0-0",)
    assert second.compute_s == pytest.approx(0.002)  # the GELU kernel between them
    scatter = by_id["reduce_scatter-dp@0-0"]
    # waits for both TP groups' last all-reduce; the slower rank (2) computed 4.12 ms
    assert scatter.after == ("all_reduce-tp@0-1", "all_reduce-tp@2-1")
    assert scatter.compute_s == pytest.approx(0.00412)
    assert by_id["sendrecv-0to2-0"].p2p_comm == "pairs"
    assert "barrier" in " ".join(trace.notes)


def test_metadata_on_cpu_op_links_to_kernel_time() -> None:
    trace = load_trace([DATA / "pytorch-2.1-rank0.pt.trace.json"])
    first = trace.calls[0]
    assert (first.op.value, first.size_bytes, first.start_s) == ("all_reduce", 16777216, 0.002)
    assert "traces of 1 of 4 ranks" in " ".join(trace.notes)


def test_old_trace_sizes_estimated_from_shapes_with_a_note() -> None:
    trace = load_trace([DATA / "pytorch-old-rank0.pt.trace.json.gz"])
    assert [c.op.value for c in trace.calls[:4]] == [
        "all_reduce",
        "all_reduce",
        "reduce_scatter",
        "all_gather",
    ]
    assert trace.calls[0].size_bytes == 16777216
    assert trace.calls[2].size_bytes == 67108864  # the recorded 32 Mi bf16 input
    assert trace.calls[0].ranks == (0, 1, 2, 3)  # group unknown: the whole job
    assert "sizes estimated from the recorded input shapes" in " ".join(trace.notes)


def test_chakra_binary_and_json_agree_with_the_profiler_view() -> None:
    trace = load_trace(CHAKRA)
    assert trace.kind == "chakra"
    assert sorted(_summary(trace.calls)) == sorted(EXPECTED[:-1])  # no peer for send/recv
    assert "send/receive node(s) left out" in " ".join(trace.notes)
    scatter = next(c for c in trace.calls if c.id.startswith("reduce_scatter-dp0"))
    assert scatter.compute_s == pytest.approx(0.00408)  # rank 2's 4.08 ms backward node
    two = load_trace(sorted(DATA.glob("chakra-json-2rank.*.json")))
    assert [c.op.value for c in two.calls] == [
        "all_reduce",
        "all_reduce",
        "reduce_scatter",
        "all_gather",
    ]


def test_chakra_group_needs_every_ranks_file() -> None:
    with pytest.raises(TraceError, match="give every rank's Chakra trace"):
        load_trace(CHAKRA[:1])


def test_round_trip_profiler_to_jsonl_to_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "job.jsonl"
    assert main(["import-trace", *map(str, PYTORCH), "--out", str(out)]) == 0
    written = read_trace(out)
    assert _summary(written) == EXPECTED
    capsys.readouterr()
    code = main(["replay", str(out), "--system", "dgx-h100", "--engine", "both", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    replayed = [(c["id"], c["op"], c["bytes"]) for c in result["calls"]]
    assert replayed == [(c.id, c.op.value, c.size_bytes) for c in written]
    direct = main(["replay", *map(str, PYTORCH), "--system", "dgx-h100", "--json"])
    assert direct == 0
    assert json.loads(capsys.readouterr().out)["calls"] == result["calls"]


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("allreduce", "all_reduce"),
        ("_allgather_base", "all_gather"),
        ("allgather_into_tensor_coalesced", "all_gather"),
        ("_reduce_scatter_base", "reduce_scatter"),
        ("all_to_allv", "alltoall"),
        ("send", "sendrecv"),
        ("barrier", None),
    ],
)
def test_pytorch_collective_names(name: str, op: str | None) -> None:
    found = collective_op(name)
    assert (found.value if found else None) == op


def test_protobuf_wire_rejects_truncated_messages() -> None:
    assert list(fields(bytes([0x08, 0x01]))) == [(1, 0, 1)]
    with pytest.raises(ProtobufError):
        list(fields(bytes([0x12, 0x05, 0x61])))
    with pytest.raises(ProtobufError):
        list(varint_messages(bytes([0x05, 0x01])))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"traceEvents": [{"ph": "X", "name": "k", "ts": "soon"}]}', "bad ts or dur"),
        (b'{"traceEvents": 3}', "needs a 'traceEvents' list"),
        (b'{"traceEvents": [', "not valid JSON"),
        (b"\x05\x0a\x03", "not a Chakra execution trace"),
        (b"", "is empty"),
    ],
)
def test_bad_traces_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, message: str
) -> None:
    path = tmp_path / "rank0.json"
    path.write_bytes(data)
    code = main(["replay", str(path), "--system", "dgx-h100"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
