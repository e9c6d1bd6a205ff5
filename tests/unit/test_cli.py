"""The command line: presets, topo summaries, JSON keys, drawings and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interconnect_sim.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on its own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_systems_lists_every_preset_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "systems")
    assert code == 0
    lines = out.strip().splitlines()
    ids = {line.split()[0] for line in lines}
    assert {"dgx-h100", "dgx-a100", "gb200-nvl72", "rtx4090-pcie-8x"} <= ids


@pytest.mark.parametrize(
    ("system", "nvlink"), [("dgx-h100", 450e9), ("dgx-a100", 300e9), ("dgx-b200", 900e9)]
)
def test_topo_json_reports_gpus_and_nvlink_per_gpu(
    capsys: pytest.CaptureFixture[str], system: str, nvlink: float
) -> None:
    code, out, _ = run(capsys, "topo", system, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["gpus"] == 8
    assert data["nodes"] == 1
    assert data["per_gpu_bandwidth_bytes_per_s"]["nvlink"] == nvlink
    assert {"nvlink", "pcie", "network"} <= set(data["per_gpu_bandwidth_bytes_per_s"])
    assert data["bisection_bandwidth_bytes_per_s"] > 0
    assert "nvswitch" in data["switches"]


def test_topo_superpod_json_switch_counts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "topo", "dgx-h100", "--scalable-units", "4", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["nodes"], data["gpus"]) == (127, 1016)
    assert (data["switches"]["leaf"], data["switches"]["spine"]) == (32, 16)


def test_topo_oversubscription_accepts_ratio_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    _, full, _ = run(capsys, "topo", "dgx-h100", "--nodes", "64", "--json")
    _, half, _ = run(
        capsys, "topo", "dgx-h100", "--nodes", "64", "--oversubscription", "2:1", "--json"
    )
    assert json.loads(half)["bisection_bandwidth_bytes_per_s"] == pytest.approx(
        json.loads(full)["bisection_bandwidth_bytes_per_s"] / 2
    )


def test_topo_text_shows_per_direction_and_bidirectional(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "topo", "dgx-h100")
    assert code == 0
    assert "450 GB/s" in out
    assert "900 GB/s" in out
    assert "Bisection" in out


def test_topo_draw_writes_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "fabric.png"
    code, _, _ = run(capsys, "topo", "dgx-h100", "--nodes", "4", "--draw", str(target))
    assert code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(
    "argv",
    [
        ["topo", "dgx-h1000"],
        ["topo", "dgx-h100", "--nodes", "0"],
        ["topo", "dgx-h100", "--nodes", "two"],
        ["topo", "dgx-h100", "--oversubscription", "fast"],
        ["topo", "dgx-h100", "--nvlink-lanes", "9"],
        ["topo", "dgx-h100", "--nic", "connectx-99"],
        ["topo", "dgx-h100", "--fail-device", "n0/nvsw9"],
        ["topo", "dgx-h100", "--draw", "/dev/null/folder/x.png"],
        ["topo", "dgx-h100", "--draw", "pod"],
        ["topo", "dgx-h100", "--draw", "pod.jpeg2000"],
        ["topo", "rtx4090-pcie-8x", "--scalable-units", "2"],
        ["bogus"],
    ],
)
def test_user_errors_are_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_docs_catalog_is_generated_from_the_current_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "specs", "--markdown")
    assert code == 0
    docs = Path(__file__).parents[2] / "docs" / "catalog.md"
    assert docs.read_text() == out, (
        "regenerate: interconnect-sim specs --markdown > docs/catalog.md"
    )


def test_specs_lists_every_spec_with_inferred_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "specs")
    assert code == 0
    assert "nvswitch-2" in out
    assert "inferred: port_count" in out


def test_the_command_list_shows_each_command_s_own_summary() -> None:
    """`--help` lists every command without importing it; the lines are the modules' own."""
    import argparse

    from interconnect_sim.cli import COMMANDS, _build_parser

    for command, (*_, summary) in COMMANDS.items():
        parser = _build_parser(command)
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        helps = {choice.dest: choice.help for choice in actions[0]._choices_actions}
        assert helps[command] == summary, command
        assert list(helps) == list(COMMANDS)


def test_help_and_small_commands_load_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from interconnect_sim.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pandas', 'matplotlib', 'simpy', 'networkx', 'numpy', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_help_prints_plain_percent_signs(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse formats help strings with %, not descriptions: a doubled %% would show."""
    with pytest.raises(SystemExit) as top:
        main(["--help"])
    assert top.value.code == 0
    listing = capsys.readouterr().out
    commands = listing.split("{", 1)[1].split("}", 1)[0].split(",")
    assert len(commands) >= 10
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0, command
        text = capsys.readouterr().out
        assert "%%" not in text, command
        assert text.startswith("usage:"), command
