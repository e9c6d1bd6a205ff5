"""One exception tree for everything a user can get wrong.

The CLI turns any :class:`InterconnectSimError` into a one-line message and exit status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "InterconnectSimError",
    "MeasurementError",
    "ScenarioError",
    "SpecError",
    "TopologyError",
    "TraceError",
    "UnitError",
    "naming",
]


class InterconnectSimError(Exception):
    """Base class of every error caused by user input or data files."""


class UnitError(InterconnectSimError, ValueError):
    """A quantity string could not be parsed (bad number, unknown or ambiguous unit)."""


class SpecError(InterconnectSimError):
    """A hardware spec file is malformed, uncited or inconsistent."""


class TopologyError(InterconnectSimError):
    """A fabric could not be built or violates an invariant."""


class ScenarioError(InterconnectSimError):
    """A scenario or command-line request is invalid (unknown preset, bad parameter...)."""


class MeasurementError(InterconnectSimError):
    """A measurement file (nccl-tests results to score against) is malformed."""


class TraceError(InterconnectSimError):
    """A collective trace is malformed (bad line, unknown id, cycle, rank out of range)."""


def naming(exc: InterconnectSimError, source: object) -> InterconnectSimError:
    """``exc``, its message led by ``source`` (a scenario file) unless it names it already: an
    error in a file the scenario names, or caused by a value it set, says which run it was."""
    if str(source) in str(exc):
        return exc
    try:
        return type(exc)(f"{source}: {exc}")
    except TypeError:  # an error type that takes other arguments
        return ScenarioError(f"{source}: {exc}")
