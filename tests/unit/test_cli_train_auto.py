"""train --layout auto, and --json repeating every input it used."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_cli import run

BASE = ["train", "--model", "llama3-8b", "--system", "dgx-h100", "--nodes", "2"]


def test_layout_auto_searches_and_json_repeats_the_inputs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, *BASE, "--layout", "auto", "--global-batch", "64", "--tokens", "1T", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    inputs = data["inputs"]
    assert inputs["layout_mode"] == "auto"
    assert inputs["fabric"] == {
        "system": "dgx-h100",
        "gpu": None,
        "nodes": 2,
        "scalable_units": None,
        "nic": None,
        "nic_count": None,
        "switch": None,
        "levels": None,
        "oversubscription": 1.0,
    }
    parallel = inputs["parallel"]
    assert parallel["tp"] * parallel["pp"] * parallel["cp"] * parallel["dp"] == 16
    assert parallel["global_batch"] == 64
    assert data["layout_search"]["evaluated"] >= len(data["layout_search"]["best"]) >= 1
    # The chosen layout is the search's best and the step printed is its step.
    assert data["step_time_s"] == pytest.approx(data["layout_search"]["best"][0]["step_time_s"])
    assert data["time_to_train"]["expected_interruptions"] > 0
    assert inputs["failures"]["restart"] is None  # defaults used, reported in time_to_train
    assert data["time_to_train"]["restart_s"] == 600


def test_layout_auto_keeps_the_knobs_the_user_fixed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, *BASE, "--layout", "auto", "--tp", "2", "--global-batch", "64", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["inputs"]["parallel"]["tp"] == 2
    assert all(b["layout"].startswith("tp 2,") for b in data["layout_search"]["best"])


def test_explicit_layout_json_repeats_its_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--tp", "8", "--pp", "1", "--global-batch", "32", "--json")
    assert code == 0
    inputs = json.loads(out)["inputs"]
    assert inputs["layout_mode"] == "explicit"
    assert inputs["parallel"]["dp"] == 2
    assert inputs["parallel"]["zero"] == 1
    assert inputs["engine"] == "analytic"


def test_layout_auto_text_output_names_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *BASE, "--layout", "auto", "--global-batch", "64")
    assert code == 0
    assert out.startswith("layout search:")
