"""Shared fixtures: the shipped catalog and a fabric builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from interconnect_sim.specs import Catalog, load_catalog
from interconnect_sim.topology import Fabric, FabricRequest, build_fabric


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def build(catalog: Catalog) -> Callable[..., Fabric]:
    def _build(system: str, **options: Any) -> Fabric:
        return build_fabric(catalog, FabricRequest(system=system, **options))

    return _build
