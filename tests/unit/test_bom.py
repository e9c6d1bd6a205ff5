"""Bill of materials against the DGX SuperPOD reference-architecture tables, power and cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_sim.errors import ScenarioError
from interconnect_sim.planning.bom import Reach, bill_of_materials
from interconnect_sim.planning.cost import estimate_cost, load_price_table
from interconnect_sim.planning.power import estimate_power
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric

EXAMPLE_PRICES = Path(__file__).parents[2] / "scenarios" / "prices" / "example-prices.toml"


def _rows() -> list[tuple[str, object]]:
    catalog = load_catalog()
    return [
        (pod.system, row)
        for pod in (catalog.superpod("dgx-h100-superpod"), catalog.superpod("dgx-b200-superpod"))
        for row in pod.reference_rows
    ]


@pytest.mark.parametrize(("system", "row"), _rows(), ids=lambda x: str(getattr(x, "node_count", x)))
def test_superpod_switch_and_cable_counts_match_the_reference_tables(
    system: str, row: object, catalog: Catalog
) -> None:
    pod = catalog.superpod(catalog.system(system).superpod or "")
    fabric = build_fabric(
        catalog,
        FabricRequest(system=system, scalable_units=row.scalable_unit_count),  # type: ignore[attr-defined]
    )
    bom = bill_of_materials(fabric, catalog, management_ports=pod.fabric_management_ports).to_row()
    assert bom["bom_nodes"] == row.node_count  # type: ignore[attr-defined]
    assert bom["bom_gpus"] == row.gpu_count  # type: ignore[attr-defined]
    assert bom["bom_leaf_switches"] == row.leaf_count  # type: ignore[attr-defined]
    assert bom["bom_spine_switches"] == row.spine_count  # type: ignore[attr-defined]
    assert bom["bom_core_switches"] == row.core_count  # type: ignore[attr-defined]
    assert bom["bom_node_leaf_cables"] == row.node_leaf_cables  # type: ignore[attr-defined]
    assert bom["bom_leaf_spine_cables"] == row.leaf_spine_cables  # type: ignore[attr-defined]
    assert bom["bom_spine_core_cables"] == row.spine_core_cables  # type: ignore[attr-defined]


def test_cables_pick_the_medium_by_reach(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=64))
    near = bill_of_materials(fabric, catalog, reach=Reach(node_leaf_m=1.5, leaf_spine_m=40))
    far = bill_of_materials(fabric, catalog, reach=Reach(node_leaf_m=80, leaf_spine_m=400))
    media = {run.tier: run.media for run in near.cables}
    assert media == {"node-leaf": "dac", "leaf-spine": "multimode"}
    assert {run.tier: run.media for run in far.cables} == {
        "node-leaf": "singlemode",
        "leaf-spine": "singlemode",
    }
    # DGX H100's twin-port cages meet the QM9700's: straight twin-port copper, two links each.
    dac = next(run for run in near.cables if run.tier == "node-leaf")
    assert dac.cables == 64 * 8 // 2
    assert dac.split_cables == 0
    # Optics: one twin-port transceiver per two links at each end, one fibre per link.
    optics = next(run for run in far.cables if run.tier == "leaf-spine")
    assert sum(optics.transceivers.values()) == optics.links  # links/2 at each of two ends
    assert optics.cables == optics.links


def test_single_port_nics_under_twin_port_switches_get_split_copper(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="gb200-nvl72", node_count=2))
    bom = bill_of_materials(fabric, catalog, reach=Reach(node_leaf_m=2))
    run = next(r for r in bom.cables if r.tier == "node-leaf")
    assert run.media == "dac"
    assert run.split_cables == run.cables == 144 // 2
    assert bom.hosts == 36  # 18 compute trays per rack


def test_power_adds_systems_switches_and_optics_and_scales_with_pue(catalog: Catalog) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", scalable_units=1))
    bom = bill_of_materials(fabric, catalog)
    power = estimate_power(bom, catalog, pue=1.25)
    assert power.nodes_w == 31 * 10.2e3
    assert power.gpus_w == 31 * 8 * 700.0
    assert power.switches_w == 12 * catalog.switch("qm9700").power_w  # type: ignore[operator]
    expected_optics = sum(
        n * catalog.transceiver(part).power_w for part, n in bom.transceivers().items()
    )
    assert power.optics_w == pytest.approx(expected_optics)
    assert power.facility_w == pytest.approx(
        1.25 * (power.nodes_w + power.switches_w + power.optics_w)
    )
    with pytest.raises(ScenarioError, match="PUE"):
        estimate_power(bom, catalog, pue=0.9)


def test_cost_from_the_example_price_table(catalog: Catalog) -> None:
    prices = load_price_table(EXAMPLE_PRICES)
    assert prices.label == "EXAMPLE PRICES, NOT QUOTES"
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", scalable_units=1))
    bom = bill_of_materials(fabric, catalog)
    power = estimate_power(bom, catalog)
    year = 365.25 * 86400
    cost = estimate_cost(bom, power, prices, catalog, wall_clock_s=year)
    assert cost.capex_parts["systems"] == 31 * prices.systems["dgx-h100"]
    assert cost.capex_parts["switches"] == 12 * prices.switches["qm9700"]
    assert cost.run_hardware_cost == pytest.approx(cost.capex / prices.amortization_years)
    assert cost.energy_kwh == pytest.approx(power.facility_w / 1e3 * 8766)
    assert not cost.missing


def test_bad_price_tables_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[systems]\ndgx-h100 = -5\n")
    with pytest.raises(ScenarioError, match=r"p\.toml: systems\.dgx-h100: must be a non-negative"):
        load_price_table(bad)
    bad.write_text("energy = 1\n")
    with pytest.raises(ScenarioError, match=r"unknown key\(s\) \['energy'\]"):
        load_price_table(bad)


def test_management_ports_that_do_not_fit_are_a_warning_not_negative_ports(
    catalog: Catalog,
) -> None:
    """RA-11333-001 reserves 4 leaf ports for UFM and so lists 63 DGX H100 for two SUs: at 63
    they fit; at a full 64 every leaf port is taken, and the BOM says so."""
    pod = catalog.superpod("dgx-h100-superpod")
    boms = {
        nodes: bill_of_materials(
            build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=nodes)),
            catalog,
            management_ports=pod.fabric_management_ports,
        )
        for nodes in (63, 64)
    }
    fits, full = boms[63], boms[64]
    assert fits.to_row()["bom_leaf_ports_free"] == 8 - 4
    assert not fits.warnings
    assert full.to_row()["bom_leaf_ports_free"] == 0
    assert any("UFM" in w and "one node fewer" in w for w in full.warnings)
