"""Catalog ids for the names and PCI ids that users' files print (``data/device_ids.toml``).

PCI ids are written ``vendor:device`` (``0x10de:0x2330``, ``10de:2330`` as ``lspci -nn`` prints
them) or as a bare device id (``0x2330``), which matches when only one vendor uses it.

Examples
--------
>>> gpu_for_name("NVIDIA H100 80GB HBM3")
'h100-sxm5-80gb'
>>> gpu_for_pci("0x20B2")
'a100-sxm4-80gb'
>>> gpu_for_pci("0x1002:0x74a1")
'mi300x'
>>> nic_for_pci("15b3:1021")
'connectx-7'
>>> pci_for("gpu", "gaudi3")
('0x1da3', '0x1060')
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEVICE_IDS_FILE",
    "gpu_for_name",
    "gpu_for_pci",
    "nic_for_pci",
    "pci_for",
    "pci_id",
    "vendor_name",
]

DEVICE_IDS_FILE = Path(__file__).parent / "data" / "device_ids.toml"

Kind = Literal["gpu", "nic"]


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _hex(text: str) -> str:
    text = text.strip().lower()
    return text if text.startswith("0x") else f"0x{text}"


def pci_id(vendor: str, device: str) -> str:
    """``vendor:device`` in the form the tables use (``0x10de:0x2330``); ``device`` alone when
    the vendor is not known."""
    return f"{_hex(vendor)}:{_hex(device)}" if vendor.strip() else _hex(device)


@cache
def _data() -> dict[str, Any]:
    with DEVICE_IDS_FILE.open("rb") as handle:
        return tomllib.load(handle)


@cache
def _tables() -> tuple[dict[str, str], dict[Kind, dict[str, str]], dict[Kind, dict[str, set[str]]]]:
    data = _data()
    names: dict[str, str] = {}
    by_pci: dict[Kind, dict[str, str]] = {"gpu": {}, "nic": {}}
    by_device: dict[Kind, dict[str, set[str]]] = {"gpu": {}, "nic": {}}
    kind: Kind
    for kind in ("gpu", "nic"):
        for entry in data.get(kind, []):
            names.update({_key(name): entry["id"] for name in entry.get("names", [])})
            if entry.get("export_only"):
                continue
            for device in entry.get("pci_device_ids", []):
                by_pci[kind][pci_id(entry["pci_vendor_id"], device)] = entry["id"]
                by_device[kind].setdefault(_hex(device), set()).add(entry["id"])
    return names, by_pci, by_device


def _lookup(kind: Kind, pci: str) -> str | None:
    _, by_pci, by_device = _tables()
    vendor, _, device = pci.rpartition(":")
    if vendor:
        return by_pci[kind].get(pci_id(vendor, device))
    ids = by_device[kind].get(_hex(device), set())
    return next(iter(ids)) if len(ids) == 1 else None


def gpu_for_name(name: str) -> str | None:
    """The catalog GPU for a CUDA / HIP / nvidia-smi device name, or None."""
    return _tables()[0].get(_key(name))


def gpu_for_pci(pci: str) -> str | None:
    """The catalog GPU for a PCI id (``0x10de:0x2330``, ``1002:74a1`` or ``0x2330``), or None."""
    return _lookup("gpu", pci)


def nic_for_pci(pci: str) -> str | None:
    """The catalog NIC for a PCI id (``0x15b3:0x1021`` or ``0x1021``), or None."""
    return _lookup("nic", pci)


def pci_for(kind: Kind, spec_id: str) -> tuple[str, str] | None:
    """The (vendor, device) PCI ids of a catalog GPU or NIC (its first device id), or None."""
    for entry in _data().get(kind, []):
        if entry["id"] == spec_id and entry.get("pci_device_ids"):
            return _hex(entry["pci_vendor_id"]), _hex(entry["pci_device_ids"][0])
    return None


def vendor_name(vendor: str) -> str:
    """``NVIDIA``, ``AMD (GPUs)`` ... for a PCI vendor id, or the id itself."""
    vendors = _data().get("vendors", {})
    return str(vendors.get(_hex(vendor), _hex(vendor)))
