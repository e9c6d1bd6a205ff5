"""Regenerate the figures in docs/images from the shipped data and calibration.

Run: ``.venv/bin/python docs/make_figures.py``. The report screenshot needs Chromium
(``make browser`` installs Debian's package); without it that one image is left as it is.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import shutil
import subprocess
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import interconnect_sim as ics
from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.report.plots import plot_busbw_vs_size
from interconnect_sim.report.step_timeline import plot_step_timeline
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from interconnect_sim.training.compute import load_compute_calibration
from interconnect_sim.training.model import load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step_timeline import timeline_step
from interconnect_sim.validation.crossval import generation_of
from interconnect_sim.validation.fit import fit_calibration
from interconnect_sim.validation.measurements import fabric_request, load_measurements

HERE = Path(__file__).parent
PANELS = [
    # title, fabric request, GPUs per node, measured-system filter
    (
        "2 x DGX H100 (8x NDR IB): all_reduce",
        FabricRequest(system="dgx-h100", node_count=2),
        8,
        ("Nebius", "Dell XE9680"),
    ),
    (
        "2 x DGX A100 (8x HDR IB): all_reduce",
        FabricRequest(system="dgx-a100", node_count=2),
        8,
        ("Azure AKS", "Crusoe"),
    ),
    (
        "2x RTX 2080 Ti, PCIe 3, P2P off: all_reduce",
        FabricRequest(system="rtx2080ti-pcie-8x"),
        2,
        ("AutoDL",),
    ),
]


def drawings() -> None:
    """The topology gallery: a 4-SU DGX H100 SuperPOD (grouped) and one DGX H100 (every device)."""
    catalog = ics.load_catalog()
    for name, request in (
        (
            "topology-dgx-h100-superpod-4su.png",
            ics.FabricRequest(system="dgx-h100", scalable_units=4),
        ),
        ("topology-dgx-h100.png", ics.FabricRequest(system="dgx-h100")),
    ):
        figure, ax = plt.subplots(figsize=(12, 6.5), layout="constrained")
        ics.draw_fabric(ics.build_fabric(catalog, request), ax)
        figure.savefig(HERE / "images" / name, dpi=100)
        plt.close(figure)


def report_screenshot() -> None:
    """The flagship scenario's report.html as Chromium renders it (top of the page)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium: docs/images/report-flagship.png left as it is")
        return
    scenario = HERE.parent / "scenarios" / "llama3-70b-h100-superpod.toml"
    with tempfile.TemporaryDirectory() as tmp:
        report = ics.write_report(ics.run_scenario(scenario), Path(tmp) / "flagship")
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1280,1700",
                f"--screenshot={HERE / 'images' / 'report-flagship.png'}",
                report.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def timeline_report_screenshot() -> None:
    """The interactive step timeline of the straggler scenario's report, as Chromium draws it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium: docs/images/report-step-timeline.png left as it is")
        return
    from playwright.sync_api import sync_playwright

    scenario = HERE.parent / "scenarios" / "llama3-8b-straggler.toml"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        report = ics.write_report(ics.run_scenario(scenario), Path(tmp) / "straggler")
        chromium = playwright.chromium.launch(
            executable_path=browser, args=["--no-sandbox", "--disable-gpu"]
        )
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        page.wait_for_selector("#plot-0 .main-svg")
        page.locator("#plot-0").screenshot(path=HERE / "images" / "report-step-timeline.png")
        chromium.close()


def main() -> None:
    drawings()
    report_screenshot()
    timeline_report_screenshot()
    catalog = load_catalog()
    engine = AnalyticEngine(catalog)
    measured = load_measurements(catalog=catalog)
    measured = measured[measured["op"] == "all_reduce"]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    for ax, (title, request, gpus, names) in zip(axes, PANELS, strict=True):
        fabric = build_fabric(catalog, request)
        sizes = 2.0 ** np.arange(10, 34.01, 0.25)
        estimate = engine.estimate(fabric, CollectiveOp.ALL_REDUCE, sizes, gpus_per_node=gpus)
        curve = pd.DataFrame({"bytes": sizes, "busbw_GBps": estimate.busbw_bytes_per_s / 1e9})
        rows = measured[
            measured["measured_system"].str.contains("|".join(names))
            & (measured["nodes"] == (request.node_count or 1))
            & (measured["gpus_per_node"] == gpus)
            & (measured["bytes"] >= 2**10)
        ]
        plot_busbw_vs_size(
            ax, curve, rows[["bytes", "busbw_GBps"]], label="predicted (analytic, auto algorithm)"
        )
        ax.set_title(title, fontsize=10)
    figure.savefig(HERE / "images" / "busbw-h100-a100-pcie.png", dpi=110)
    plt.close(figure)
    step_timeline(catalog)


def step_timeline(catalog: Catalog) -> None:
    """The step of docs/design/timeline.md: Llama 3 8B, TP 8, PP 4, VPP 2 on 8 DGX H100, with
    node 5 (stage 2 of the second replica) 10 % slower."""
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=8))
    parallel = ParallelConfig(tp=8, pp=4, dp=2, vpp=2, global_batch=32, seq_len=4096)
    slow = dict.fromkeys(range(40, 48), 1.1)
    _, run = timeline_step(
        load_model("llama3-8b"), parallel, fabric, catalog, load_compute_calibration(),
        check_memory=False, slow_ranks=slow,
    )  # fmt: skip
    title = (
        "Llama 3 8B, TP 8, PP 4, VPP 2, DP 2 on 8 DGX H100, node 5 10 % slower: "
        f"{run.step_s * 1e3:.0f} ms"
    )
    figure, ax = plt.subplots(figsize=(12, 4.2), layout="constrained")
    plot_step_timeline(ax, run.result.calls, run.trace.lanes, step_s=run.step_s, title=title)
    figure.savefig(HERE / "images" / "step-timeline.png", dpi=110)
    plt.close(figure)


_PANELS_PER_GENERATION = 6


def _groups(rows: pd.DataFrame) -> list[tuple[tuple[object, ...], pd.DataFrame]]:
    """The generation's communicators with the most measured sizes (forced algorithms apart)."""
    keys = ["system", "nic", "nic_count", "p2p", "nodes", "gpus_per_node", "op", "algo"]
    groups = [(k, g) for k, g in rows.groupby(keys, sort=True) if len(g) >= 3]
    groups.sort(key=lambda item: -len(item[1]))
    return groups[:_PANELS_PER_GENERATION]


def _curve(engine: AnalyticEngine, rows: pd.DataFrame, sizes: np.ndarray) -> pd.DataFrame:
    first = rows.iloc[0]
    fabric = build_fabric(engine.catalog, fabric_request(first))
    op = CollectiveOp(first["op"])
    p2p = op in (CollectiveOp.ALLTOALL, CollectiveOp.SENDRECV)
    estimate = engine.estimate(
        fabric,
        op,
        sizes,
        gpus_per_node=int(first["gpus_per_node"]),
        algorithm=None if p2p else first["algo"] or None,
    )
    return pd.DataFrame({"bytes": sizes, "busbw_GBps": estimate.busbw_bytes_per_s / 1e9})


def generation_figures(only: set[str] | None = None) -> None:
    """One figure per GPU generation (or those in ``only``): measured points, the shipped model
    (in sample) and the model fitted without that generation (out of fold, dashed)."""
    catalog = load_catalog()
    measured = load_measurements(catalog=catalog)
    generations = measured.apply(generation_of(catalog), axis=1)
    shipped = AnalyticEngine(catalog)
    for generation in sorted(set(generations)):
        if only is not None and generation not in only:
            continue
        rows = measured[generations == generation]
        groups = _groups(rows)
        if not groups:
            continue
        left_out = AnalyticEngine(catalog, load_calibration())
        fit_calibration(left_out, measured[generations != generation], sweeps=2)
        cols = min(3, len(groups))
        lines = (len(groups) + cols - 1) // cols
        figure, axes = plt.subplots(
            lines, cols, figsize=(5 * cols, 3.6 * lines), layout="constrained", squeeze=False
        )
        for ax, (key, group) in zip(axes.flat, groups, strict=False):
            system, nic, count, _, nodes, gpn, op, algo = key
            sizes = 2.0 ** np.arange(
                np.log2(group["bytes"].min()), np.log2(group["bytes"].max()) + 0.01, 0.25
            )
            out = _curve(left_out, group, sizes)
            ax.plot(out["bytes"], out["busbw_GBps"], "--", color="#2ca02c",
                    label=f"predicted, fitted without {generation}")  # fmt: skip
            plot_busbw_vs_size(
                ax,
                _curve(shipped, group, sizes),
                group[["bytes", "busbw_GBps"]],
                label="predicted, shipped fit",
            )
            nic_text = f"+{nic} x{count}" if nic else ""
            forced = f", {algo} forced" if algo else ""
            ax.set_title(f"{system}{nic_text}: {op}, {nodes} x {gpn}{forced}", fontsize=9)
        for ax in list(axes.flat)[len(groups) :]:
            ax.axis("off")
        figure.suptitle(f"{generation}: measured nccl-tests busbw over the model", fontsize=11)
        figure.savefig(HERE / "images" / f"busbw-generation-{generation}.png", dpi=100)
        plt.close(figure)


if __name__ == "__main__":
    main()
    generation_figures()
