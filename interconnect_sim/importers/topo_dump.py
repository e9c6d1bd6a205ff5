"""What a topology dump says about one server, before it becomes a system file.

Both readers (``nvidia-smi topo -m`` text, NCCL's or RCCL's topology XML) fill a
:class:`TopoDump`: the GPUs, the scale-up links between GPUs (NVLink, AMD Infinity Fabric) or to
NVSwitch chips, which devices share a PCIe switch, which CPU socket each device hangs off, the
NICs, and the PCI ids where the format gives them.
:mod:`interconnect_sim.importers.system_file` turns it into the catalog's system schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TopoDump"]


@dataclass(slots=True)
class TopoDump:
    """One server's topology as a dump describes it.

    Attributes
    ----------
    source : str
        The file (for messages and the system file's source).
    kind : str
        ``nvidia-smi topo -m`` or ``NCCL topology XML``.
    notes : list of str
        What the reader had to approximate, carried into the system file's ``notes``.
    gpus : list of str
        GPU names in order (``GPU0`` ...).
    gpu_links : list of list of int
        Direct GPU-to-GPU scale-up link counts (``NV#``, XML ``<nvlink>`` or ``<xgmi>``),
        symmetric, zero diagonal.
    link_family : str
        The link family of those links: ``nvlink`` or ``infinity-fabric`` (RCCL's ``<xgmi>``).
    switch_links : list of dict
        Per GPU, NVLink counts to each NVSwitch chip it links to (XML only).
    nics : list of str
        NICs close to a GPU (sharing a PCIe switch): the compute NICs.
    other_nics : list of str
        NICs only reachable through the host bridge or the CPUs (storage, management).
    pcie_groups : list of list of str
        Devices under one PCIe switch (``PIX``/``PXB`` between them, or one XML ``<pci>``
        bridge); devices on a CPU root port are in no group.
    socket : dict
        Device name -> CPU socket index.
    gpu_pci_ids, nic_pci_ids : list of str
        PCI ids as ``vendor:device`` (``0x10de:0x2330``) where the dump names them.
    pcie_gen : int, optional
        PCIe generation of the GPUs' links, where the dump says it.
    cpu_vendor : str, optional
        ``AMD`` or ``Intel``, where the dump says it (XML ``<cpu vendor>``).
    quote : str
        A line of the dump, quoted in the system file's source.
    """

    source: str
    kind: str
    gpus: list[str] = field(default_factory=list)
    gpu_links: list[list[int]] = field(default_factory=list)
    link_family: str = "nvlink"
    switch_links: list[dict[str, int]] = field(default_factory=list)
    nics: list[str] = field(default_factory=list)
    other_nics: list[str] = field(default_factory=list)
    pcie_groups: list[list[str]] = field(default_factory=list)
    socket: dict[str, int] = field(default_factory=dict)
    gpu_pci_ids: list[str] = field(default_factory=list)
    nic_pci_ids: list[str] = field(default_factory=list)
    pcie_gen: int | None = None
    cpu_vendor: str | None = None
    quote: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def socket_count(self) -> int:
        """Number of CPU sockets the devices hang off (at least 1)."""
        return max(1, len(set(self.socket.values())))
