"""Every spec file parses, is cited, and reproduces the vendor headlines it claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from interconnect_sim.errors import SpecError
from interconnect_sim.specs import DATA_DIR, Catalog, load_catalog
from interconnect_sim.specs.loader import load_spec_file
from interconnect_sim.specs.model import GpuSpec, LinkSpec, NicSpec, SwitchSpec, SystemSpec

SPEC_FILES = sorted(DATA_DIR.rglob("*.toml"))
CHECKS = load_catalog().run_checks()


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_spec_file_parses_and_is_cited(path: Path) -> None:
    spec = load_spec_file(path)
    assert spec.id == path.stem
    assert spec.sources, "every spec cites at least one source"
    for source in spec.sources:
        assert source.quote.strip()
        assert source.locator.strip()
        assert source.url.strip()


@pytest.mark.parametrize("result", CHECKS, ids=lambda r: f"{r.spec_id}: {r.check.claim[:50]}")
def test_derived_value_reproduces_published_headline(result) -> None:  # type: ignore[no-untyped-def]
    derived = result.derived * result.check.multiplier
    assert result.ok, f"{result.spec_id}: derived {derived:.6g} vs {result.check.expected:.6g}"


def test_catalog_covers_the_required_products(catalog: Catalog) -> None:
    required = {
        LinkSpec: "nvlink-1 nvlink-2 nvlink-3 nvlink-4 nvlink-5 nvlink-c2c pcie-3 pcie-4 pcie-5 "
        "pcie-6 ib-edr ib-hdr ib-ndr ib-xdr eth-100g eth-200g eth-400g eth-800g",
        SwitchSpec: "nvswitch-1 nvswitch-2 nvswitch-3 nvlink-switch-h100 nvlink-switch-5 qm8700 "
        "qm8790 qm9700 qm9790 q3400 sn5600",
        NicSpec: "connectx-6 connectx-7 connectx-8 bluefield-3",
        GpuSpec: "v100-sxm2-32gb a100-sxm4-40gb a100-sxm4-80gb h100-sxm5-80gb h100-pcie-80gb "
        "h200-sxm-141gb b200-sxm-180gb gb200 l40s rtx-3090 rtx-4090 rtx-5090",
        SystemSpec: "dgx1-v100 dgx2-v100 dgx-a100 dgx-h100 dgx-h200 dgx-b200 gb200-nvl72 "
        "h100-pcie-bridged rtx4090-pcie-8x l40s-pcie-8x",
    }
    for cls, ids in required.items():
        present = {spec.id for spec in catalog.of_kind(cls)}
        assert set(ids.split()) <= present, set(ids.split()) - present


def test_h100_nvlink_is_450_per_direction_and_900_bidirectional(catalog: Catalog) -> None:
    gpu = catalog.gpu("h100-sxm5-80gb")
    per_direction = catalog.derived(gpu)["nvlink_per_direction"]
    assert gpu.nvlink_count == 18
    assert per_direction == 450e9
    assert 2 * per_direction == 900e9


def test_pcie5_x16_is_about_63_per_direction_and_128_headline(catalog: Catalog) -> None:
    link = catalog.link("pcie-5")
    assert link.data_rate_per_direction_bytes_per_s == pytest.approx(63.0e9, rel=0.001)
    assert 2 * link.data_rate_per_direction_bytes_per_s == pytest.approx(128e9, rel=0.02)


def test_network_port_rates_are_per_direction(catalog: Catalog) -> None:
    assert catalog.link("ib-ndr").data_rate_per_direction_bytes_per_s == 50e9
    assert catalog.link("ib-hdr").data_rate_per_direction_bytes_per_s == 25e9
    assert catalog.link("ib-xdr").data_rate_per_direction_bytes_per_s == 100e9


def test_gpu_tensor_rates_are_dense(catalog: Catalog) -> None:
    # Datasheets print 2:4 sparse numbers (H100 SXM BF16 "1,979 teraFLOPS*"); we store half.
    assert catalog.gpu("h100-sxm5-80gb").dense_bf16_flops_per_s == pytest.approx(989.5e12)
    assert catalog.gpu("a100-sxm4-80gb").dense_bf16_flops_per_s == pytest.approx(312e12)


def test_inferred_entries_name_real_fields_with_reasons(catalog: Catalog) -> None:
    inferred = {spec.id: spec.inferred_fields() for spec in catalog if spec.inferred}
    assert "nvswitch-2" in inferred  # the 36-port count is inferred from 7.2 Tbit/s
    for reasons in inferred.values():
        assert all(len(reason) > 20 for reason in reasons.values())


# -- the loader's errors name the file and the key --------------------------------------------

VALID_LINK = """
id = "{id}"
kind = "link"
name = "test link"
family = "nvlink"
generation = "4"
data_rate_per_direction = "{rate}"
lanes_per_direction = 2
{extra}
[[sources]]
title = "t"
url = "u"
locator = "l"
quote = "q"
grade = "primary"
"""


def _write(
    tmp_path: Path,
    stem: str = "my-link",
    rate: str = "25 GB/s",
    extra: str = "",
    spec_id: str | None = None,
) -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(VALID_LINK.format(id=spec_id or stem, rate=rate, extra=extra))
    return path


def test_loader_accepts_a_minimal_valid_file(tmp_path: Path) -> None:
    spec = load_spec_file(_write(tmp_path))
    assert isinstance(spec, LinkSpec)
    assert spec.data_rate_per_direction_bytes_per_s == 25e9


def test_loader_rejects_unknown_keys_naming_them(tmp_path: Path) -> None:
    path = _write(tmp_path, extra='bandwith = "25 GB/s"')
    with pytest.raises(SpecError, match=r"my-link\.toml.*unknown key.*bandwith"):
        load_spec_file(path)


def test_loader_rejects_ambiguous_units_naming_key(tmp_path: Path) -> None:
    path = _write(tmp_path, rate="200 Gbps")
    with pytest.raises(SpecError, match=r"data_rate_per_direction.*ambiguous"):
        load_spec_file(path)


def test_loader_rejects_id_that_differs_from_file_stem(tmp_path: Path) -> None:
    path = _write(tmp_path, spec_id="other")
    with pytest.raises(SpecError, match="file stem"):
        load_spec_file(path)


def test_loader_rejects_uncited_spec(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text().split("[[sources]]")[0])
    with pytest.raises(SpecError, match="sources"):
        load_spec_file(path)


def test_loader_rejects_inferred_entry_for_unknown_field(tmp_path: Path) -> None:
    path = _write(tmp_path, extra='[inferred]\nspeed = "guess"\n')
    with pytest.raises(SpecError, match=r"inferred\.speed"):
        load_spec_file(path)


def test_catalog_rejects_dangling_reference(tmp_path: Path) -> None:
    (tmp_path / "my-nic.toml").write_text(
        'id = "my-nic"\nkind = "nic"\nname = "n"\nport_link = "ib-zdr"\nport_count = 1\n'
        'host_link = "pcie-5"\nhost_lanes = 16\n'
        '[[sources]]\ntitle = "t"\nurl = "u"\nlocator = "l"\nquote = "q"\ngrade = "primary"\n'
    )
    with pytest.raises(SpecError, match=r"my-nic\.toml.*unknown link 'ib-zdr'"):
        load_catalog(tmp_path)


def test_catalog_rejects_duplicate_ids(tmp_path: Path) -> None:
    _write(tmp_path, stem="nvlink-4")
    with pytest.raises(SpecError, match="also defined"):
        load_catalog(tmp_path)


# -- precisions: dense FP4 and the block-scaled formats ---------------------------------------


def test_precision_rates_follow_the_element_type(catalog: Catalog) -> None:
    b300 = catalog.gpu("b300-sxm-270gb")
    assert b300.dense_flops_per_s("mxfp8") == b300.dense_fp8_flops_per_s == 4.5e15
    assert b300.dense_flops_per_s("nvfp4") == b300.dense_fp4_flops_per_s == 13.5e15
    h100 = catalog.gpu("h100-sxm5-80gb")
    assert h100.dense_flops_per_s("fp8") == pytest.approx(1979e12)
    assert h100.dense_flops_per_s("mxfp8") is None  # Hopper has no MX hardware
    assert h100.dense_flops_per_s("fp4") is None
    mi355x = catalog.gpu("mi355x")
    assert mi355x.dense_flops_per_s("mxfp4") == 10e15
    assert mi355x.dense_flops_per_s("nvfp4") is None  # NVFP4 is NVIDIA's format


@pytest.mark.parametrize(
    ("gpu_id", "bf16", "fp8", "fp4"),
    [
        # dense rates as published (sparse / 2 where datasheets print sparse)
        ("b200-sxm-180gb", 2.25e15, 4.5e15, 9e15),
        ("gb200", 2.5e15, 5e15, 10e15),
        ("gb300", 2.5e15, 5e15, 15e15),
        ("b100-sxm-192gb", 1.75e15, 3.5e15, 7e15),
        ("mi300x", 1307.4e12, 2614.9e12, None),
        ("gaudi3", 1835e12, 1835e12, None),
        ("h20-96gb", 148e12, 296e12, None),
    ],
)
def test_new_gpu_dense_rates(
    catalog: Catalog, gpu_id: str, bf16: float, fp8: float, fp4: float | None
) -> None:
    gpu = catalog.gpu(gpu_id)
    assert gpu.dense_bf16_flops_per_s == pytest.approx(bf16)
    assert gpu.dense_fp8_flops_per_s == pytest.approx(fp8)
    assert gpu.dense_fp4_flops_per_s == (None if fp4 is None else pytest.approx(fp4))


def test_rubin_is_flagged_announced(catalog: Catalog) -> None:
    assert catalog.gpu("rubin").status == "announced"
    assert catalog.link("nvlink-6").status == "announced"
    assert catalog.gpu("b200-sxm-180gb").status == "available"


def test_scale_up_link_alias_fills_the_gpu_link(catalog: Catalog) -> None:
    mi300x = catalog.gpu("mi300x")
    assert (mi300x.nvlink, mi300x.nvlink_count) == ("xgmi-mi300x", 7)
    assert catalog.derived(mi300x)["nvlink_per_direction"] == 448e9  # 896 GB/s bidirectional


def test_loader_rejects_a_key_given_under_both_names(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        'id = "g"\nkind = "gpu"\nname = "g"\narchitecture = "x"\nmemory = "1 GB"\n'
        'memory_bandwidth = "1 GB/s"\npcie = "pcie-5"\npcie_lanes = 16\ntdp = "1 W"\n'
        'dense_fp16 = "1 TFLOP/s"\nnvlink = "nvlink-4"\nscale_up_link = "nvlink-4"\n'
        '[[sources]]\ntitle = "t"\nurl = "u"\nlocator = "l"\nquote = "q"\ngrade = "primary"\n'
    )
    with pytest.raises(SpecError, match=r"g\.toml: scale_up_link: is another name for 'nvlink'"):
        load_spec_file(path)
