"""Output files: whole or not at all, with the user's umask, checked before work starts."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.files import (
    check_output_file,
    check_output_folder,
    read_text_file,
    write_atomically,
    write_folder_atomically,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_file_follows_the_umask(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "out.csv"
    write_atomically(target, lambda tmp: tmp.write_text("a,b\n"))
    assert target.read_text() == "a,b\n"
    assert _mode(target) == 0o644
    os.umask(0o077)
    write_atomically(target, lambda tmp: tmp.write_text("c\n"))
    assert _mode(target) == 0o600


def test_temporary_name_keeps_the_real_suffix(tmp_path: Path) -> None:
    seen: list[str] = []
    write_atomically(tmp_path / "pod.png", lambda tmp: seen.append(tmp.name) or tmp.touch())
    assert seen[0].endswith("pod.png")
    assert Path(seen[0]).suffix == ".png"


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, fail)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_folder_is_swapped_in_whole(tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "stale.png").write_text("from an older run")

    def fill(folder: Path) -> None:
        (folder / "summary.csv").write_text("x\n")

    write_folder_atomically(out, fill)
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
    assert _mode(out) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_failed_folder_write_keeps_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.csv").write_text("x\n")

    def fail(folder: Path) -> None:
        (folder / "new.csv").write_text("y\n")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_folder_atomically(out, fail)
    assert sorted(p.name for p in out.iterdir()) == ["old.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_output_checks_create_missing_folders(tmp_path: Path) -> None:
    check_output_file(tmp_path / "a" / "b" / "x.csv", "--csv")
    assert (tmp_path / "a" / "b").is_dir()
    check_output_folder(tmp_path / "c" / "report", "--out")
    assert (tmp_path / "c").is_dir()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("README.md/out", "is a file"),
        ("folder", "is a folder"),
    ],
)
def test_output_checks_name_the_option(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ScenarioError, match=f"--out: .*{message}"):
        check_output_file(tmp_path / name / "x.csv" if "/" in name else tmp_path / name, "--out")


def test_drawing_suffix_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"--draw: .*\.png"):
        check_output_file(tmp_path / "pod", "--draw", suffixes=(".png", ".svg"))


def test_read_text_file_reports_bad_bytes_and_empty_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'a = 1\nb = "\xff"\n')
    with pytest.raises(ScenarioError, match=r"bad.toml: line 2: not UTF-8"):
        read_text_file(bad, "scenario")
    empty = tmp_path / "empty.toml"
    empty.write_text("  \n")
    with pytest.raises(ScenarioError, match="empty"):
        read_text_file(empty, "scenario")
    with pytest.raises(ScenarioError, match="not found"):
        read_text_file(tmp_path / "missing.toml", "scenario")
