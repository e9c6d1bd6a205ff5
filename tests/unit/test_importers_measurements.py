"""nccl-tests logs and JSON, and NCCL Inspector files, become measurement rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.cli import main
from interconnect_sim.errors import MeasurementError
from interconnect_sim.importers import RunDefaults, detect_format, load_measurement_files
from interconnect_sim.importers.nccl_tests_text import read_nccl_tests_text
from interconnect_sim.specs import Catalog

DATA = Path(__file__).parents[1] / "data" / "importers"
H100 = RunDefaults(system="dgx-h100")

HEADER = (
    "#       size         count      type   redop    root     time   algbw   busbw #wrong"
    "     time   algbw   busbw #wrong\n"
)
ROW = (
    "     1048576        262144     float     sum      -1    40.12   26.14   49.01      0"
    "    40.01   26.21   49.14      0\n"
)
RANKS = "".join(
    f"#  Rank {r:2d} Group  0 Pid   1000 on      node{r // 4} device {r % 4:2d} [0x1{r}] "
    "NVIDIA H100 80GB HBM3\n"
    for r in range(8)
)
FOOTER = "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 49.01 \n#\n"


def _log(tmp_path: Path, body: str, name: str = "all_reduce_perf.log") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def _load(catalog: Catalog, *paths: Path, defaults: RunDefaults = H100):  # type: ignore[no-untyped-def]
    return load_measurement_files(list(paths), catalog, defaults)


def test_two_node_log_keeps_shape_version_and_nccl_choices(catalog: Catalog) -> None:
    result = _load(catalog, DATA / "all_reduce_perf-2x8-h100.log")
    frame = result.frame
    assert len(frame) == 31  # 8 B .. 8 GiB, factor 2
    assert set(frame["op"]) == {"all_reduce"}
    assert (frame["nodes"].unique().tolist(), frame["gpus_per_node"].unique().tolist()) == (
        [2],
        [8],
    )
    last = frame.iloc[-1]
    assert (last["bytes"], last["time_us"], last["busbw_GBps"]) == (8589934592.0, 44148.0, 364.82)
    assert set(frame["nccl_version"]) == {"2.18.5"}
    by_size = frame.set_index("bytes")
    assert tuple(by_size.loc[1073741824.0, ["nccl_algo", "nccl_proto"]]) == ("ring", "simple")
    assert tuple(by_size.loc[8.0, ["nccl_algo", "nccl_proto"]]) == ("tree", "ll")
    assert by_size.loc[16.0, "nccl_algo"] == ""  # NCCL's log said nothing for this size
    assert "NET/IB : Using [0]mlx5_0:1/IB" in last["source_note"]
    assert result.notes == []


def test_2019_format_without_redop_root_and_with_error_column(catalog: Catalog) -> None:
    frame = _load(
        catalog,
        DATA / "all_gather_perf-dgx1-v100-2019.log",
        defaults=RunDefaults(system="dgx1-v100"),
    ).frame
    assert set(frame["op"]) == {"all_gather"}  # from the file name: the log does not say
    assert (frame.loc[0, "nodes"], frame.loc[0, "gpus_per_node"]) == (1, 8)
    assert frame.loc[0, "bytes"] == 64.0
    assert frame.loc[0, "time_us"] == 9.47


def test_crashed_run_keeps_complete_rows_and_says_so(catalog: Catalog) -> None:
    result = _load(catalog, DATA / "reduce_scatter_perf-4x8-crashed.log")
    frame = result.frame
    assert len(frame) == 9  # 1 MiB .. 256 MiB; the 512 MiB row was cut short
    assert frame["bytes"].max() == 268435456.0
    assert (frame.loc[0, "nodes"], frame.loc[0, "gpus_per_node"]) == (4, 8)
    assert set(frame["algo"]) == {"ring"}  # NCCL_ALGO set by environment to Ring
    assert set(frame["nccl_version"]) == {"2.26.2"}
    notes = " ".join(result.notes)
    assert "stopped before its '# Avg bus bandwidth' footer" in notes
    assert "line 52: incomplete last result row dropped" in notes
    assert "Test NCCL failure" in notes


def test_json_output_of_minus_j(catalog: Catalog) -> None:
    frame = _load(catalog, DATA / "alltoall_perf-1x8-h100.json").frame
    assert set(frame["op"]) == {"alltoall"}
    assert set(frame["nccl_version"]) == {"2.27.3"}  # version code 22703
    assert set(frame["proto"]) == {"simple"}  # NCCL_PROTO=Simple in its env list
    assert (frame.loc[0, "nodes"], frame.loc[0, "gpus_per_node"]) == (1, 8)
    assert frame["bytes"].tolist() == [1024.0 * 8**k for k in range(7)]


def test_truncated_json_keeps_completed_results(catalog: Catalog, tmp_path: Path) -> None:
    text = (DATA / "alltoall_perf-1x8-h100.json").read_text()
    cut = text[: text.index('{"size":4194304')] + '{"size":4194304,"count":13'
    result = _load(catalog, _log(tmp_path, cut, "alltoall_perf.json"))
    assert len(result.frame) == 4
    assert "stops after 4 results" in " ".join(result.notes)


def test_inspector_takes_slowest_rank_and_nccl_tests_sizes(catalog: Catalog) -> None:
    files = sorted((DATA / "nccl-inspector-4711").iterdir())
    frame = _load(catalog, *files).frame
    assert (frame["nodes"].unique().tolist(), frame["gpus_per_node"].unique().tolist()) == (
        [2],
        [1],
    )
    gather = frame[frame["op"] == "all_gather"].sort_values("bytes")
    # Inspector's AllGather size is the per-rank buffer: nccl-tests' size is twice it.
    assert gather["bytes"].tolist() == [2 * 8388608.0, 2 * 134217728.0]
    row = gather.iloc[0]
    assert row["busbw_GBps"] == pytest.approx(row["bytes"] / row["time_us"] / 1e3 * 0.5)


def test_inspector_time_is_median_of_the_slowest_ranks(catalog: Catalog, tmp_path: Path) -> None:
    def record(rank: int, sn: int, time: int) -> str:
        return (
            f'{{"header":{{"id":"0xab","rank":{rank},"n_ranks":2,"nnodes":1}},'
            f'"metadata":{{}},"coll_perf":{{"coll":"AllReduce","coll_sn":{sn},'
            f'"coll_msg_size_bytes":1048576,"coll_exec_time_us":{time}}}}}\n'
        )

    a = _log(tmp_path, record(0, 1, 10) + record(0, 2, 30) + record(0, 3, 20), "a.log")
    b = _log(tmp_path, record(1, 1, 12) + record(1, 2, 25) + record(1, 3, 50), "b.log")
    frame = _load(catalog, a, b).frame
    assert frame["time_us"].tolist() == [30.0]  # slowest ranks 12, 30, 50 -> median 30


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        ("[1,0]<stdout>:", ""),  # mpirun --tag-output
        ("0: ", ""),  # srun -l
        ("2026-03-02T10:14:51.123Z ", ""),  # kubectl logs --timestamps
    ],
)
def test_launcher_prefixes_are_ignored(
    catalog: Catalog, tmp_path: Path, prefix: str, suffix: str
) -> None:
    body = RANKS + "#\n" + HEADER + ROW + FOOTER
    text = "".join(prefix + line + suffix + "\n" for line in body.splitlines())
    frame = _load(catalog, _log(tmp_path, text)).frame
    assert (frame.loc[0, "nodes"], frame.loc[0, "gpus_per_node"], frame.loc[0, "busbw_GBps"]) == (
        2,
        4,
        49.01,
    )


def test_variants_timestamps_per_iteration_and_in_place_only(tmp_path: Path) -> None:
    header = (
        "#       size         count      type   redop    root     time   algbw   busbw #wrong"
        "    i_min    i_max    i_p99    i_cv%     time   algbw   busbw #wrong    i_min    i_max"
        "    i_p99    i_cv%            timestamp\n"
    )
    row = (
        "     1048576        262144     float     sum      -1    40.12   26.14   49.01      0"
        "    39.10    44.02    44.00     2.10    40.01   26.21   49.14      0    39.20    43.90"
        "    43.80     2.00  2026-03-02 10:14:51\n"
    )
    in_place_only = (
        "     2097152        524288     float     sum      -1"
        + " " * 60
        + "   70.50   29.75   55.78"
        "      0\n"
    )
    runs = read_nccl_tests_text(HEADER + ROW + FOOTER + header + row + FOOTER, "x.log")
    assert [r.rows[0].busbw_gbps for r in runs] == [49.01, 49.01]
    runs = read_nccl_tests_text(HEADER + in_place_only + FOOTER, "x.log")
    assert runs[0].rows[0].in_place
    assert runs[0].rows[0].busbw_gbps == 55.78


def test_split_groups_describe_one_group(catalog: Catalog, tmp_path: Path) -> None:
    ranks = "".join(
        f"#  Rank {r:2d} Group {r % 2:2d} Pid   1000 on      node{r // 4} device {r % 4:2d} "
        "[0x10] NVIDIA H100 80GB HBM3\n"
        for r in range(8)
    )
    result = _load(catalog, _log(tmp_path, ranks + HEADER + ROW + FOOTER))
    assert (result.frame.loc[0, "nodes"], result.frame.loc[0, "gpus_per_node"]) == (2, 2)
    assert "2 groups of ranks ran at once" in result.notes[0]


@pytest.mark.parametrize(
    ("body", "defaults", "message"),
    [
        (HEADER + ROW + FOOTER, H100, "does not list its ranks and hosts; give --nodes"),
        (RANKS + HEADER + ROW + FOOTER, RunDefaults(), r"give --system .*NVIDIA H100 80GB HBM3"),
        (RANKS + HEADER + ROW + FOOTER, RunDefaults(system="dgx-h100", nodes=4), "--nodes 4"),
        (ROW + HEADER + ROW, H100, r"line 1: a result row before nccl-tests' column header"),
        (
            RANKS + HEADER + ROW.replace("40.12", "4o.12") + ROW + FOOTER,
            H100,
            r"line 10: time '4o.12' is not a number",
        ),
        (
            RANKS + HEADER + ROW[:60] + "\n" + ROW + FOOTER,
            H100,
            r"line 10: expected 13 fields \(size count type redop root time",
        ),
        (RANKS + HEADER + ROW.replace("49.01", "1e999") + FOOTER, H100, "finite"),
        (RANKS + HEADER.replace(" time ", " cputime ") + ROW, H100, "CPU time"),
        (
            "#  Rank  0 Group  0 Pid   1000 on      node0 device  0 [0x10] X\n"
            + HEADER
            + ROW
            + FOOTER,
            H100,
            "the run has 1 rank",
        ),
        (
            RANKS.replace("node1 device  3", "node0 device  4") + HEADER + ROW + FOOTER,
            H100,
            r"ranks per host differ \(node0: 5, node1: 3\)",
        ),
        ("hello\nworld\n", H100, "not a measurement file this tool reads"),
    ],
)
def test_bad_logs_give_file_line_and_what_was_expected(
    catalog: Catalog, tmp_path: Path, body: str, defaults: RunDefaults, message: str
) -> None:
    path = _log(tmp_path, body)
    with pytest.raises(MeasurementError, match=message) as info:
        _load(catalog, path, defaults=defaults)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_detect_format_tells_the_four_formats_apart() -> None:
    assert detect_format((DATA / "all_reduce_perf-2x8-h100.log").read_text()) == "nccl-tests"
    assert detect_format((DATA / "alltoall_perf-1x8-h100.json").read_text()) == "nccl-tests-json"
    inspector = next((DATA / "nccl-inspector-4711").iterdir()).read_text()
    assert detect_format(inspector) == "inspector"
    assert detect_format("system,nodes,gpus_per_node,op,bytes,time_us,busbw_GBps\n") == "csv"


def test_cli_validate_takes_logs_and_csv_together(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "system,nodes,gpus_per_node,op,bytes,time_us,busbw_GBps\n"
        "dgx-a100,1,8,all_reduce,1073741824,4500,417\n"
    )
    log = DATA / "all_reduce_perf-2x8-h100.log"
    code = main(["validate", "--measurements", str(log), str(csv), "--system", "dgx-h100"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "dgx-h100" in out
    assert "dgx-a100" in out


def test_cli_bad_log_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _log(tmp_path, RANKS + HEADER + ROW.replace("40.12", "x") + ROW + FOOTER)
    code = main(["validate", "--measurements", str(path), "--system", "dgx-h100"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1
    assert f"{path}, line 10" in err


def test_empty_measurement_file_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code = main(["validate", "--measurements", str(empty)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "is empty" in err


def test_readme_three_commands_log_to_calibrated_model_and_plots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = str(DATA / "all_reduce_perf-2x8-h100.log")
    common = ["--measurements", log, "--system", "dgx-h100"]
    assert main(["validate", *common, "--json"]) == 0
    before = json.loads(capsys.readouterr().out)["overall"]["median_abs_pct_error_busbw"]
    calibration = tmp_path / "my-cluster.toml"
    assert main(["calibrate", *common, "--out", str(calibration)]) == 0
    capsys.readouterr()
    plots = tmp_path / "plots"
    args = ["validate", *common, "--calibration", str(calibration), "--plots", str(plots)]
    assert main([*args, "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["overall"]["median_abs_pct_error_busbw"]
    assert after < before / 2
    assert [p.suffix for p in plots.iterdir()] == [".png"]
