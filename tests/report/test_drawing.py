"""Topology drawings that read: every device kind of a system labelled, big fabrics grouped."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import interconnect_sim as ics
from interconnect_sim.report.drawing import draw_fabric, fabric_groups


def _texts(request: ics.FabricRequest) -> list[str]:
    figure, ax = plt.subplots()
    try:
        draw_fabric(ics.build_fabric(ics.load_catalog(), request), ax)
        return [text.get_text() for text in ax.texts]
    finally:
        plt.close(figure)


@pytest.mark.parametrize("system", ["dgx-h100", "dgx1-v100", "h100-pcie-bridged", "gb200-nvl72"])
def test_every_device_kind_of_a_system_is_labelled(system: str) -> None:
    fabric = ics.build_fabric(ics.load_catalog(), ics.FabricRequest(system=system))
    kinds = {kind for _, kind in fabric.graph.nodes(data="kind")}
    labels = " ".join(_texts(ics.FabricRequest(system=system)))
    names = {"gpu": "GPU", "nvswitch": "NVSwitch", "pcie_switch": "PCIe switch", "nic": "NIC"}
    for kind in kinds:
        count = sum(1 for _, k in fabric.graph.nodes(data="kind") if k == kind)
        assert f"{names.get(kind, kind.upper())} x {count}" in labels, (kind, labels)


def test_a_four_su_superpod_reads_at_a_glance() -> None:
    request = ics.FabricRequest(system="dgx-h100", scalable_units=4)
    fabric = ics.build_fabric(ics.load_catalog(), request)
    groups, links = fabric_groups(fabric)
    by_row: dict[str, list[int]] = {}
    for group in groups:
        by_row.setdefault(group.row, []).append(group.count)
    assert sorted(by_row["system"]) == [31, 32, 32, 32]  # RA-11333-001: 127 systems in 4 SUs
    assert by_row["leaf"] == [8, 8, 8, 8]
    assert by_row["spine"] == [16]
    assert len(links) == 8  # each SU to its leaves, each SU's leaves to the spines
    texts = _texts(request)
    assert len(texts) < 30  # a handful of boxes and labels, not 2,000 devices
    assert any("31 x dgx-h100" in t for t in texts)
    assert any("16 x spine" in t for t in texts)
