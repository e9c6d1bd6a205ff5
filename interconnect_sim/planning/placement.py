"""Where a job's ranks sit on a fabric, and which tier limits its step."""

from __future__ import annotations

import math

from interconnect_sim.errors import InterconnectSimError
from interconnect_sim.specs.model import SystemSpec
from interconnect_sim.topology.fabric import Fabric
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.step import StepEstimate

__all__ = ["JobFabric", "hosts_of", "job_placement", "limiting_term"]

_NEGLIGIBLE = 0.01
"""A step whose largest non-compute term is under 1 % of it is compute-bound."""


class JobFabric(Fabric):
    """A fabric whose ranks are a subset of its GPUs (the same count on every node).

    Shares the graph of the fabric it views; ``gpus`` lists the job's GPUs in rank order, so a
    job of 64 GPUs per NVL72 rack leaves the other 8 of each rack idle.
    """

    def __init__(self, base: Fabric, gpus: list[str]) -> None:
        super().__init__(base.name, base.graph)
        self._job_gpus = list(gpus)

    @property
    def gpus(self) -> list[str]:
        """The job's GPUs in rank order."""
        return list(self._job_gpus)


def job_placement(gpus: int, per_node: int) -> tuple[int, int]:
    """(nodes, GPUs used per node) for a job of ``gpus``: the fewest nodes holding the same
    number of the job's GPUs each.

    Examples
    --------
    >>> job_placement(1024, 72)   # 16 NVL72 racks of 64
    (16, 64)
    >>> job_placement(256, 8)
    (32, 8)
    """
    nodes = math.ceil(gpus / per_node)
    while gpus % nodes:
        nodes += 1
    return nodes, gpus // nodes


def limiting_term(step: StepEstimate, parallel: ParallelConfig, fabric: Fabric) -> tuple[str, str]:
    """The largest non-compute term of a step and the tier it sits on (``compute`` when every
    such term is under 1 % of the step)."""
    terms = {k: v for k, v in step.breakdown_s.items() if k != "compute" and v > 0}
    if not terms or max(terms.values()) < _NEGLIGIBLE * step.step_time_s:
        return "compute", "compute"
    name = max(terms, key=lambda k: terms[k])
    if name == "bubble":
        return name, "pipeline"
    if name == "optimizer":
        return name, "hbm"
    kind = name.removeprefix("exposed_")
    try:
        ranks = parallel.group(kind)
    except InterconnectSimError:
        return name, "network"
    gpus = fabric.gpus
    nodes = {fabric.graph.nodes[gpus[r]]["node"] for r in ranks if r < len(gpus)}
    return name, "network" if len(nodes) > 1 else "nvlink"


def hosts_of(system: SystemSpec, nodes: int) -> int:
    """Servers in ``nodes`` systems: an NVL72 rack counts its compute trays (18), a DGX one.

    Host-side interruptions (CPU, NIC, software) scale with hosts, not with racks.
    """
    if system.topology == "nvlink-domain" and system.gpus_per_host:
        return nodes * (system.gpu_count // system.gpus_per_host)
    return nodes
