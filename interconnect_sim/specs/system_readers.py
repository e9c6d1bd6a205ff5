"""Systems given in another format than the catalog's TOML: the hook that topology dumps use.

A system reference (``--system``, a scenario's or a measurement file's ``system``) is a preset
id, a system TOML file or, once a reader is registered here, any file a reader understands:
``nvidia-smi topo -m`` text or NCCL's topology XML. Readers live above this layer
(``interconnect_sim.importers.topology``); the command line registers them, so the specs and
topology layers never import the importers (``docs/design/system-dumps.md``).

A reader turns the file into the mapping a system TOML file would hold, which then goes through
the same loader and checks as a file (:meth:`Catalog.resolve_system`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interconnect_sim.specs.catalog import Catalog

__all__ = ["SystemHints", "SystemReader", "register_system_reader", "system_readers"]


@dataclass(frozen=True, slots=True)
class SystemHints:
    """What the user adds for a dump that does not say it: ``--gpu`` and ``--nic`` ids.

    Attributes
    ----------
    gpu : str, optional
        Catalog GPU id (``nvidia-smi topo -m`` names no model).
    nic : str, optional
        Catalog NIC id of the compute NICs.
    """

    gpu: str | None = None
    nic: str | None = None


SystemReader = Callable[[Path, "Catalog", SystemHints], Mapping[str, Any] | None]
"""``reader(path, catalog, hints)``: the system file's mapping (its ``id``, ``kind = "system"``,
``[[sources]]`` ...), or None when the file is not the reader's format; a file of its format
that cannot be read raises :class:`~interconnect_sim.errors.SpecError` naming the file."""

_READERS: list[SystemReader] = []


def register_system_reader(reader: SystemReader) -> None:
    """Let system references name files ``reader`` understands (idempotent).

    Examples
    --------
    The command line registers the topology-dump reader of the importers:

    >>> from interconnect_sim.importers.topology import system_from_dump_file
    >>> register_system_reader(system_from_dump_file)
    >>> system_from_dump_file in system_readers()
    True
    """
    if reader not in _READERS:
        _READERS.append(reader)


def system_readers() -> tuple[SystemReader, ...]:
    """The registered readers, in the order they are tried."""
    return tuple(_READERS)
