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
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.report.plots import plot_busbw_vs_size
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from interconnect_sim.validation.measurements import load_measurements

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


def main() -> None:
    drawings()
    report_screenshot()
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


if __name__ == "__main__":
    main()
