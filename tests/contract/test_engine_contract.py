"""Every engine passes the same checks; on idle fabrics they agree (issue #4's contract)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from interconnect_sim.collectives.ops import CollectiveOp
from interconnect_sim.engines.analytic import AnalyticEngine
from interconnect_sim.engines.discrete_event import DiscreteEventEngine
from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology import Fabric, FabricRequest, build_fabric
from tests.collective_fabrics import ideal_calibration, star_fabric

CATALOG = load_catalog()
ENGINES = {
    "analytic": lambda cal=None: AnalyticEngine(CATALOG, cal),
    "des": lambda cal=None: DiscreteEventEngine(CATALOG, cal),
}
GiB = 2.0**30


@pytest.fixture(params=sorted(ENGINES))
def make_engine(request: pytest.FixtureRequest) -> Callable[..., object]:
    return ENGINES[request.param]


def test_ideal_ring_allreduce_busbw_equals_link_bandwidth(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(ideal_calibration())
    fabric = star_fabric(CATALOG, [4] * 6)
    est = engine.estimate(
        fabric, CollectiveOp.ALL_REDUCE, [GiB], algorithm="ring", protocol="simple"
    )
    assert est.busbw_bytes_per_s[0] == pytest.approx(100e9)


def test_ideal_ring_allgather_time_closed_form(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(ideal_calibration())
    n = 5
    fabric = star_fabric(CATALOG, [2] * n)
    sizes = np.array([1e6, 1e9])
    est = engine.estimate(
        fabric, CollectiveOp.ALL_GATHER, sizes, algorithm="ring", protocol="simple"
    )
    np.testing.assert_allclose(est.time_s, (n - 1) / n * sizes / 50e9, rtol=1e-9)


def test_same_output_records(make_engine) -> None:  # type: ignore[no-untyped-def]
    fabric = build_fabric(CATALOG, FabricRequest(system="dgx-a100"))
    est = make_engine().estimate(fabric, CollectiveOp.ALL_GATHER, [1e6, 1e9])
    rows = est.rows()
    assert set(rows[0]) == {
        "bytes",
        "time_us",
        "algbw_GBps",
        "busbw_GBps",
        "algo",
        "proto",
        "bottleneck",
    }
    assert est.time_s.shape == (2,)


def _fabrics() -> list[tuple[str, dict[str, int]]]:
    cases = []
    for system in sorted(s.id for s in CATALOG.of_kind(type(CATALOG.system("dgx-h100")))):
        cases.append((system, {}))
        if system not in ("a100-pcie-bridged",):
            cases.append((system, {"node_count": 2}))
    return cases


@pytest.mark.parametrize(
    ("system", "options"), _fabrics(), ids=[f"{s}-{o.get('node_count', 1)}n" for s, o in _fabrics()]
)
def test_engines_agree_within_3_pct_on_idle_fabrics(
    system: str, options: dict[str, int], catalog: Catalog
) -> None:
    fabric: Fabric = build_fabric(catalog, FabricRequest(system=system, **options))
    analytic, des = ENGINES["analytic"](), ENGINES["des"]()
    sizes = [64 * 2**20, GiB]
    for op in CollectiveOp:
        t_a = analytic.estimate(fabric, op, sizes).time_s
        t_d = des.estimate(fabric, op, sizes).time_s
        np.testing.assert_allclose(t_d, t_a, rtol=0.03, err_msg=f"{system} {op.value}")
