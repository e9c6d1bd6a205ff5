"""Max-min fair sharing on random links and flow sets (issue #4's properties)."""

from __future__ import annotations

import numpy as np
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect_sim.engines.maxmin import Incidence, max_min_rates

LINKS = 6


@st.composite
def networks(draw: st.DrawFn) -> tuple[np.ndarray, list[Incidence]]:
    capacity = np.array(draw(st.lists(st.floats(1.0, 100.0), min_size=LINKS, max_size=LINKS)))
    flows = []
    for _ in range(draw(st.integers(1, 8))):
        edges = sorted(draw(st.sets(st.integers(0, LINKS - 1), min_size=1, max_size=4)))
        weights = draw(st.lists(st.floats(0.1, 3.0), min_size=len(edges), max_size=len(edges)))
        flows.append(Incidence(np.array(edges, dtype=np.int64), np.array(weights)))
    return capacity, flows


def _load(capacity: np.ndarray, flows: list[Incidence], rates: np.ndarray) -> np.ndarray:
    load = np.zeros(capacity.size)
    for flow, rate in zip(flows, rates, strict=True):
        np.add.at(load, flow.edges, rate * flow.weights)
    return load


@settings(max_examples=200, deadline=None)
@given(networks())
def test_no_link_carries_more_than_its_capacity(net: tuple[np.ndarray, list[Incidence]]) -> None:
    capacity, flows = net
    rates, _ = max_min_rates(capacity, flows)
    assert np.all(_load(capacity, flows, rates) <= capacity * (1 + 1e-9))


@settings(max_examples=200, deadline=None)
@given(networks())
def test_every_flow_has_a_saturated_bottleneck_where_it_is_largest(
    net: tuple[np.ndarray, list[Incidence]],
) -> None:
    capacity, flows = net
    rates, bottleneck = max_min_rates(capacity, flows)
    load = _load(capacity, flows, rates)
    for i, flow in enumerate(flows):
        link = int(bottleneck[i])
        assert link in flow.edges.tolist()
        assert load[link] >= capacity[link] * (1 - 1e-9)  # saturated
        others = [rates[j] for j, f in enumerate(flows) if link in f.edges.tolist()]
        assert rates[i] >= max(others) * (1 - 1e-9)  # the largest share there


@settings(max_examples=200, deadline=None)
@given(networks(), st.integers(0, LINKS - 1), st.floats(1.0, 100.0))
def test_adding_bandwidth_never_lowers_the_slowest_flow(
    net: tuple[np.ndarray, list[Incidence]], link: int, extra: float
) -> None:
    # Max-min allocations improve lexicographically with capacity: the minimum never drops.
    # (Single flows may slow down, a known property of max-min; see docs/design.)
    capacity, flows = net
    before, _ = max_min_rates(capacity, flows)
    bigger = capacity.copy()
    bigger[link] += extra
    after, _ = max_min_rates(bigger, flows)
    assert after.min() >= before.min() * (1 - 1e-9)


@settings(max_examples=100, deadline=None)
@given(networks(), st.data())
def test_every_byte_sent_is_delivered(
    net: tuple[np.ndarray, list[Incidence]], data: st.DataObject
) -> None:
    from interconnect_sim.engines.flownet import FlowNetwork

    capacity, flows = net

    class Index:  # the FlowNetwork only needs capacities
        def __init__(self) -> None:
            self.capacity = capacity

    env = simpy.Environment()
    network = FlowNetwork(env, Index(), record=False)  # type: ignore[arg-type]
    volumes = data.draw(st.lists(st.floats(1.0, 1e6), min_size=len(flows), max_size=len(flows)))
    starts = data.draw(st.lists(st.floats(0.0, 1e4), min_size=len(flows), max_size=len(flows)))
    finished: dict[int, float] = {}
    started = {}

    def run(i: int):  # type: ignore[no-untyped-def]
        yield env.timeout(starts[i])
        flow_done = network.start(f"f{i}", flows[i], volumes[i], f"f{i}")
        flow = network.last_started
        if flow is not None and flow.label == f"f{i}" and not flow_done.triggered:
            started[i] = flow
        yield flow_done
        finished[i] = env.now

    for i in range(len(flows)):
        env.process(run(i))
    env.run()
    assert len(finished) == len(flows)
    for i, flow in started.items():
        assert flow.remaining_bytes <= 1e-6 * volumes[i] + 1e-6
        assert abs(flow.delivered_bytes - volumes[i]) <= 1e-6 * volumes[i] + 1e-6
    for i, flow in enumerate(flows):
        alone, _ = max_min_rates(capacity, [flow])
        assert finished[i] - starts[i] >= volumes[i] / alone[0] * (1 - 1e-6)


@settings(max_examples=200, deadline=None)
@given(networks(), st.data())
def test_a_rate_cap_is_respected_and_the_slowest_other_flow_never_loses(
    net: tuple[np.ndarray, list[Incidence]], data: st.DataObject
) -> None:
    capacity, flows = net
    free, _ = max_min_rates(capacity, flows)
    i = data.draw(st.integers(0, len(flows) - 1))
    cap = data.draw(st.floats(0.01, 0.99)) * float(free[i])
    capped = list(flows)
    capped[i] = Incidence(flows[i].edges, flows[i].weights, rate_cap=cap)
    rates, bottleneck = max_min_rates(capacity, capped)
    assert abs(rates[i] - cap) <= 1e-9 * cap
    assert bottleneck[i] == -2
    assert np.all(_load(capacity, capped, rates) <= capacity * (1 + 1e-9))
    others = [j for j in range(len(flows)) if j != i]
    if others:  # one flow may lose to another that gained, but the slowest of them never does
        assert min(rates[others]) >= min(free[others]) * (1 - 1e-9)


def test_a_capped_flow_leaves_the_rest_of_a_shared_link() -> None:
    one = np.array([0])
    capped = Incidence(one, np.array([1.0]), rate_cap=3.0)
    free = Incidence(one, np.array([1.0]))
    rates, bottleneck = max_min_rates(np.array([10.0]), [capped, free])
    assert rates.tolist() == [3.0, 7.0]
    assert bottleneck.tolist() == [-2, 0]
