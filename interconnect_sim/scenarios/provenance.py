"""Where every hardware number of a fabric comes from.

For each spec a fabric was built from (its GPUs, switches, NICs, links and the system itself) this
lists every quantity of the spec file as written (``"25 GB/s"``, ``18``) with its status from the
catalog's provenance API (:func:`~interconnect_sim.specs.provenance.field_provenance`):

* ``cited (primary)``, ``cited (secondary)`` ...: the file's ``[[sources]]``, with their grades;
* ``inferred``: the file's ``[inferred]`` table names the field and gives the reasoning;
* ``user-supplied``: a user's own file without sources;
* ``announced``: a product only announced (``status = "announced"``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

import pandas as pd

from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.model import Spec
from interconnect_sim.specs.provenance import field_provenance
from interconnect_sim.topology.fabric import Fabric

__all__ = ["PROVENANCE_COLUMNS", "fabric_spec_ids", "hardware_provenance"]

PROVENANCE_COLUMNS = ["spec", "kind", "quantity", "value", "status", "source", "url"]

_NOT_QUANTITIES = frozenset(
    {"id", "kind", "name", "notes", "sources", "checks", "inferred", "status", "year"}
)


def fabric_spec_ids(fabric: Fabric) -> list[str]:
    """Ids of every spec the fabric's devices and links were built from (system first)."""
    ids: dict[str, None] = {}
    system = fabric.graph.graph.get("system")
    if system:
        ids[str(system)] = None
    for _, spec in fabric.graph.nodes(data="spec"):
        if spec:
            ids[str(spec)] = None
    for _, _, spec in fabric.graph.edges(data="link_spec"):
        if spec:
            ids[str(spec)] = None
    return list(ids)


def _cited(spec: Spec) -> str:
    grades = sorted({source.grade for source in spec.sources})
    return f"cited ({', '.join(grades)})" if grades else "uncited"


def _shown(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return None


def _status(label: str, spec: Spec) -> str:
    return _cited(spec) if label == "cited" else label


def _rows_for(catalog: Catalog, spec: Spec) -> list[dict[str, str]]:
    labels = field_provenance(spec)
    try:
        raw = tomllib.loads(catalog.path_of(spec.id).read_text(encoding="utf-8"))
    except (KeyError, OSError):
        raw = {}
    inferred = spec.inferred_fields()
    source = spec.sources[0] if spec.sources else None
    rows = []
    for key, label in labels.items():
        value = raw.get(key)
        shown = _shown(value) if value is not None else None
        if shown is None or not _is_number_like(value):
            continue
        status = _status(label, spec)
        rows.append(
            {
                "spec": spec.id,
                "kind": str(raw.get("kind", "")),
                "quantity": key,
                "value": shown,
                "status": status,
                "source": inferred[key] if label == "inferred" else _source_text(source),
                "url": "" if source is None else source.url,
            }
        )
    return rows


def _is_number_like(value: Any) -> bool:
    """Numbers, or strings that start with a digit (``"25 GB/s"``); not names or ids."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return True
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, int | float) for v in value)
    return isinstance(value, str) and value[:1].isdigit()


def _source_text(source: Any) -> str:
    if source is None:
        return ""
    locator = f", {source.locator}" if source.locator else ""
    return f"{source.title}{locator}"


def hardware_provenance(catalog: Catalog, spec_ids: Iterable[str]) -> pd.DataFrame:
    """One row per hardware quantity of the given specs, with its status and source.

    Examples
    --------
    >>> from interconnect_sim.specs import load_catalog
    >>> table = hardware_provenance(load_catalog(), ["nvlink-4"])
    >>> table.loc[table.quantity == "data_rate_per_direction", ["value", "status"]].values.tolist()
    [['25 GB/s', 'cited (primary)']]
    """
    rows: list[dict[str, str]] = []
    specs = {spec.id: spec for spec in catalog}
    for spec_id in dict.fromkeys(spec_ids):
        if spec_id in specs:
            rows.extend(_rows_for(catalog, specs[spec_id]))
    return pd.DataFrame(rows, columns=PROVENANCE_COLUMNS)
