"""report.html in a real browser: headless Chromium (Debian's package) through Playwright.

The page must draw every plot, log no console error, and make no request outside the file itself.
Skipped, with the reason, only where Chromium or Playwright is missing (``make test`` installs
Chromium when it can).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interconnect_sim.report.scenario_report import write_report
from interconnect_sim.scenarios import parse_scenario, run_scenario

SCENARIO = """
kind = "collective"
name = "browser check"
description = "all-reduce on two DGX H100, with the measured points of the shipped data"
[fabric]
system = "dgx-h100"
nodes = 2
[collective]
op = "all_reduce"
min-bytes = "1K"
max-bytes = "1G"
step-factor = 4
"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip("no chromium on PATH (make test installs Debian's package when run as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_scenario(parse_scenario(SCENARIO))
    return write_report(result, tmp_path_factory.mktemp("report") / "browser-check")


def test_report_opens_offline_with_plots_drawn(browser: Any, report: Path) -> None:
    page = browser.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file://", "data:", "about:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(report.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.plot .main-svg').length >= "
        "document.querySelectorAll('.plot').length",
        timeout=30_000,
    )
    plots = page.locator(".plot")
    assert plots.count() == 2  # busbw and time against size
    for index in range(plots.count()):
        plot = plots.nth(index)
        assert plot.locator(".scatterlayer .trace").count() >= 1, f"plot {index} has no trace"
        axis_titles = plot.locator(".g-xtitle, .g-ytitle").all_text_contents()
        assert any("bytes" in t for t in axis_titles), axis_titles
        assert any("(GB/s" in t or "(us)" in t for t in axis_titles), axis_titles
    assert page.locator(".drawing svg").count() == 1  # the fabric, inline
    assert "What limits it" in page.inner_text(".bottleneck")
    assert page.locator("#provenance tbody tr").count() > 20
    assert page.locator("#validation tbody tr").count() >= 1
    page.close()
    assert not outside, f"the report asked the network for {outside}"
    assert not errors, f"console errors: {errors}"


def test_plots_answer_hover(browser: Any, report: Path) -> None:
    page = browser.new_page()
    page.goto(report.as_uri())
    page.wait_for_selector("#plot-0 .main-svg")
    box = page.locator("#plot-0 .nsewdrag").first.bounding_box()
    assert box is not None
    # sweep across the plot area: somewhere a point is under the mouse and a label appears
    for step in range(1, 40):
        page.mouse.move(box["x"] + box["width"] * step / 40, box["y"] + box["height"] * 0.5)
        page.wait_for_timeout(50)  # plotly answers a hover on its next frame; a busy machine lags
        if page.locator("#plot-0 .hoverlayer .hovertext").count():
            break
    assert page.locator("#plot-0 .hoverlayer .hovertext").count() >= 1
    assert "GB/s" in (page.locator("#plot-0 .hoverlayer").text_content() or "")
    page.close()


TIMELINE_SCENARIO = """
kind = "training"
name = "timeline check"
description = "Llama 3 8B on two DGX H100 as a timeline, node 1 10 % slower"
model = "llama3-8b"
[fabric]
system = "dgx-h100"
nodes = 2
[parallel]
tp = 8
pp = 2
global-batch = 8
seq = 2048
[training]
engine = "des"
[whatif]
slow-node = ["1=10%"]
"""


def test_step_timeline_is_drawn_lane_by_lane(browser: Any, tmp_path: Path) -> None:
    result = run_scenario(parse_scenario(TIMELINE_SCENARIO))
    report = write_report(result, tmp_path / "timeline-check")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_selector("#plot-0 .main-svg")
    assert page.locator("#plot-0 .barlayer .point").count() > 20  # one bar per event
    lanes = page.locator("#plot-0 .ytick").all_text_contents()
    assert set(lanes) >= {"stage 0", "stage 1"}, lanes
    assert "What-if (node 1 10% slower)" in page.inner_text("body")
    page.close()
    assert not errors, errors
