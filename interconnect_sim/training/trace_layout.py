"""Where a training step's events run: rank groups of every kind, and classes of identical
pipeline replicas (the symmetry a step trace uses).

Ranks follow Megatron's ``tp-cp-dp-pp`` order (:class:`~.parallel.ParallelConfig`): rank
``t + tp (c + cp (d + dp s))`` is tensor rank ``t``, context rank ``c``, data-parallel replica
``d`` of pipeline stage ``s``. A **block** is the smallest run of replicas that no collective
but data parallelism couples: one replica, or, when expert parallelism spans replicas (``ep x
etp`` beyond ``tp x cp``), the replicas one expert-parallel group covers. Blocks of a stage are
identical, and so are their pipelines, unless a what-if makes one slower: a **class** is a set
of blocks whose pipelines run identically. Without a straggler one class holds every block and
the trace describes one pipeline with copies; a block holding a slow GPU gets a class of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from interconnect_sim.errors import ScenarioError
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.workload.events import offset_ranges

__all__ = ["StepLayout"]


@dataclass(frozen=True)
class StepLayout:
    """Rank groups of one step and the classes of identical blocks.

    ``slow_ranks`` maps a rank to the factor its compute takes longer by (1.1 = 10 % slower).
    """

    parallel: ParallelConfig
    slow_ranks: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rank, factor in self.slow_ranks.items():
            if not 0 <= rank < self.parallel.world_size:
                raise ScenarioError(
                    f"slow rank {rank} is outside the job's ranks 0-{self.parallel.world_size - 1}"
                )
            if not factor >= 1.0:
                raise ScenarioError(f"rank {rank}: a slowdown factor must be >= 1, got {factor}")

    @property
    def stage_ranks(self) -> int:
        """Ranks of one pipeline stage: ``tp x cp x dp``."""
        p = self.parallel
        return p.tp * p.cp * p.dp

    @cached_property
    def block_ranks(self) -> int:
        """Ranks of one block of one stage."""
        p = self.parallel
        replica = p.tp * p.cp
        return math.lcm(replica, p.ep * p.expert_tp)

    @property
    def blocks(self) -> int:
        """Blocks per stage."""
        return self.stage_ranks // self.block_ranks

    def block_of(self, rank: int) -> tuple[int, int]:
        """(stage, block) of a rank."""
        stage, within = divmod(rank, self.stage_ranks)
        return stage, within // self.block_ranks

    @cached_property
    def classes(self) -> tuple[tuple[int, ...], ...]:
        """Blocks of each class: blocks whose stages are slowed alike run alike. The first
        class holds the blocks no straggler touches (when there are any)."""
        patterns: dict[tuple[float, ...], list[int]] = {}
        healthy = tuple(1.0 for _ in range(self.parallel.pp))
        patterns[healthy] = []
        for block in range(self.blocks):
            pattern = tuple(self._factor(stage, block) for stage in range(self.parallel.pp))
            patterns.setdefault(pattern, []).append(block)
        return tuple(tuple(blocks) for blocks in patterns.values() if blocks)

    def _factor(self, stage: int, block: int) -> float:
        if not self.slow_ranks:
            return 1.0
        start = stage * self.stage_ranks + block * self.block_ranks
        return max(self.slow_ranks.get(r, 1.0) for r in range(start, start + self.block_ranks))

    def slowdown(self, klass: int, stage: int) -> float:
        """Factor the compute of ``stage`` in class ``klass`` takes longer by."""
        return self._factor(stage, self.classes[klass][0])

    def base(self, klass: int, stage: int) -> int:
        """First rank of ``stage`` in the class's first block."""
        return stage * self.stage_ranks + self.classes[klass][0] * self.block_ranks

    # -- groups: first ranks relative to the block's first rank, and offsets of the others --

    def group(self, kind: str) -> tuple[int, ...]:
        """Ranks of the first group of ``kind`` in a block (relative to its first rank);
        ``stage`` is the whole block (compute)."""
        p = self.parallel
        if kind == "stage":
            return tuple(range(self.block_ranks))
        return tuple(p.group(kind))

    @cached_property
    def _within(self) -> dict[str, list[int]]:
        """Offsets of every group of a kind inside one block."""
        p = self.parallel
        size = self.block_ranks
        replica = p.tp * p.cp
        return {
            "stage": [0],
            "tp": list(range(0, size, p.tp)),
            "cp": [t + replica * k for k in range(size // replica) for t in range(p.tp)],
            "etp": list(range(0, size, p.expert_tp)),
            "ep": [
                e + p.ep * p.expert_tp * k
                for k in range(size // (p.ep * p.expert_tp))
                for e in range(p.expert_tp)
            ],
            "pp": list(range(size)),
        }

    def copies(self, kind: str, klass: int) -> tuple[range, ...]:
        """Offsets of every copy of a group of ``kind`` in the class (block and class copies)."""
        return self._copies(kind, klass)

    def _copies(self, kind: str, klass: int) -> tuple[range, ...]:
        key = (kind, klass)
        cache = self._copy_cache
        if key not in cache:
            first = self.classes[klass][0]
            blocks = [(b - first) * self.block_ranks for b in self.classes[klass]]
            offsets = [w + b for b in blocks for w in self._within[kind]]
            cache[key] = offset_ranges(offsets) if len(offsets) > 1 else ()
        return cache[key]

    @cached_property
    def _copy_cache(self) -> dict[tuple[str, int], tuple[range, ...]]:
        return {}

    def data_parallel(self, kind: str, stage: int) -> tuple[tuple[int, ...], tuple[range, ...]]:
        """Ranks of the first ``dp`` (or ``edp``) group of a stage and the offsets of the rest
        (every tensor and context rank; every expert-TP and expert rank)."""
        p = self.parallel
        first = tuple(stage * self.stage_ranks + r for r in p.group(kind))
        width = p.tp * p.cp if kind == "dp" else p.expert_tp * p.ep
        return first, offset_ranges(range(width)) if width > 1 else ()
