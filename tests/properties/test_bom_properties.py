"""Bill-of-materials counts against closed-form fat-tree counts, for random sizes and tapers.

The formulas restate the design rules of docs/design/fat-tree-rules.md for a rail-optimized tree
whose NICs all sit on separate rails (DGX H100 under QM9700 SuperPOD scalable units of 32 nodes;
DGX B200 with ConnectX-8 under generic Q3400 trees): leaves per scalable unit = rails, up-links per
leaf = designed downlinks / taper, two levels while the leaves fit under one spine layer.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interconnect_sim.planning.bom import bill_of_materials
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import FabricRequest, build_fabric

CATALOG = load_catalog()
SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

designs = st.fixed_dictionaries(
    {
        "case": st.sampled_from(["superpod", "generic"]),
        "node_count": st.integers(min_value=2, max_value=420),
        "oversubscription": st.sampled_from([1.0, 2.0]),
    }
)


def _expected(case: str, nodes: int, taper: float) -> dict[str, int]:
    radix, rails = (64, 8) if case == "superpod" else (144, 8)
    down = math.floor(radix * taper / (taper + 1) + 1e-9)
    per_su = 32 if case == "superpod" else down
    designed = min(down, per_su)
    up = max(1, round(designed / taper))
    sus = math.ceil(nodes / per_su)
    leaves = rails * sus
    expected = {
        "bom_leaf_switches": leaves,
        "bom_node_leaf_cables": rails * nodes,
        "bom_leaf_spine_cables": leaves * up,
        "bom_leaf_ports_used": rails * nodes + leaves * up,
        "bom_leaf_ports_free": leaves * radix - rails * nodes - leaves * up,
    }
    if leaves <= radix:
        spines = next(s for s in range(1, up + 1) if up % s == 0 and s * radix >= leaves * up)
        expected |= {
            "bom_spine_switches": spines,
            "bom_core_switches": 0,
            "bom_spine_core_cables": 0,
        }
    else:
        pods = math.ceil(leaves / (radix // 2))
        expected |= {
            "bom_spine_switches": up * pods,
            "bom_core_switches": up * math.ceil(leaves / radix),
            "bom_spine_core_cables": leaves * up,
        }
    return expected


def _request(case: str, nodes: int, taper: float) -> FabricRequest:
    if case == "superpod":
        return FabricRequest(system="dgx-h100", node_count=nodes, oversubscription=taper)
    return FabricRequest(
        system="dgx-b200",
        node_count=nodes,
        oversubscription=taper,
        nic="connectx-8",
        switch="q3400",
    )


@SLOW
@given(designs)
def test_bom_counts_follow_the_fat_tree_formulas(params: dict[str, object]) -> None:
    case, nodes, taper = (
        str(params["case"]),
        int(params["node_count"]),
        float(params["oversubscription"]),
    )  # type: ignore[call-overload]
    bom = bill_of_materials(build_fabric(CATALOG, _request(case, nodes, taper)), CATALOG)
    row = bom.to_row()
    for key, value in _expected(case, nodes, taper).items():
        assert row[key] == value, (key, row[key], value)
    # Every link end has a transceiver port; a device's last twin-port cage of a tier may have
    # one port unused.
    devices = bom.nodes + sum(s.count for s in bom.switches)
    for run in bom.cables:
        ports = sum(CATALOG.transceiver(t).ports * n for t, n in run.transceivers.items())
        assert 2 * run.links <= ports <= 2 * run.links + devices, run
