"""Contention cases with closed-form answers (issue #4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from interconnect_sim.collectives.network import NetworkRoutes
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.engines.flownet import EdgeIndex
from interconnect_sim.engines.maxmin import Incidence, max_min_rates
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import FabricRequest, build_fabric
from interconnect_sim.workload.trace import read_trace

BIG = 8 * 2**30  # latency is < 0.1 % of the time at this size


def _trace(tmp_path: Path, lines: list[str]) -> list:  # type: ignore[type-arg]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return read_trace(path)


def _line(id_: str, op: str, group: str, start: float = 0.0) -> str:
    return (
        f'{{"id": "{id_}", "op": "{op}", "bytes": {BIG}, "group": "{group}", "start_s": {start}}}'
    )


def test_two_identical_flows_sharing_links_each_get_half(catalog: Catalog, tmp_path: Path) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=2))
    des = DiscreteEventEngine(catalog)
    alone = des.replay(fabric, _trace(tmp_path, [_line("a", "all_gather", "rail:0")]))
    both = des.replay(
        fabric,
        _trace(tmp_path, [_line("a", "all_gather", "rail:0"), _line("b", "all_gather", "rail:0")]),
    )
    solo = alone.calls[0].duration_s
    for call in both.calls:
        assert call.duration_s == pytest.approx(2 * solo, rel=0.002)


def test_separate_rails_do_not_contend(catalog: Catalog, tmp_path: Path) -> None:
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=2))
    des = DiscreteEventEngine(catalog)
    alone = des.replay(fabric, _trace(tmp_path, [_line("a", "all_gather", "rail:0")]))
    both = des.replay(
        fabric,
        _trace(tmp_path, [_line("a", "all_gather", "rail:0"), _line("b", "all_gather", "rail:1")]),
    )
    assert both.calls[0].duration_s == pytest.approx(alone.calls[0].duration_s, rel=1e-9)


def _cross_spine_rates(catalog: Catalog, oversubscription: float) -> np.ndarray:
    """Node i of SU 0 sends to node i of SU 1 on rail 0: every byte crosses the spine."""
    fabric = build_fabric(
        catalog, FabricRequest(system="dgx-h100", node_count=64, oversubscription=oversubscription)
    )
    routes, index = NetworkRoutes(fabric), EdgeIndex(fabric)
    flows = []
    for i in range(32):
        flow = routes.nic_to_nic(f"n{i}/nic0", f"n{32 + i}/nic0")
        flows.append(
            Incidence(
                np.array([index.index[e] for e in flow], dtype=np.int64),
                np.array(list(flow.values())),
            )
        )
    rates, _ = max_min_rates(index.capacity, flows)
    return rates


def test_two_to_one_spine_halves_cross_spine_all_to_all_bandwidth(catalog: Catalog) -> None:
    full = _cross_spine_rates(catalog, 1.0)
    tapered = _cross_spine_rates(catalog, 2.0)
    np.testing.assert_allclose(full, 50e9)  # NIC-bound: 32 uplinks x 50 GB/s cover 32 NICs
    np.testing.assert_allclose(tapered, 25e9)  # 16 uplinks x 50 GB/s shared by 32 NICs


def test_uniform_all_to_all_over_a_tapered_spine_matches_the_leaf_uplink_bound(
    catalog: Catalog,
) -> None:
    # 4 SUs of 32 nodes at 2:1: each leaf has 16 x 50 GB/s up; a fraction 96/127 of each NIC's
    # uniform all-to-all traffic leaves its leaf, so per GPU r <= 800 / (32 x 96/127) GB/s.
    fabric = build_fabric(
        catalog, FabricRequest(system="dgx-h100", node_count=128, oversubscription=2.0)
    )
    bound = 16 * 50e9 / (32 * 96 / 127)
    for engine in (AnalyticEngine(catalog), DiscreteEventEngine(catalog)):
        bw = (
            engine.bandwidths(fabric, gpus_per_node=1)
            if isinstance(engine, AnalyticEngine)
            else engine.analytic.bandwidths(fabric, gpus_per_node=1)
        )
        assert bw.alltoall_network_per_gpu() == pytest.approx(bound, rel=1e-6)
        est = engine.estimate(fabric, CollectiveOp.ALLTOALL, [BIG], gpus_per_node=1, bandwidths=bw)
        efficiency = engine.calibration.network_efficiency["infiniband"]
        n = 128
        expected = BIG * (n - 1) / n / (bound * efficiency)
        assert est.time_s[0] == pytest.approx(expected, rel=0.002)
        # and the report names the tapered leaf uplink, not the NIC port
        assert "leaf" in est.bottleneck[0].split("->")[0]
        assert "spine" in est.bottleneck[0]


def test_ring_allreduce_and_alltoall_on_shared_nics_finish_when_the_link_has_carried_both(
    catalog: Catalog, tmp_path: Path
) -> None:
    # Both calls use only rail 0 (one GPU per node), so both are bound by the same NIC links
    # and max-min keeps them at equal progress rates: each ends after the shared link has moved
    # both calls' bytes, i.e. at the sum of their solo bandwidth times.
    fabric = build_fabric(catalog, FabricRequest(system="dgx-h100", node_count=2))
    des = DiscreteEventEngine(catalog)
    ring = des.replay(fabric, _trace(tmp_path, [_line("ar", "all_reduce", "rail:0")]))
    a2a = des.replay(fabric, _trace(tmp_path, [_line("a2a", "alltoall", "rail:0")]))
    both = des.replay(
        fabric,
        _trace(tmp_path, [_line("ar", "all_reduce", "rail:0"), _line("a2a", "alltoall", "rail:0")]),
    )
    expected = ring.calls[0].duration_s + a2a.calls[0].duration_s
    for call in both.calls:
        assert call.duration_s == pytest.approx(expected, rel=0.002)
        assert call.duration_s > 1.4 * min(ring.calls[0].duration_s, a2a.calls[0].duration_s)
