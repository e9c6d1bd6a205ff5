"""Sweep files: expansion, linked axes, and one-line errors naming file, key and allowed values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.sweep import load_sweep, parse_sweep

SHIPPED = Path(__file__).parents[2] / "scenarios" / "sweeps" / "llama3-70b-sizing.toml"


def _sweep(**tables: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "design": {"model": "llama3-70b", "global_batch": 64, "system": "dgx-h100"},
        "axes": {"nodes": [2, 4]},
    }
    base.update(tables)
    return base


def test_shipped_sweep_expands_to_the_documented_designs() -> None:
    sweep = load_sweep(SHIPPED)
    points = list(sweep.points())
    assert sweep.size() == len(points) == 3 * 2 * 2 * 7
    xdr = [p for p in points if p.inputs["network"] == "xdr"]
    assert {p.inputs["nic"] for p in xdr} == {"connectx-8"}
    assert {p.inputs["switch"] for p in xdr} == {"q3400"}
    assert {p.inputs["oversubscription"] for p in points} == {1.0, 2.0}
    assert points[0].inputs["tokens"] == 15e12
    assert len({p.design_id for p in points}) == len(points)
    assert sweep.prices is not None
    assert sweep.prices.is_file()


def test_design_ids_are_stable_and_follow_every_input(tmp_path: Path) -> None:
    a = [p.design_id for p in parse_sweep(_sweep(), tmp_path / "a.toml").points()]
    b = [p.design_id for p in parse_sweep(_sweep(), tmp_path / "b.toml").points()]
    assert a == b
    changed = _sweep(design={"model": "llama3-70b", "global_batch": 128, "system": "dgx-h100"})
    assert [p.design_id for p in parse_sweep(changed, tmp_path / "c.toml").points()] != a


def test_reduced_axes_are_checked_like_the_file() -> None:
    sweep = load_sweep(SHIPPED).with_axes(gpus=[128], oversubscription=["2:1"])
    assert sweep.size() == 3 * 2 * 1 * 1
    assert {p.inputs["oversubscription"] for p in sweep.points()} == {2.0}
    with pytest.raises(ScenarioError, match=r"\[axes\]\.gpus\[0\]"):
        load_sweep(SHIPPED).with_axes(gpus=[0])


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            {"axes": {"nodez": [1]}},
            r"x\.toml: \[axes\]\.nodez: unknown key 'nodez' \(did you mean 'nodes'\?\); allowed:",
        ),
        ({"axes": {"nodes": [0]}}, r"\[axes\]\.nodes\[0\]: must be a whole number >= 1"),
        ({"axes": {"nodes": []}}, r"\[axes\]\.nodes: must be a non-empty list"),
        ({"axes": {"precision": ["fp4x"]}}, r"precision\[0\]: must be one of bf16, fp8"),
        ({"axes": {"oversubscription": ["2-1"]}}, r"must be a ratio such as"),
        ({"axes": {"gpus": [8], "nodes": [1]}}, r"exactly one of nodes, gpus or scalable_units"),
        ({"objective": {"minimize": "speed"}}, r"allowed: time_to_train, cost, energy"),
        ({"constraints": {"deadline": 90}}, r"\[constraints\]: must be a string with units"),
        ({"constraints": {"budgett": 1}}, r"\[constraints\]: allowed keys are"),
        ({"frobnicate": 1}, r"unknown top-level key\(s\) \['frobnicate'\]"),
        ({"axes": {"layout": [{"tp": 4}]}}, r"an explicit layout needs at least tp and pp"),
        ({"axes": {"layout": [{"tp": 4, "pp": 1, "vp": 2}]}}, r"unknown key\(s\) \['vp'\]"),
        ({"axes": {"network": [{"nic": 3}]}}, r"network\[0\]\.nic: must be a non-empty string"),
        ({"prices": "missing.toml"}, r"prices: file .* does not exist"),
        ({"recheck": {"engine": "analytic"}}, r"\[recheck\]\.engine: must be des"),
        ({"recheck": {"top": 0}}, r"\[recheck\]\.top: must be a whole number >= 1"),
        ({"recheck": {"variants": ["taper"]}}, r"\[recheck\]\.variants: \['taper'\] are not axes"),
        ({"recheck": {"per": ["sistem"]}}, r"\[recheck\]\.per: \['sistem'\] are not inputs"),
        ({"recheck": {"every": 1}}, r"\[recheck\]: allowed keys are engine, top, per, variants"),
        (
            {"axes": {"nodes": [2], "calibration": ["missing.toml"]}},
            r"\[axes\]\.calibration\[0\]: file .*missing\.toml' does not exist",
        ),
        (
            {"axes": {"nodes": [2], "search": [{"uneven_splits": 1}]}},
            r"\[axes\]\.search\[0\]: must be true or false",
        ),
    ],
)
def test_bad_sweeps_are_one_line_errors(
    tables: dict[str, Any], message: str, tmp_path: Path
) -> None:
    data = _sweep(**tables)
    if "axes" in tables and not any(k in tables["axes"] for k in ("nodes", "gpus")):
        data["axes"]["nodes"] = [2]
    with pytest.raises(ScenarioError, match=message) as info:
        parse_sweep(data, tmp_path / "x.toml")
    assert "\n" not in str(info.value)


def test_unreadable_or_empty_files_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ScenarioError, match=r"empty\.toml: the sweep file is empty"):
        load_sweep(empty)
    broken = tmp_path / "broken.toml"
    broken.write_text("[axes\n")
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML"):
        load_sweep(broken)
