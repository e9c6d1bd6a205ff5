"""Over random presets and what-ifs, sharing analyses between alike nodes changes no answer."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.specs import load_catalog
from interconnect_sim.topology import Fabric, FabricRequest, build_fabric
from interconnect_sim.topology.structure import no_sharing
from interconnect_sim.topology.whatif import (
    with_links_disabled,
    with_p2p,
    without_device,
    without_link,
)
from tests.sharing import assert_same, outcomes

CATALOG = load_catalog()
SYSTEMS = ["dgx-h100", "dgx-a100", "dgx1-v100", "mi300x-8x", "hgx-h100-4gpu", "h100-pcie-bridged"]
WHAT_IFS = ["none", "nvlink", "inner-link", "nic", "leaf", "spine", "p2p-off"]


def _what_if(fabric: Fabric, kind: str, pick: int) -> Fabric:
    graph = fabric.graph
    nodes = graph.graph["node_count"]
    prefix = f"n{pick % nodes}/"
    if kind == "nvlink":
        edges = [
            (u, v) for u, v, t in graph.edges(data="tier") if u.startswith(prefix) and t == "nvlink"
        ]
        assume(edges)
        return with_links_disabled(fabric, *edges[pick % len(edges)])
    if kind == "inner-link":
        edges = [(u, v) for u, v in graph.edges if u.startswith(prefix) and v.startswith(prefix)]
        return without_link(fabric, *edges[pick % len(edges)])
    if kind in ("nic", "leaf", "spine"):
        devices = [d for d in fabric.nodes_of_kind(kind) if kind != "nic" or d.startswith(prefix)]
        assume(devices)
        return without_device(fabric, devices[pick % len(devices)])
    if kind == "p2p-off":
        return with_p2p(fabric, False)
    return fabric


def _record(request: FabricRequest, kind: str, pick: int, groups: list[list[int]]) -> Any:
    def build() -> Fabric:
        return _what_if(build_fabric(CATALOG, request), kind, pick)

    try:
        return outcomes(build, CATALOG, groups)
    except InterconnectSimError as exc:
        return f"error: {exc}"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    st.sampled_from(SYSTEMS),
    st.integers(min_value=2, max_value=5),
    st.sampled_from([1.0, 2.0]),
    st.sampled_from(WHAT_IFS),
    st.integers(min_value=0, max_value=10_000),
    st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=4, unique=True),
)
def test_sharing_never_changes_an_answer(
    system: str,
    nodes: int,
    oversubscription: float,
    kind: str,
    pick: int,
    local: list[int],
    members: list[int],
) -> None:
    request = FabricRequest(system=system, node_count=nodes, oversubscription=oversubscription)
    try:
        per_node = len(build_fabric(CATALOG, FabricRequest(system=system)).gpus)
        _what_if(build_fabric(CATALOG, request), kind, pick)
    except InterconnectSimError:
        assume(False)
    local = [r for r in local if r < per_node] or [0]
    chosen = sorted({m % nodes for m in members})
    groups = [
        [node * per_node + r for node in chosen for r in sorted(local)],
        [(pick % nodes) * per_node + r for r in range(per_node)],
    ]
    shared = _record(request, kind, pick, groups)
    with no_sharing():
        alone = _record(request, kind, pick, groups)
    assert_same(shared, alone)
