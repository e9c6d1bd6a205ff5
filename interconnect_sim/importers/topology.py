"""Read a topology dump of either format (``nvidia-smi topo -m`` text or NCCL XML)."""

from __future__ import annotations

from pathlib import Path

from interconnect_sim.errors import SpecError
from interconnect_sim.files import read_text_file
from interconnect_sim.importers.nccl_topo_xml import looks_like_nccl_xml, read_nccl_xml
from interconnect_sim.importers.nvidia_smi_topo import looks_like_topo_matrix, read_topo_matrix
from interconnect_sim.importers.topo_dump import TopoDump

__all__ = ["is_topology_dump", "read_topology_dump"]


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
