"""Read a topology dump of either format (``nvidia-smi topo -m`` text or NCCL / RCCL XML).

:func:`system_from_dump_file` is the system reader the command line registers
(:func:`interconnect_sim.specs.system_readers.register_system_reader`), so a dump works
wherever a system file does: ``topo topo.txt --gpu h100-sxm5-80gb --nic connectx-7``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError
from interconnect_sim.files import read_text_file
from interconnect_sim.importers.nccl_topo_xml import looks_like_nccl_xml, read_nccl_xml
from interconnect_sim.importers.nvidia_smi_topo import looks_like_topo_matrix, read_topo_matrix
from interconnect_sim.importers.system_file import (
    SystemChoices,
    system_from_dump,
    system_id_for,
)
from interconnect_sim.importers.topo_dump import TopoDump
from interconnect_sim.specs.catalog import Catalog
from interconnect_sim.specs.system_readers import SystemHints

__all__ = ["is_topology_dump", "read_topology_dump", "system_from_dump_file"]


def is_topology_dump(path: Path) -> bool:
    """True when ``path`` is a readable ``nvidia-smi topo -m`` or NCCL XML file."""
    try:
        text = Path(path).read_text(errors="replace")[:200000]
    except OSError:
        return False
    return looks_like_nccl_xml(text) or looks_like_topo_matrix(text)


def read_topology_dump(path: Path) -> TopoDump:
    """The :class:`TopoDump` of a dump file, whichever format it is.

    Raises
    ------
    SpecError
        Unreadable, not UTF-8, empty, or neither format.
    """
    text = read_text_file(path, "topology", SpecError)
    if looks_like_nccl_xml(text):
        return read_nccl_xml(text, str(path))
    if looks_like_topo_matrix(text):
        return read_topo_matrix(text, str(path))
    raise SpecError(
        f"{path}: not a topology dump this tool reads; expected the output of "
        "`nvidia-smi topo -m` or NCCL's topology XML (NCCL_TOPO_DUMP_FILE)"
    )


def system_from_dump_file(
    path: Path, catalog: Catalog, hints: SystemHints
) -> dict[str, Any] | None:
    """The system file (as a mapping) of a topology dump, or None for a file of another format.

    ``hints`` are the ``--gpu`` / ``--nic`` the dump may need. The system's id is the file's
    name, with ``-dump`` added when that is a catalog id (``export-topo dgx-h100 --out
    dgx-h100.xml`` and then ``topo dgx-h100.xml`` builds ``dgx-h100-dump``).

    Raises
    ------
    SpecError
        A dump that cannot be read, or whose GPU or NIC model is neither named nor given (the
        message names the flag to add).
    """
    text = read_text_file(path, "topology", SpecError)
    if looks_like_nccl_xml(text):
        dump = read_nccl_xml(text, str(path))
    elif looks_like_topo_matrix(text):
        dump = read_topo_matrix(text, str(path))
    else:
        return None
    system_id = system_id_for(str(path))
    if system_id in catalog:
        system_id += "-dump"
    choices = SystemChoices(gpu=hints.gpu, nic=hints.nic, id=system_id)
    return system_from_dump(dump, catalog, choices)
