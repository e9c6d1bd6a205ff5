"""GPU and precision names as published runs spell them, parsed exactly.

A row's GPU (``NVIDIA H100-SXM5-80GB``, ``A100-80GB (Selene)``, ``GB200``) is reduced to its
model token, form factor and memory; the token must name a known GPU exactly (``GB200`` is not
``B200``, ``H800`` is not ``H100``), and the GPU spec and preset system it maps to are named in
:data:`GPU_MODELS`. Precisions (``FP8-CS``, ``MXFP8``, ``NVFP4``, ``mixed precision (16-bit)``)
map to the step model's exact recipe names. Anything else is an error that says what was read,
never a silent substitute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from interconnect_sim.errors import MeasurementError

__all__ = ["GPU_MODELS", "GpuName", "parse_gpu", "parse_precision"]


@dataclass(frozen=True, slots=True)
class GpuName:
    """A GPU name from a run file, resolved."""

    model: str  # the model token as published, upper case: H100, GB200, A100 ...
    spec: str | None  # GPU spec id in the catalog
    system: str | None  # preset system the run is timed on
    note: str = ""


# model token -> {memory GB or None (any): (gpu spec id, system preset id, note)}
GPU_MODELS: dict[str, dict[int | None, tuple[str | None, str | None, str]]] = {
    "A100": {
        80: ("a100-sxm4-80gb", "dgx-a100", "A100 80 GB taken as SXM4 (DGX A100)"),
        40: ("a100-sxm4-40gb", None, "no preset system with A100 40 GB GPUs"),
    },
    "A800": {None: ("a800-sxm4-80gb", "a800-8x", "")},
    "H100": {
        80: ("h100-sxm5-80gb", "dgx-h100", ""),
        None: ("h100-sxm5-80gb", "dgx-h100", "H100 form factor not stated: SXM5 80 GB assumed"),
    },
    "H800": {None: ("h800-sxm5-80gb", "h800-8x", "")},
    "H20": {None: ("h20-96gb", None, "no preset system with H20 GPUs")},
    "H200": {None: ("h200-sxm-141gb", "dgx-h200", "")},
    "GH200": {None: ("gh200", "dgx-gh200", "")},
    "B100": {None: ("b100-sxm-192gb", "hgx-b100", "")},
    "B200": {None: ("b200-sxm-180gb", "dgx-b200", "")},
    "B300": {None: ("b300-sxm-270gb", "dgx-b300", "")},
    "GB200": {None: ("gb200", "gb200-nvl72", "")},
    "GB300": {None: ("gb300", "gb300-nvl72", "")},
    "V100": {
        32: ("v100-sxm2-32gb", "dgx1-v100", ""),
        16: ("v100-sxm2-16gb", None, "no preset system with V100 16 GB GPUs"),
    },
    "MI300X": {None: ("mi300x", "mi300x-8x", "")},
    "MI325X": {None: ("mi325x", None, "no preset system with MI325X GPUs")},
    "MI355X": {None: ("mi355x", "mi355x-8x", "")},
    "GAUDI 3": {None: ("gaudi3", "gaudi3-8x", "")},
    "RUBIN": {None: ("rubin", "rubin-nvl144", "Rubin is announced, not shipping")},
}
_TOKEN = re.compile(
    r"^(?:NVIDIA\s+|AMD\s+(?:INSTINCT\s+)?|INTEL\s+)?(GB300|GB200|GH200|B300|B200|B100|H800|"
    r"H200|H100|H20|A800|A100|V100|MI355X|MI325X|MI300X|GAUDI\s*3|RUBIN|TPU\s*V\d\w*)"
    r"(?![0-9A-Z])"
)


def parse_gpu(text: str) -> GpuName:
    """Resolve a run file's GPU name.

    Raises
    ------
    MeasurementError
        Not a GPU, an unknown model token, or a known GPU without a spec or preset system
        (saying which).

    Examples
    --------
    >>> parse_gpu("NVIDIA H100-SXM5-80GB").system
    'dgx-h100'
    >>> parse_gpu("GB200").spec
    'gb200'
    """
    raw = str(text).strip()
    upper = raw.upper()
    if "NOT A GPU" in upper or upper.startswith("TPU"):
        raise MeasurementError(f"{raw!r} is not a GPU")
    match = _TOKEN.match(upper)
    if match is None:
        raise MeasurementError(f"GPU {raw!r} is not a GPU model this tool knows")
    model = re.sub(r"\s+", " ", match.group(1)).replace("GAUDI3", "GAUDI 3")
    memory_match = re.search(r"(\d+)\s*GB", upper[match.end() :].split("(")[0])
    memory = int(memory_match.group(1)) if memory_match else None
    variants = GPU_MODELS.get(model)
    if variants is None:
        raise MeasurementError(f"GPU {model} ({raw!r}) has no GPU spec")
    if memory in variants:
        spec, system, note = variants[memory]
    elif None in variants:
        spec, system, note = variants[None]
    else:
        sizes = ", ".join(f"{m} GB" for m in variants if m is not None)
        raise MeasurementError(f"GPU {raw!r}: memory not stated or unknown ({sizes} known)")
    if system is None:
        raise MeasurementError(f"GPU {raw!r}: {note}")
    return GpuName(model, spec, system, note)


_PRECISIONS = (
    (r"NVFP4|(?<![MX])FP4", "nvfp4", ""),
    (r"MXFP8|FP8[-_ ]?MX", "mxfp8", ""),
    (r"FP8[-_ ]?CS|FP8 CURRENT", "fp8-current", ""),
    (r"FP8[-_ ]?(BLOCK|SS|SUBCHANNEL)|FP8 BLOCKWISE", "fp8-block", ""),
    (r"FP8[-_ ]?(DS|DELAYED)", "fp8", ""),
    (r"FP8", "fp8", ""),
    (r"BF16|BFLOAT16", "bf16", ""),
    (r"FP16|16-BIT", "bf16", "16-bit mixed precision (FP16 runs at the BF16 tensor rate)"),
)


def parse_precision(text: str) -> tuple[str, str]:
    """(precision name, note) of a run file's precision text; what is in parentheses names an
    alternative the table also ran (Megatron-Bridge) or a comment, and is ignored.

    Raises
    ------
    MeasurementError
        No precision this tool models is named.

    Examples
    --------
    >>> parse_precision("FP8-CS (FP8-MX)")
    ('fp8-current', '')
    >>> parse_precision("")
    ('bf16', 'precision not stated: BF16 assumed')
    """
    head = str(text).split("(")[0].strip().upper()
    if not head:
        if str(text).strip():
            head = str(text).upper()  # only a parenthesis, e.g. "(16-bit)"
        else:
            return "bf16", "precision not stated: BF16 assumed"
    for pattern, name, note in _PRECISIONS:
        if re.search(pattern, head):
            return name, note
    if "MIXED PRECISION" in head:
        return "bf16", "16-bit mixed precision (FP16 runs at the BF16 tensor rate)"
    raise MeasurementError(f"precision {text!r} is not one this tool models")
