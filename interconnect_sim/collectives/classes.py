"""Identical copies of a communicator routed as one class, for engines that time them once.

A training step runs the same collective on many rank groups at once: every tensor-parallel
group of a pipeline stage, the data-parallel groups of every tensor rank, the pipeline sends of
every replica. Copies that are identical on the fabric move at one rate, so an engine may give
them a single flow whose incidence is the sum of theirs. :func:`class_parts` builds that sum
without analysing every copy:

* copies with the same local GPUs on systems of the same kind
  (:mod:`~interconnect_sim.topology.structure`: identical systems; a what-if gives the system it
  edits a kind of its own) share one analysis (ring search, algorithm, latency) and its
  intra-node templates, which the engine repeats on every copy's systems (the node groups'
  ``node_prefixes``);
* the network part is every copy's own routes (its rails' rings between its systems, or its
  all-to-all pattern), summed; switch-to-switch routes are added once per leaf pair with a
  count, so 1,024 pipeline sends between the same leaves cost one route search each way.

Copies on systems of other kinds get their own analysis: their template is not the others'.
Without a record of node kinds (a fabric edited by hand, or sharing turned off) every copy is
analysed by itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from interconnect_sim.collectives.bandwidth import analyse_communicator
from interconnect_sim.collectives.communicator import CommunicatorBandwidths
from interconnect_sim.collectives.network import NetworkRoutes
from interconnect_sim.collectives.paths import Flow, IndexedFlow, add_flow
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.topology.edge_numbers import EdgeNumbers
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.topology.structure import node_kinds

__all__ = ["ClassPart", "class_parts"]


@dataclass(frozen=True, slots=True)
class ClassPart:
    """Copies that share one analysis.

    ``bandwidths`` are the first copy's (rates, algorithm choice, latency); its ``plan`` is the
    sum over the ``copies``: the template repeated on all their systems, their network flows
    added.
    """

    bandwidths: CommunicatorBandwidths
    copies: int


def _by_node(fabric: Fabric, gpus: Sequence[str]) -> list[list[str]]:
    nodes: dict[int, list[str]] = defaultdict(list)
    for gpu in gpus:
        nodes[int(fabric.graph.nodes[gpu]["node"])].append(gpu)
    return [nodes[node] for node in sorted(nodes)]


def _ring_flow(
    fabric: Fabric, routes: NetworkRoutes, members: list[list[list[str]]], rails: int
) -> Flow:
    """Every member's inter-node rings, one unit per rail, as
    :func:`~interconnect_sim.collectives.bandwidth.analyse_communicator` routes them."""
    graph = fabric.graph
    flow: Flow = {}
    leaf_pairs: dict[tuple[str, str], int] = defaultdict(int)
    for member in members:
        pairs = [routes.nic_pairs(gpus, int(graph.nodes[gpus[0]]["node"])) for gpus in member]
        count = len(pairs)
        for rail in range(rails):
            for k in range(count):
                gpu_src, src = pairs[k][rail]
                gpu_dst, dst = pairs[(k + 1) % count][rail]
                leaf_src, leaf_dst = routes.leaf_of(src), routes.leaf_of(dst)
                add_flow(flow, {(src, leaf_src): 1.0, (leaf_dst, dst): 1.0})
                add_flow(flow, routes.gpu_to_nic(gpu_src, src))
                add_flow(flow, routes.gpu_to_nic(dst, gpu_dst))
                leaf_pairs[(leaf_src, leaf_dst)] += 1
    for (leaf_src, leaf_dst), count in leaf_pairs.items():
        if leaf_src != leaf_dst:
            add_flow(flow, routes.leaf_route(leaf_src, leaf_dst), float(count))
    return flow


def _alltoall_flow(
    fabric: Fabric, routes: NetworkRoutes, members: list[list[list[str]]]
) -> Callable[[], Flow]:
    graph = fabric.graph

    @cache
    def flow() -> Flow:
        total: Flow = {}
        for member in members:
            pairs = tuple(
                tuple(routes.nic_pairs(gpus, int(graph.nodes[gpus[0]]["node"]))) for gpus in member
            )
            add_flow(total, routes.uniform_flow(pairs))
        return total

    return flow


def _merged(
    fabric: Fabric,
    bw: CommunicatorBandwidths,
    members: list[list[list[str]]],
    kinds: tuple[int, ...],
) -> CommunicatorBandwidths:
    prefixes = [gpus[0].split("/", 1)[0] + "/" for member in members for gpus in member]

    def kind(prefix: str) -> int:
        return kinds[int(prefix[1:-1])]

    plan = bw.plan
    groups = tuple(
        replace(g, node_prefixes=tuple(x for x in prefixes if kind(x) == kind(g.node_prefixes[0])))
        for g in plan.groups
    )
    plan = replace(plan, node_prefixes=tuple(prefixes), groups=groups)
    if bw.node_count > 1 and bw.rail_count > 0:
        routes = NetworkRoutes.of(fabric)
        numbers = EdgeNumbers.of(fabric)
        alltoall = _alltoall_flow(fabric, routes, members)

        @cache
        def alltoall_indexed() -> IndexedFlow | None:
            flow = alltoall()
            return IndexedFlow.of_flow(numbers, flow) if flow else None

        ring = _ring_flow(fabric, routes, members, bw.rail_count)
        plan = replace(
            plan,
            network=IndexedFlow.of_flow(numbers, ring) if ring else None,
            alltoall_network=alltoall,
            alltoall_indexed=alltoall_indexed,
        )
    return replace(bw, plan=plan)


def class_parts(
    fabric: Fabric, catalog: Catalog, members: Sequence[Sequence[str]]
) -> list[ClassPart]:
    """The copies ``members`` (GPU ids of each copy) as few parts of identical copies.

    Examples
    --------
    Every tensor-parallel group of four DGX H100 nodes is one part:

    >>> import interconnect_sim as ics
    >>> catalog = ics.load_catalog()
    >>> fabric = ics.build_fabric(catalog, ics.FabricRequest(system="dgx-h100", node_count=4))
    >>> groups = [fabric.gpus[8 * n : 8 * n + 8] for n in range(4)]
    >>> [(p.copies, p.bandwidths.plan.node_prefixes) for p in class_parts(fabric, catalog, groups)]
    [(4, ('n0/', 'n1/', 'n2/', 'n3/'))]
    """
    record = node_kinds(fabric)
    graph = fabric.graph
    classes: dict[object, list[list[list[str]]]] = defaultdict(list)
    for gpus in members:
        by_node = _by_node(fabric, gpus)
        nodes = tuple(int(graph.nodes[group[0]]["node"]) for group in by_node)
        local = tuple(tuple(graph.nodes[g]["local_rank"] for g in group) for group in by_node)
        if record is None:
            key: object = tuple(gpus)
        else:
            key = (local, tuple(record.kinds[n] for n in nodes))
        classes[key].append(by_node)
    parts = []
    for copies in classes.values():
        first = [gpu for group in copies[0] for gpu in group]
        bw = analyse_communicator(fabric, catalog, gpus=first)
        if len(copies) > 1 and record is not None:
            bw = _merged(fabric, bw, copies, record.kinds)
        parts.append(ClassPart(bw, len(copies)))
    return parts
