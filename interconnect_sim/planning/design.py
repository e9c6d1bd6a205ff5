"""A parsed sweep: its design points, objective, constraints and re-check.

:class:`Sweep` holds what :func:`~interconnect_sim.planning.sweep.parse_sweep` checked; its
:meth:`~Sweep.points` expand the axes into :class:`DesignPoint` s, each with every input resolved
and a stable id.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from interconnect_sim.planning.design_keys import DEFAULTS, TABLE_VALUED, axis_value, convert_value

__all__ = ["FABRIC_KEYS", "Constraints", "DesignPoint", "Recheck", "Sweep"]

FABRIC_KEYS = (
    "system",
    "gpu",
    "nodes",
    "gpus",
    "scalable_units",
    "nic",
    "nic_count",
    "switch",
    "levels",
    "oversubscription",
    "calibration",
)
"""Inputs that define a fabric and its collective model (points sharing them share a build)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """What every design must meet (``None``: no limit)."""

    deadline_s: float | None = None
    budget: float | None = None
    power_cap_w: float | None = None
    memory_fit: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Recheck:
    """Which designs to re-time on another engine after the sweep (``[recheck]``).

    Attributes
    ----------
    engine : str
        The engine that re-times them (``"des"``: the discrete-event engine, where the
        communication groups of a step run at once and contend for the links they share).
    top : int
        Designs re-timed per group: the best feasible ones by the objective.
    per : tuple of str
        Inputs that define the groups (default: each system).
    variants : tuple of str
        Inputs along which each chosen design's variants are re-timed too (e.g.
        ``oversubscription``: the same design with the other tapers), so the re-check compares
        them even where the first engine cannot tell them apart.
    """

    engine: str = "des"
    top: int = 1
    per: tuple[str, ...] = ("system",)
    variants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DesignPoint:
    """One design: every input, resolved (relative paths made absolute)."""

    inputs: Mapping[str, Any]

    @property
    def design_id(self) -> str:
        """Stable id of the inputs (same inputs, same id, in any process or machine)."""
        text = json.dumps(self.inputs, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def fabric_key(self) -> tuple[Any, ...]:
        """Inputs that define the fabric (points sharing it share a build and its caches)."""
        return tuple(str(self.inputs.get(k)) for k in FABRIC_KEYS)


@dataclass(frozen=True, slots=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    path: Path
    design: Mapping[str, Any]
    axes: Mapping[str, list[Any]]
    objective: str = "time_to_train"
    constraints: Constraints = field(default_factory=Constraints)
    prices: Path | None = None
    description: str = ""
    recheck: Recheck | None = None

    def points(self) -> Iterator[DesignPoint]:
        """Every design point: the cartesian product of the axes over ``design``."""
        for _, point in self.indexed_points():
            yield point

    def indexed_points(self) -> Iterator[tuple[dict[str, int], DesignPoint]]:
        """Every design point with its position on each axis (axis name -> value index)."""
        names = list(self.axes)
        ranges = [range(len(self.axes[n])) for n in names]
        for indices in itertools.product(*ranges):
            inputs = {**DEFAULTS, **self.design}
            for axis, index in zip(names, indices, strict=True):
                value = self.axes[axis][index]
                if isinstance(value, dict) and axis not in TABLE_VALUED:
                    label = value.get("name")
                    inputs.update({k: v for k, v in value.items() if k != "name"})
                    inputs[axis] = label if label is not None else json.dumps(value, default=str)
                else:
                    inputs[axis] = value
            yield dict(zip(names, indices, strict=True)), DesignPoint(inputs)

    def size(self) -> int:
        """Number of design points."""
        count = 1
        for values in self.axes.values():
            count *= len(values)
        return count

    def with_axes(self, **axes: list[Any]) -> Sweep:
        """The same sweep with some axes replaced (a reduced run, say); values as in the file."""
        base = self.path.parent
        checked = {
            axis: [
                v
                if isinstance(v, dict) and axis not in TABLE_VALUED
                else axis_value(self.path, f"[axes].{axis}[{i}]", axis, v, base)
                for i, v in enumerate(values)
            ]
            for axis, values in axes.items()
        }
        return replace(self, axes={**self.axes, **checked})

    def with_design(self, where: str, **inputs: Any) -> Sweep:
        """The same sweep with ``inputs`` set for every design point (``where`` names the
        source in errors, e.g. ``--calibration``); paths are taken as given (relative to the
        working folder)."""
        checked = {k: convert_value(self.path, where, k, v, Path.cwd()) for k, v in inputs.items()}
        axes = {k: v for k, v in self.axes.items() if k not in checked}
        return replace(self, design={**self.design, **checked}, axes=axes)
