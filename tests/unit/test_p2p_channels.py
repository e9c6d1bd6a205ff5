"""NCCL's per-peer channel rule for sends across nodes, and what it does to sendrecv.

Expected channel counts are worked by hand from NCCL's rule (src/graph/paths.cc, cited in the
calibration constants): start at ceil(NIC GB/s / 14), round up to a power of two, then halve
while channels x ceil(ranks / 8) exceeds the pool (collective channels, rounded up to a power
of two: 2 per rail, 4 per rail on Hopper below 16).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from interconnect_sim.calibration import load_calibration
from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.collectives.p2p_channels import (
    collective_channel_count,
    net_channels_per_peer,
)
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.errors import SpecError
from interconnect_sim.specs import Catalog
from interconnect_sim.topology import Fabric
from interconnect_sim.workload.trace import read_trace

CAL = load_calibration()
GiB = 2.0**30


def _bandwidths(catalog: Catalog, fabric: Fabric, nodes: int, gpus: int):  # type: ignore[no-untyped-def]
    return AnalyticEngine(catalog, CAL).bandwidths(fabric, node_count=nodes, gpus_per_node=gpus)


@pytest.mark.parametrize(
    ("nodes", "gpus", "pool", "per_peer"),
    [
        # 400 Gb/s per GPU: ceil(50 / 14) = 4 channels wanted
        (2, 8, 16, 4),  # 8 rails x 2 = 16; 4 x ceil(16/8)=2 -> 8 <= 16
        (10, 8, 16, 1),  # 4 x 10 > 16, 2 x 10 > 16 -> 1
        (10, 4, 16, 2),  # 4 rails x 2 x 2 = 16; 4 x 5 > 16, 2 x 5 <= 16
        (10, 2, 8, 2),  # 2 rails x 4 = 8; 4 x 3 > 8, 2 x 3 <= 8
        (10, 1, 4, 2),  # 1 rail x 4 = 4; 4 x 2 > 4, 2 x 2 <= 4
        (2, 1, 4, 4),  # 4 x 1 <= 4
    ],
)
def test_channels_per_network_peer_follow_nccls_rule_on_dgx_h100(
    catalog: Catalog,
    build: Callable[..., Fabric],
    nodes: int,
    gpus: int,
    pool: int,
    per_peer: int,
) -> None:
    bw = _bandwidths(catalog, build("dgx-h100", node_count=nodes), nodes, gpus)
    assert collective_channel_count(bw, CAL) == pool
    assert net_channels_per_peer(bw, CAL) == per_peer


def test_ampere_does_not_double_channels_and_hdr_wants_two(
    catalog: Catalog, build: Callable[..., Fabric]
) -> None:
    # DGX A100: 8 x 200 Gb/s HDR, ceil(25 / 14) = 2; pool 8 rails x 2 = 16, no Hopper doubling
    bw = _bandwidths(catalog, build("dgx-a100", node_count=2), 2, 8)
    assert collective_channel_count(bw, CAL) == 16
    assert net_channels_per_peer(bw, CAL) == 2


def test_sendrecv_across_many_nodes_runs_at_the_channel_rate(
    catalog: Catalog, build: Callable[..., Fabric]
) -> None:
    fabric = build("dgx-h100", node_count=10)
    engine = AnalyticEngine(catalog, CAL)
    e_net = CAL.network_efficiency["infiniband"]
    per_channel = CAL.channels.per_channel_net_bytes_per_s
    many = engine.estimate(fabric, CollectiveOp.SENDRECV, [GiB], gpus_per_node=8)
    pair = engine.estimate(fabric, CollectiveOp.SENDRECV, [GiB], node_count=2, gpus_per_node=8)
    assert many.busbw_bytes_per_s[0] == pytest.approx(per_channel * e_net, rel=0.02)
    assert "p2p channels: 1 per network peer" in many.bottleneck[0]
    # two nodes keep four channels, more than the NIC: the NIC is the limit again
    assert pair.busbw_bytes_per_s[0] > 3 * many.busbw_bytes_per_s[0]
    assert "network" in pair.bottleneck[0]


def test_the_event_engine_applies_the_same_channel_cap(
    catalog: Catalog, build: Callable[..., Fabric]
) -> None:
    fabric = build("dgx-h100", node_count=10)
    analytic = AnalyticEngine(catalog, CAL).estimate(
        fabric, CollectiveOp.SENDRECV, [GiB], gpus_per_node=4
    )
    des = DiscreteEventEngine(catalog, CAL).estimate(
        fabric, CollectiveOp.SENDRECV, [GiB], gpus_per_node=4
    )
    assert des.time_s[0] == pytest.approx(analytic.time_s[0], rel=0.03)


def test_per_pair_communicators_keep_their_channels(
    catalog: Catalog, build: Callable[..., Fabric]
) -> None:
    bw = _bandwidths(catalog, build("dgx-h100", node_count=10), 10, 8)
    assert net_channels_per_peer(replace(bw, p2p_pairs=True), CAL) == 4


@pytest.mark.parametrize("engine_class", [AnalyticEngine, DiscreteEventEngine])
def test_a_trace_says_which_communicator_sends_run_on(
    catalog: Catalog, build: Callable[..., Fabric], tmp_path: Path, engine_class: type
) -> None:
    call = {"op": "sendrecv", "bytes": "1 GiB", "group": "rail:0"}
    lines = [
        json.dumps({"id": "group", **call, "p2p_comm": "group"}),
        json.dumps({"id": "pairs", **call, "p2p_comm": "pairs", "after": ["group"]}),
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    calls = read_trace(tmp_path / "t.jsonl")
    result = engine_class(catalog, CAL).replay(build("dgx-h100", node_count=32), calls)
    duration = {c.id: c.duration_s for c in result.calls}
    # 32 ranks on one rail: the group communicator leaves one channel (4 x 4 rounds > pool 4),
    # the pairs keep four, enough for the NIC
    assert duration["group"] > 3 * duration["pairs"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "peers_per_batch = 8",
            "peers_per_batch = 0",
            "nccl.p2p.peers_per_batch must be a positive",
        ),
        ("per_channel_net_GBps = 14.0", 'per_channel_net_GBps = "14"', "per_channel_net_GBps"),
        ("compute_doubling_below = 16", "compute_doubling_below = 16\ncolour = 1", "'colour'"),
        (
            'compute_doubling_arch = ["hopper", "blackwell"]',
            'compute_doubling_arch = ["hoper"]',
            "compute_doubling_arch must list",
        ),
    ],
)
def test_bad_channel_rules_name_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    shipped = Path(load_calibration().path or "").parent
    for source in shipped.glob("*.toml"):
        (tmp_path / source.name).write_text(source.read_text())
    constants = tmp_path / "nccl-2.30.toml"
    assert old in constants.read_text()
    constants.write_text(constants.read_text().replace(old, new))
    with pytest.raises(SpecError, match=message) as error:
        load_calibration(tmp_path / "nccl-tests.toml")
    assert "nccl-2.30.toml" in str(error.value)
