"""How sure each stored number is: cited, measured, inferred, user-supplied or only announced.

Every spec file cites ``[[sources]]``; fields no source gives are listed under ``[inferred]``
with the reasoning. A user's own file (``--catalog DIR``, a system file on the command line) may
omit sources: its numbers are then *user-supplied*. A user's file whose every source is of grade
``measured`` (a system read from the user's own ``nvidia-smi topo -m`` or NCCL topology XML)
holds what their machine reported: its numbers are *measured*, and what the importer took from
the catalog is listed under ``[inferred]``. A spec with ``status = "announced"`` describes a
product only announced: its numbers are the announcement's. Outputs show these labels so a
reader can tell a datasheet value from an assumption.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Literal

from interconnect_sim.specs.loader import SPEC_KINDS
from interconnect_sim.specs.model import Spec

__all__ = ["ProvenanceLabel", "field_provenance", "origin_label", "provenance_summary"]

ProvenanceLabel = Literal["cited", "measured", "inferred", "user-supplied", "announced"]

_NOT_VALUES = {"id", "kind", "name", "notes", "sources", "checks", "inferred", "status"}


def _kind_of(spec: Spec) -> str:
    return next(kind for kind, (cls, _) in SPEC_KINDS.items() if isinstance(spec, cls))


def _is_set(spec: Spec, attribute: str) -> bool:
    """Whether a field carries a value (required, or different from its default)."""
    field = next(f for f in fields(spec) if f.name == attribute)
    if field.default is not MISSING:
        return bool(getattr(spec, attribute) != field.default)
    if field.default_factory is not MISSING:
        return bool(getattr(spec, attribute) != field.default_factory())
    return True


def field_provenance(spec: Spec) -> dict[str, ProvenanceLabel]:
    """Every value-carrying key of ``spec`` (as files spell it) mapped to its provenance.

    Examples
    --------
    >>> from interconnect_sim.specs import load_catalog
    >>> labels = field_provenance(load_catalog().system("dgx-h100"))
    >>> labels["gpu_count"], labels["pcie_switch_uplink_lanes"]
    ('cited', 'inferred')
    """
    _, table = SPEC_KINDS[_kind_of(spec)]
    inferred = spec.inferred_fields()
    if spec.origin == "user" and not spec.sources:
        base: ProvenanceLabel = "user-supplied"
    elif spec.status == "announced":
        base = "announced"
    elif spec.origin == "user" and all(source.grade == "measured" for source in spec.sources):
        base = "measured"
    else:
        base = "cited"
    labels: dict[str, ProvenanceLabel] = {}
    for key, entry in table.items():
        if key in _NOT_VALUES or not _is_set(spec, entry.attribute):
            continue
        labels[key] = "inferred" if key in inferred else base
    return labels


def origin_label(spec: Spec) -> str:
    """What kind of entry this is: ``preset`` (a shipped system; ``shipped`` for other kinds),
    ``user file`` or ``announced (hypothetical)``."""
    if spec.status == "announced":
        return "announced (hypothetical)"
    if spec.origin == "user":
        return "user file"
    return "preset" if _kind_of(spec) == "system" else "shipped"


def provenance_summary(spec: Spec) -> str:
    """One line: ``cited (inferred: a, b)``, ``user-supplied``, ``announced (inferred: c)``."""
    labels = field_provenance(spec)
    kinds = sorted(set(labels.values()) - {"inferred"}) or ["inferred"]
    text = ", ".join(kinds)
    inferred = sorted(k for k, v in labels.items() if v == "inferred")
    if inferred and kinds != ["inferred"]:
        text += f" (inferred: {', '.join(inferred)})"
    return text
