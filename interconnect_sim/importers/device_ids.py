"""Catalog ids for the names and PCI ids that users' files print (``data/device_ids.toml``).

Examples
--------
>>> gpu_for_name("NVIDIA H100 80GB HBM3")
'h100-sxm5-80gb'
>>> gpu_for_pci("0x20B2")
'a100-sxm4-80gb'
>>> nic_for_pci("0x1021")
'connectx-7'
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

__all__ = ["DEVICE_IDS_FILE", "gpu_for_name", "gpu_for_pci", "nic_for_pci"]

DEVICE_IDS_FILE = Path(__file__).parent / "data" / "device_ids.toml"


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _pci(text: str) -> str:
    text = text.strip().lower()
    return text if text.startswith("0x") else f"0x{text}"


@cache
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    with DEVICE_IDS_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    names: dict[str, str] = {}
    gpu_ids: dict[str, str] = {}
    nic_ids: dict[str, str] = {}
    for entry in data.get("gpu", []):
        names.update({_key(name): entry["id"] for name in entry.get("names", [])})
        gpu_ids.update({_pci(pci): entry["id"] for pci in entry.get("pci_device_ids", [])})
    for entry in data.get("nic", []):
        nic_ids.update({_pci(pci): entry["id"] for pci in entry.get("pci_device_ids", [])})
    return names, gpu_ids, nic_ids


def gpu_for_name(name: str) -> str | None:
    """The catalog GPU for a CUDA / nvidia-smi device name, or None."""
    return _tables()[0].get(_key(name))


def gpu_for_pci(device_id: str) -> str | None:
    """The catalog GPU for an NVIDIA PCI device id (``0x2330``), or None."""
    return _tables()[1].get(_pci(device_id))


def nic_for_pci(device_id: str) -> str | None:
    """The catalog NIC for a Mellanox/NVIDIA PCI device id (``0x1021``), or None."""
    return _tables()[2].get(_pci(device_id))
