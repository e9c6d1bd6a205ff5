"""Read the text of ``nvidia-smi topo -m``.

A matrix with one row and one column per GPU (``GPU0`` ...) and NIC (``NIC0`` ... with a ``NIC
Legend``, or ``mlx5_0`` ... in older drivers), then ``CPU Affinity``, ``NUMA Affinity`` and, in
newer drivers, ``GPU NUMA ID`` columns. Cells: ``X`` (self), ``NV#`` (a bonded set of # NVLinks),
``PIX`` (at most one PCIe bridge), ``PXB`` (several bridges, no host bridge), ``PHB`` (a PCIe
host bridge), ``NODE`` (between host bridges of one NUMA node), ``SYS`` (across the CPUs' SMP
interconnect). The header may carry ANSI underline codes; columns are tab- or space-separated.

What follows: GPU pairs with ``NV#`` get # direct links; devices with ``PIX``/``PXB`` between them
share a PCIe switch; ``SYS`` separates CPU sockets; NICs sharing a switch with a GPU are compute
NICs, the others (``PHB``/``NODE``/``SYS`` to every GPU) storage or management NICs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from interconnect_sim.errors import SpecError
from interconnect_sim.importers.topo_dump import TopoDump

__all__ = ["looks_like_topo_matrix", "read_topo_matrix"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DEVICE = re.compile(r"^(GPU\d+|NIC\d+|mlx5_\w+|ib\w+|eth\w+|bnxt_\w+|efa\w*|hfi\w+)$")
_CELL = re.compile(r"^(X|NV\d+|PIX|PXB|PHB|NODE|SYS|SOC)$")
_SAME_SWITCH = ("PIX", "PXB")


def looks_like_topo_matrix(text: str) -> bool:
    """True when a row starts ``GPU0  X``: the matrix of ``nvidia-smi topo -m``."""
    return bool(re.search(r"^\s*GPU0\s+X\b", _ANSI.sub("", text), re.M))


class _Matrix:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
        header_index = next(
            (i for i, line in enumerate(lines) if line.split()[:1] == ["GPU0"] and " X" not in line
             and "\tX" not in line),
            None,
        )  # fmt: skip
        if header_index is None:
            raise SpecError(f"{source}: no 'GPU0 GPU1 ...' header line of nvidia-smi topo -m")
        header = lines[header_index].split()
        self.columns = [name for name in header if _DEVICE.match(name)]
        self.rows: dict[str, list[str]] = {}
        self.affinity: dict[str, str] = {}
        self.legend: dict[str, str] = {}
        for number, line in enumerate(lines[header_index + 1 :], start=header_index + 2):
            tokens = line.split()
            if not tokens:
                continue
            if tokens[0] == "Legend:":
                break
            if not _DEVICE.match(tokens[0]):
                continue
            cells = tokens[1 : 1 + len(self.columns)]
            if len(cells) < len(self.columns) or not all(_CELL.match(c) for c in cells):
                raise SpecError(
                    f"{source}, line {number}: expected {len(self.columns)} cells (X, NV#, PIX, "
                    f"PXB, PHB, NODE or SYS) after {tokens[0]}, got {' '.join(cells)!r}"
                )
            self.rows[tokens[0]] = cells
            rest = tokens[1 + len(self.columns) :]
            self.affinity[tokens[0]] = rest[1] if len(rest) >= 2 else rest[0] if rest else ""
        for line in lines:
            match = re.match(r"^\s*(NIC\d+):\s*(\S+)", line)
            if match:
                self.legend[match.group(1)] = match.group(2)
        missing = [name for name in self.columns if name not in self.rows]
        if missing:
            raise SpecError(f"{source}: the matrix has no row for {', '.join(missing)}")

    def cell(self, a: str, b: str) -> str:
        return self.rows[a][self.columns.index(b)]


def _groups(names: list[str], related: Callable[[str, str], bool]) -> list[list[str]]:
    """Connected components of ``related`` over ``names``, each in the order of ``names``."""
    groups: list[list[str]] = []
    for name in names:
        joined = [g for g in groups if any(related(name, other) for other in g)]
        merged = [name] + [n for g in joined for n in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return [sorted(g, key=names.index) for g in groups]


def read_topo_matrix(text: str, source: str) -> TopoDump:
    """The :class:`TopoDump` of an ``nvidia-smi topo -m`` printout.

    Raises
    ------
    SpecError
        No header, a row with too few or unknown cells, an asymmetric NVLink count.
    """
    matrix = _Matrix(text, source)
    gpus = [c for c in matrix.columns if c.startswith("GPU")]
    nics = [c for c in matrix.columns if not c.startswith("GPU")]
    if len(gpus) < 1:
        raise SpecError(f"{source}: no GPU columns")
    dump = TopoDump(source=source, kind="nvidia-smi topo -m", gpus=gpus)
    dump.quote = " ".join([gpus[0], *matrix.rows[gpus[0]]])
    dump.gpu_links = [[0] * len(gpus) for _ in gpus]
    for i, a in enumerate(gpus):
        for j, b in enumerate(gpus):
            cell = matrix.cell(a, b)
            if cell.startswith("NV"):
                if matrix.cell(b, a) != cell:
                    raise SpecError(
                        f"{source}: {a}-{b} is {cell} but {b}-{a} is {matrix.cell(b, a)}"
                    )
                dump.gpu_links[i][j] = int(cell[2:])
    devices = gpus + nics

    def same_switch(a: str, b: str) -> bool:
        return a != b and matrix.cell(a, b) in _SAME_SWITCH

    def same_socket(a: str, b: str) -> bool:
        # NV# hides the PCIe path between two GPUs: only PCIe cells say where devices hang.
        return a != b and matrix.cell(a, b) in ("PIX", "PXB", "PHB", "NODE")

    switched = [g for g in _groups(devices, same_switch) if len(g) > 1]
    dump.pcie_groups = switched
    in_switch = {name for group in switched for name in group}
    for name in nics:
        close = name in in_switch and any(
            g.startswith("GPU") for group in switched if name in group for g in group
        )
        (dump.nics if close else dump.other_nics).append(matrix.legend.get(name, name))
    rename = {n: matrix.legend.get(n, n) for n in nics}
    dump.pcie_groups = [[rename.get(n, n) for n in group] for group in switched]
    sockets = _groups(devices, same_socket)
    for index, group in enumerate(sockets):
        for name in group:
            dump.socket[rename.get(name, name)] = index
    if len(sockets) > 2:
        dump.notes.append(
            f"{len(sockets)} groups of devices separated by SYS; modelled as 2 sockets"
        )
    return dump
