"""GPU and precision names in run files are parsed exactly; no shipped row maps silently."""

from __future__ import annotations

import pytest

from interconnect_sim.errors import InterconnectSimError, MeasurementError
from interconnect_sim.specs import load_catalog
from interconnect_sim.validation.run_names import parse_gpu, parse_precision
from interconnect_sim.validation.training_runs import load_training_runs, map_row


@pytest.mark.parametrize(
    ("text", "spec", "system"),
    [
        ("GB200", "gb200", "gb200-nvl72"),
        ("B200", "b200-sxm-180gb", "dgx-b200"),
        ("GB300", "gb300", "gb300-nvl72"),
        ("B300", "b300-sxm-270gb", "dgx-b300"),
        ("NVIDIA H800-SXM5-80GB", "h800-sxm5-80gb", "h800-8x"),
        ("H100-SXM5-80GB", "h100-sxm5-80gb", "dgx-h100"),
        ("NVIDIA H100-SXM-80GB", "h100-sxm5-80gb", "dgx-h100"),
        ("A800 80GB", "a800-sxm4-80gb", "a800-8x"),
        ("A100-80GB (TDP 350-400W)", "a100-sxm4-80gb", "dgx-a100"),
        ("AMD Instinct MI300X", "mi300x", "mi300x-8x"),
        ("MI355X", "mi355x", "mi355x-8x"),
        ("Intel Gaudi 3", "gaudi3", "gaudi3-8x"),
    ],
)
def test_gpu_names_resolve_to_their_own_spec(text: str, spec: str, system: str) -> None:
    gpu = parse_gpu(text)
    assert (gpu.spec, gpu.system) == (spec, system)
    assert load_catalog().system(system).gpu == spec


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("TPU v4 (NOT A GPU)", "not a GPU"),
        ("A100-SXM4-40GB", "no preset system with A100 40 GB"),
        ("H20", "no preset system with H20"),
        ("RTX 6000 Ada", "not a GPU model this tool knows"),
        ("H1000", "not a GPU model this tool knows"),
    ],
)
def test_unknown_or_unsupported_gpus_are_reported(text: str, reason: str) -> None:
    with pytest.raises(MeasurementError, match=reason):
        parse_gpu(text)


@pytest.mark.parametrize(
    ("text", "precision"),
    [
        ("BF16", "bf16"),
        ("bfloat16", "bf16"),
        ("mixed precision (16-bit)", "bf16"),
        ("FP8", "fp8"),
        ("FP8 (config sources config_fp8.sh)", "fp8"),
        ("FP8-CS", "fp8-current"),
        ("FP8-CS (FP8-MX)", "fp8-current"),
        ("FP8-MX", "mxfp8"),
        ("MXFP8", "mxfp8"),
        ("NVFP4", "nvfp4"),
        ("FP8 blockwise", "fp8-block"),
    ],
)
def test_precision_names(text: str, precision: str) -> None:
    assert parse_precision(text)[0] == precision


def test_unknown_precision_is_an_error() -> None:
    with pytest.raises(MeasurementError, match="not one this tool models"):
        parse_precision("INT4 weights")


def test_no_shipped_row_maps_to_another_gpu_or_precision() -> None:
    """A silent mapping (a GB200 row timed as a DGX B200, NVFP4 timed as BF16) fails here: every
    mapped row's GPU spec carries the row's GPU model token and is the GPU of the system it is
    timed on, and its precision is the one its text names."""
    catalog = load_catalog()
    frame = load_training_runs()
    mapped = 0
    for _, row in frame.iterrows():
        try:
            run = map_row(row)
        except InterconnectSimError:
            continue
        mapped += 1
        assert run.gpu is not None
        token = run.gpu.model.lower().replace(" ", "")
        system_gpu = catalog.system(run.system).gpu
        assert token in system_gpu.replace("-", "").replace(" ", ""), (row["row_id"], system_gpu)
        assert run.gpu.spec == system_gpu
        assert run.parallel.precision == parse_precision(str(row["precision"]))[0]
    assert mapped > 60
