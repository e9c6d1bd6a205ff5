"""The catalog: every spec file, indexed by id, with cross-references and headline checks.

Examples
--------
>>> from interconnect_sim.specs import load_catalog
>>> catalog = load_catalog()
>>> catalog.link("nvlink-4").data_rate_per_direction_bytes_per_s
25000000000.0
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from interconnect_sim.errors import SpecError
from interconnect_sim.specs.loader import load_spec_file, spec_from_data
from interconnect_sim.specs.model import (
    Check,
    GpuSpec,
    LinkSpec,
    NicSpec,
    Spec,
    SuperPodSpec,
    SwitchSpec,
    SystemSpec,
    TransceiverSpec,
)
from interconnect_sim.specs.system_readers import SystemHints, system_readers

__all__ = [
    "DATA_DIR",
    "SYSTEM_FILE_SUFFIXES",
    "Catalog",
    "CheckResult",
    "SystemHints",
    "is_system_path",
    "load_catalog",
]

DATA_DIR = Path(__file__).parent / "data"
"""Folder of the shipped spec files, one TOML file per product or generation."""

SpecT = TypeVar("SpecT", bound=Spec)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one ``[[checks]]`` entry."""

    spec_id: str
    check: Check
    derived: float

    @property
    def ok(self) -> bool:
        """True when ``derived x multiplier`` matches the published headline within tolerance."""
        return math.isclose(
            self.derived * self.check.multiplier,
            self.check.expected,
            rel_tol=max(self.check.rel_tol, 1e-9),
        )


SYSTEM_FILE_SUFFIXES = (".toml", ".xml", ".txt")
"""Suffixes that make a system reference a file: system TOML files, topology dumps."""


def is_system_path(reference: str) -> bool:
    """Whether a ``--system`` value names a file (``my-node.toml``, ``topo.txt``, ``nodes/x``)
    rather than a preset id."""
    return reference.lower().endswith(SYSTEM_FILE_SUFFIXES) or "/" in reference or "\\" in reference


class Catalog:
    """All specs by id, with typed lookups that fail with a clear message.

    Ids are matched case-insensitively (``DGX-H100`` is ``dgx-h100``); an unknown id names the
    nearest known ones.
    """

    def __init__(self, specs: dict[str, Spec], paths: dict[str, Path]) -> None:
        self._specs = specs
        self._paths = paths
        self._folded = {spec_id.lower(): spec_id for spec_id in specs}
        self._system_files: dict[tuple[Path, float, SystemHints | None], SystemSpec] = {}
        self._check_references()

    def __iter__(self) -> Iterator[Spec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, spec_id: object) -> bool:
        return isinstance(spec_id, str) and spec_id.lower() in self._folded

    def path_of(self, spec_id: str) -> Path:
        """The file a spec was read from (shipped data, a ``--catalog`` folder or a system file)."""
        for (path, *_), spec in self._system_files.items():
            if spec.id == spec_id:
                return path
        return self._paths[self._folded.get(spec_id.lower(), spec_id)]

    def _get(self, spec_id: str, cls: type[SpecT], what: str) -> SpecT:
        spec = self._specs.get(self._folded.get(spec_id.lower(), spec_id))
        if not isinstance(spec, cls):
            known = sorted(s.id for s in self._specs.values() if isinstance(s, cls))
            near = difflib.get_close_matches(spec_id.lower(), known, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            raise SpecError(f"unknown {what} {spec_id!r}; {hint}known: {', '.join(known)}")
        return spec

    def link(self, spec_id: str) -> LinkSpec:
        """The link spec with this id."""
        return self._get(spec_id, LinkSpec, "link")

    def gpu(self, spec_id: str) -> GpuSpec:
        """The GPU spec with this id."""
        return self._get(spec_id, GpuSpec, "GPU")

    def nic(self, spec_id: str) -> NicSpec:
        """The NIC spec with this id."""
        return self._get(spec_id, NicSpec, "NIC")

    def switch(self, spec_id: str) -> SwitchSpec:
        """The switch spec with this id."""
        return self._get(spec_id, SwitchSpec, "switch")

    def system(self, spec_id: str) -> SystemSpec:
        """The system spec with this id."""
        return self._get(spec_id, SystemSpec, "system")

    def superpod(self, spec_id: str) -> SuperPodSpec:
        """The SuperPOD reference design with this id."""
        return self._get(spec_id, SuperPodSpec, "SuperPOD design")

    def transceiver(self, spec_id: str) -> TransceiverSpec:
        """The transceiver or cable spec with this id."""
        return self._get(spec_id, TransceiverSpec, "transceiver")

    def resolve_system(self, reference: str, hints: SystemHints | None = None) -> SystemSpec:
        """A system given as a preset id (any case), a path to a system TOML file, or a path to
        a file a registered reader understands (a topology dump: :mod:`.system_readers`).

        A file is read as a user's file (values without ``[[sources]]`` user-supplied, a dump's
        measured), checked like a preset, and its id must not be a preset's; read once per
        catalog (again if it changes). An existing file that is not a preset id is a file.

        Parameters
        ----------
        reference : str
            Preset id or path.
        hints : SystemHints, optional
            ``--gpu`` / ``--nic`` for a dump that does not name its models. A GPU hint that
            differs from a preset's or a TOML file's GPU is an error (it would be ignored).

        Raises
        ------
        SpecError
            Unknown id (naming the nearest ones), missing or unreadable file, a file that is
            not a system, or a bad value (naming the file, the key and the value).
        """
        hints = hints or SystemHints()
        folded = reference.lower() in self._folded
        as_file = Path(reference).expanduser()
        if not is_system_path(reference) and (folded or not as_file.is_file()):
            return self._without_gpu_hint(self.system(reference), reference, hints)
        path = as_file.resolve()
        if not path.is_file():
            raise SpecError(f"system file {reference!r} does not exist")
        toml = path.suffix.lower() == ".toml"
        key = (path, path.stat().st_mtime, None if toml else hints)
        if key not in self._system_files:
            self._system_files[key] = (
                self._load_system_file(path) if toml else self._read_system_dump(path, hints)
            )
        spec = self._system_files[key]
        return self._without_gpu_hint(spec, reference, hints) if toml else spec

    def _without_gpu_hint(self, spec: SystemSpec, reference: str, hints: SystemHints) -> SystemSpec:
        if hints.gpu is not None and self.gpu(hints.gpu).id != spec.gpu:
            raise SpecError(
                f"--gpu {hints.gpu} names the GPU of a topology dump (nvidia-smi topo -m, NCCL "
                f"XML); {reference!r} is a system file or preset whose GPU is {spec.gpu}"
            )
        return spec

    def _read_system_dump(self, path: Path, hints: SystemHints) -> SystemSpec:
        for reader in system_readers():
            data = reader(path, self, hints)
            if data is not None:
                break
        else:
            formats = (
                "a topology dump this tool reads (nvidia-smi topo -m, NCCL or RCCL XML)"
                if system_readers()
                else "a topology dump (register a reader: interconnect_sim.specs.system_readers)"
            )
            raise SpecError(f"{path}: neither a system file (.toml) nor {formats}")
        spec = spec_from_data(data, path, origin="user", check_id=False)
        if not isinstance(spec, SystemSpec):
            raise SpecError(f"{path}: a reader returned a {type(spec).__name__}, not a system")
        return self._checked_user_system(spec, path)

    def _load_system_file(self, path: Path) -> SystemSpec:
        spec = load_spec_file(path, origin="user")
        if not isinstance(spec, SystemSpec):
            kind = type(spec).__name__.removesuffix("Spec").lower()
            raise SpecError(
                f'{path}: kind: is {kind!r}; a system file needs kind = "system" (GPU, '
                "link, NIC and switch files go in a folder passed with --catalog)"
            )
        return self._checked_user_system(spec, path)

    def _checked_user_system(self, spec: SystemSpec, path: Path) -> SystemSpec:
        if spec.id.lower() in self._folded:
            other = self._paths[self._folded[spec.id.lower()]]
            raise SpecError(
                f"{path}: id: {spec.id!r} is already defined in {other}; rename the file "
                "(its stem is its id)"
            )
        try:
            self._check_spec_references(spec)
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from None
        return spec

    def provenance(self, spec: Spec | str) -> dict[str, str]:
        """Each value-carrying key of a spec mapped to ``cited``, ``measured``, ``inferred``,
        ``user-supplied`` or ``announced`` (see :mod:`interconnect_sim.specs.provenance`)."""
        from interconnect_sim.specs.provenance import field_provenance

        resolved = spec if isinstance(spec, Spec) else self._get(spec, Spec, "spec")
        return dict(field_provenance(resolved))

    def of_kind(self, cls: type[SpecT]) -> list[SpecT]:
        """Every spec of one class, sorted by id."""
        return sorted((s for s in self if isinstance(s, cls)), key=lambda s: s.id)

    # -- cross-references ------------------------------------------------------------------

    def _check_references(self) -> None:
        for spec in self:
            try:
                self._check_spec_references(spec)
            except SpecError as exc:
                raise SpecError(f"{self._paths[spec.id]}: {exc}") from None
            unknown = [c.quantity for c in spec.checks if c.quantity not in self.derived(spec)]
            if unknown:
                raise SpecError(
                    f"{self._paths[spec.id]}: checks name unknown quantity {unknown[0]!r}; "
                    f"known for this kind: {', '.join(sorted(self.derived(spec)))}"
                )

    def _check_spec_references(self, spec: Spec) -> None:
        if isinstance(spec, GpuSpec):
            self.link(spec.pcie)
            if spec.nvlink is not None:
                self.link(spec.nvlink)
        elif isinstance(spec, NicSpec):
            self.link(spec.port_link)
            self.link(spec.host_link)
            for link_id in spec.supported_links:
                self.link(link_id)
        elif isinstance(spec, SwitchSpec):
            self.link(spec.port_link)
        elif isinstance(spec, SystemSpec):
            from interconnect_sim.specs.system_checks import check_system

            check_system(self, spec)
            if spec.superpod is not None:
                self.superpod(spec.superpod)
        elif isinstance(spec, TransceiverSpec):
            self.link(spec.link)
        elif isinstance(spec, SuperPodSpec):
            self.system(spec.system)
            for switch_id in (spec.leaf_switch, spec.spine_switch, spec.core_switch):
                self.switch(switch_id)

    # -- derived quantities and headline checks ---------------------------------------------

    def derived(self, spec: Spec) -> dict[str, float]:
        """Quantities a ``[[checks]]`` entry may name, in bytes/s per direction."""
        if isinstance(spec, LinkSpec):
            return {"data_rate_per_direction": spec.data_rate_per_direction_bytes_per_s}
        if isinstance(spec, GpuSpec):
            pcie = self.link(spec.pcie).rate_for_lanes_bytes_per_s(spec.pcie_lanes)
            nvlink = 0.0
            if spec.nvlink is not None:
                nvlink = self.link(spec.nvlink).data_rate_per_direction_bytes_per_s
            return {
                "nvlink_per_direction": nvlink * spec.nvlink_count,
                "pcie_per_direction": pcie,
                "memory_bandwidth": spec.memory_bandwidth_bytes_per_s,
            }
        if isinstance(spec, NicSpec):
            port = self.link(spec.port_link).data_rate_per_direction_bytes_per_s
            return {"port_rate_per_direction": port, "total_per_direction": port * spec.port_count}
        if isinstance(spec, SwitchSpec):
            port = self.link(spec.port_link).data_rate_per_direction_bytes_per_s
            return {
                "port_rate_per_direction": port,
                "aggregate_per_direction": port * spec.port_count,
            }
        if isinstance(spec, SystemSpec):
            return self._derived_system(spec)
        return {}

    def _derived_system(self, spec: SystemSpec) -> dict[str, float]:
        gpu = self.gpu(spec.gpu)
        per_gpu_nvlink = self.derived(gpu)["nvlink_per_direction"]
        scale_out = 0.0
        if spec.nic is not None:
            scale_out = self.derived(self.nic(spec.nic))["port_rate_per_direction"] * spec.nic_count
        switch_aggregate = 0.0
        if spec.nvswitch is not None:
            switch = self.switch(spec.nvswitch)
            switch_aggregate = self.derived(switch)["aggregate_per_direction"] * spec.nvswitch_count
        return {
            "nvlink_per_gpu_per_direction": per_gpu_nvlink,
            "nvlink_all_gpus_per_direction": per_gpu_nvlink * spec.gpu_count,
            "scale_up_per_gpu_per_direction": self._wired_scale_up(spec),
            "scale_out_per_system_per_direction": scale_out,
            "nvswitch_aggregate_per_direction": switch_aggregate,
        }

    def _wired_scale_up(self, spec: SystemSpec) -> float:
        """Scale-up bandwidth the system wires to its first GPU (per direction): the links of
        its mesh row, switch links or bridge, which may be fewer than the GPU has (Gaudi 3
        uses 21 of its 24 ports for the mesh)."""
        gpu = self.gpu(spec.gpu)
        link_id = spec.mesh_link if spec.topology == "mesh" and spec.mesh_link else gpu.nvlink
        if link_id is None:
            return 0.0
        rate = self.link(link_id).data_rate_per_direction_bytes_per_s
        if spec.topology == "mesh":
            links = sum(spec.link_matrix[0]) if spec.link_matrix else 0
        elif spec.topology == "pcie":
            bridged = any(0 in pair for pair in spec.nvlink_bridge_pairs)
            links = spec.nvlink_bridge_link_count if bridged else 0
        else:
            links = sum(spec.gpu_links_per_nvswitch)
        return rate * links

    def run_checks(self) -> list[CheckResult]:
        """Evaluate every ``[[checks]]`` entry of every spec."""
        results: list[CheckResult] = []
        for spec in self:
            quantities = self.derived(spec)
            results.extend(
                CheckResult(spec.id, check, quantities[check.quantity]) for check in spec.checks
            )
        return results


def _read_folder(folder: Path, *, user: bool = False) -> tuple[dict[str, Spec], dict[str, Path]]:
    if user and not folder.is_dir():
        raise SpecError(f"--catalog {str(folder)!r} is not a folder of spec files")
    specs: dict[str, Spec] = {}
    paths: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.toml")):
        spec = load_spec_file(path, origin="user" if user else "shipped")
        if spec.id in specs:
            raise SpecError(f"{path}: id {spec.id!r} is also defined in {paths[spec.id]}")
        specs[spec.id] = spec
        paths[spec.id] = path
    return specs, paths


@cache
def _load_cached(folder: Path) -> Catalog:
    specs, paths = _read_folder(folder)
    return Catalog(specs, paths)


def load_catalog(*folders: Path) -> Catalog:
    """Load the shipped catalog, plus any extra folders of user spec files.

    Parameters
    ----------
    *folders : Path
        Extra folders of a user's spec files (``--catalog DIR``), searched recursively for
        ``*.toml``; their ids must not clash with the shipped ones (compared case-insensitively).
        Their values may omit ``[[sources]]`` and are then shown as user-supplied.

    Returns
    -------
    Catalog
    """
    if not folders:
        return _load_cached(DATA_DIR)
    specs, paths = _read_folder(DATA_DIR)
    for folder in folders:
        extra_specs, extra_paths = _read_folder(Path(folder), user=True)
        known = {spec_id.lower(): spec_id for spec_id in specs}
        for spec_id, path in extra_paths.items():
            if spec_id.lower() in known:
                other = paths[known[spec_id.lower()]]
                raise SpecError(f"{path}: id {spec_id!r} is also defined in {other}")
        specs.update(extra_specs)
        paths.update(extra_paths)
    return Catalog(specs, paths)
