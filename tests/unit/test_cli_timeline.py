"""train --engine des: what-ifs, the emitted trace and picture, and replaying that trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.workload.placement import choose_nodes, place_trace, repeat_trace
from interconnect_sim.workload.trace import read_trace
from tests.unit.test_cli import run

SMALL = [
    "train",
    "--model",
    "llama3-8b",
    "--system",
    "dgx-h100",
    "--nodes",
    "4",
    "--tp",
    "8",
    "--pp",
    "2",
    "--dp",
    "2",
    "--vpp",
    "2",
    "--global-batch",
    "8",
    "--seq",
    "4096",
    "--engine",
    "des",
]


def test_emitted_trace_replays_to_the_same_step(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "step.jsonl"
    code, out, _ = run(capsys, *SMALL, "--emit-trace", str(trace), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["timeline"]["trace_file"] == str(trace)
    assert Path(data["timeline"]["picture_file"]).stat().st_size > 10_000  # a PNG was drawn
    assert data["timeline"]["replay_command"].startswith("interconnect-sim replay")
    events = read_trace(trace)  # the project's own format, read back without errors
    assert {"forward", "backward", "tp", "pp", "dp", "optimizer"} <= {e.tag for e in events}
    code, out, _ = run(
        capsys, "replay", str(trace), "--system", "dgx-h100", "--nodes", "4", "--json"
    )
    assert code == 0
    assert json.loads(out)["makespan_s"] == pytest.approx(data["step_time_s"], rel=1e-9)


def test_a_straggler_is_compared_with_the_healthy_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--slow-node", "3=20%")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("what-if"))
    assert "node 3 20% slower" in line
    assert "absorbed by: stage 1 backward compute" in line  # node 3 holds stage 1


def test_a_degraded_nic_is_a_what_if_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--degrade-device", "n2/nic0", "25%", "--json")
    assert code == 0
    whatif = json.loads(out)["timeline"]["whatif"]
    assert whatif["description"] == "degraded n2/nic0 25%"
    assert whatif["change_s"] > 0  # the pipeline sends from node 0 to node 2 use that NIC


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "analytic", "--slow-node", "1=10%"], "--slow-node needs --engine des"),
        (["--slow-node", "9=10%"], "rank 72 is not in the job"),
        (["--slow-gpu", "3"], "is not INDEX=PCT"),
        (["--emit-trace", "/proc/nope/t.jsonl"], "--emit-trace"),
        (["--neighbour-trace", "x.jsonl", "--neighbour-nodes", "0-1"], "trace file not found"),
    ],
)
def test_bad_timeline_options_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = run(capsys, *SMALL, *extra)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_neighbour_job_on_other_nodes_shares_the_fabric(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    neighbour = tmp_path / "nb.jsonl"
    neighbour.write_text(
        '{"id": "ar", "op": "all_reduce", "bytes": "1 GiB", "ranks": "0-15", "start_s": 0}\n'
    )
    argv = [*SMALL[:6], "6", *SMALL[7:], "--neighbour-trace", str(neighbour)]
    code, out, _ = run(capsys, *argv, "--neighbour-placement", "spread", "--json")
    assert code == 0
    whatif = json.loads(out)["timeline"]["whatif"]
    assert "neighbour job nb.jsonl on 2 node(s) 4-5" in whatif["description"]
    # one leaf per rail, every job on its own NIC ports: the neighbour costs the step nothing
    assert whatif["change_s"] == pytest.approx(0.0, abs=1e-9)
    code, _, err = run(capsys, *argv, "--neighbour-nodes", "2-3")
    assert code == 2
    assert "the training job holds 0-3" in err


def test_placement_policies_and_copies_written_out() -> None:
    free = list(range(8, 32))
    assert choose_nodes("packed", 4, free) == [8, 9, 10, 11]
    assert choose_nodes("spread", 4, free) == [8, 14, 20, 26]
    assert choose_nodes("random", 4, free, seed=1) == choose_nodes("random", 4, free, seed=1)
    events = read_trace(
        "t.jsonl",
        lines=[
            '{"id": "a", "op": "all_reduce", "bytes": 8, "ranks": [0, 8], "copies": ["0-1"], '
            '"start_s": 0}',
            '{"id": "b", "op": "all_reduce", "bytes": 8, "ranks": [0, 8], "copies": ["0-1"], '
            '"after": ["a"]}',
        ],
    )
    placed = place_trace(repeat_trace(events, 2), [5, 9], 8)
    assert [e.id for e in placed][:3] == ["nb:a@0#0", "nb:a@0#1", "nb:b@0#0"]
    assert placed[1].ranks == (41, 73)  # copy 1 of ranks 0 and 8 on nodes 5 and 9
    assert placed[2].after == ("nb:a@0#0",)
    assert placed[4].after == ("nb:b@0#0",)  # each copy of run 2 waits for its copy of run 1


def test_the_straggler_scenario_runs_its_what_ifs(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = Path(__file__).parents[2] / "scenarios" / "llama3-8b-straggler.toml"
    code, out, _ = run(capsys, "train", "--scenario", str(scenario), "--json")
    assert code == 0
    timeline = json.loads(out)["timeline"]
    assert timeline["classes"] == [[0, 2, 3], [1]]  # node 5 is stage 1 of replica 1
    assert timeline["whatif"]["description"].startswith("node 5 10% slower; neighbour job")
    assert timeline["whatif"]["change_s"] > 0
