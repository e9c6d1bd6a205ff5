"""Training: parameter counts, FLOP formulas and memory pinned to published numbers."""

from __future__ import annotations

import math

import pytest

from interconnect_sim.errors import ScenarioError, SpecError
from interconnect_sim.training.flops import flops_per_token
from interconnect_sim.training.memory import activation_bytes_per_layer, model_state_bytes
from interconnect_sim.training.model import ModelConfig, list_models, load_model
from interconnect_sim.training.parallel import ParallelConfig
from interconnect_sim.training.time_to_train import FailureRates, Goodput, time_to_train

REQUIRED = [
    "gpt3-175b",
    "llama2-7b",
    "llama2-13b",
    "llama2-70b",
    "llama3-8b",
    "llama3-70b",
    "llama3-405b",
    "mixtral-8x7b",
    "deepseek-v3",
]


def test_required_presets_exist() -> None:
    assert set(REQUIRED) <= set(list_models())


@pytest.mark.parametrize("model_id", list_models())
def test_parameter_count_matches_the_published_count(model_id: str) -> None:
    model = load_model(model_id)
    assert model.published_parameters is not None
    # "7B" for Llama 2 7B is a rounded label for 6.74B; everything else agrees within 3.5 %.
    assert model.parameters() == pytest.approx(model.published_parameters, rel=0.04)


def test_moe_active_parameters() -> None:
    mixtral = load_model("mixtral-8x7b")
    assert mixtral.parameters(active=True) == pytest.approx(12.9e9, rel=0.01)
    deepseek = load_model("deepseek-v3")
    assert deepseek.parameters() == pytest.approx(671e9, rel=0.01)
    assert deepseek.parameters(active=True) == pytest.approx(37e9, rel=0.03)


@pytest.mark.parametrize("model_id", [m for m in list_models() if m.startswith("megatron")])
def test_narayanan_and_korthikanti_formulas(model_id: str) -> None:
    m = load_model(model_id)
    h, layers, s, v = m.hidden, m.layers, m.seq_len, m.vocab
    narayanan = 96 * layers * h**2 * (1 + s / (6 * h) + v / (16 * layers * h))  # Eq. 3 / (B s)
    korthikanti = 72 * layers * h**2 * (1 + s / (6 * h) + v / (12 * layers * h))
    assert flops_per_token(m, s, "narayanan") == pytest.approx(narayanan, rel=1e-12)
    assert flops_per_token(m, s, "model") == pytest.approx(korthikanti, rel=1e-12)


def test_megatron_2024_and_nemo_formulas_for_gqa_swiglu() -> None:
    m = load_model("llama3-70b")
    h, layers, s, v = m.hidden, m.layers, m.seq_len, m.vocab
    g_over_n = m.kv_heads / m.heads
    megatron = (
        12 * layers * h**2 * ((1 + g_over_n + s / h) + (m.ffn / h) * 1.5 + v / (2 * layers * h))
    )
    nemo = (12 + 12 * g_over_n + 18 * m.ffn / h + 12 * s / h + 6 * v / (layers * h)) * layers * h**2
    assert flops_per_token(m, s, "model") == pytest.approx(megatron, rel=1e-12)
    assert flops_per_token(m, s, "model") == pytest.approx(nemo, rel=1e-12)
    # Newer Megatron/NeMo halve the attention core (causal).
    causal = megatron - 12 * layers * h**2 * (s / h) / 2
    assert flops_per_token(m, s, "model-causal") == pytest.approx(causal, rel=1e-12)


def test_zero_paper_figure_1_model_states() -> None:
    psi, nd = 7.5e9, 64
    gb = [round(sum(model_state_bytes(psi, nd, stage)) / 1e9, 1) for stage in (0, 1, 2, 3)]
    assert gb == [120.0, 31.4, 16.6, 1.9]


@pytest.mark.parametrize(
    ("options", "formula"),
    [
        (
            {"tp": 1, "sequence_parallel": False},
            lambda s, b, h, a, t: s * b * h * (34 + 5 * a * s / h),
        ),
        (
            {"tp": 8, "sequence_parallel": False},
            lambda s, b, h, a, t: s * b * h * (10 + 24 / t + 5 * a * s / (h * t)),
        ),
        (
            {"tp": 8, "sequence_parallel": True},
            lambda s, b, h, a, t: s * b * h / t * (34 + 5 * a * s / h),
        ),
        (
            {"tp": 8, "sequence_parallel": True, "recompute": "selective"},
            lambda s, b, h, a, t: 34 * s * b * h / t,
        ),
        (
            {"tp": 8, "sequence_parallel": True, "recompute": "full"},
            lambda s, b, h, a, t: 2 * s * b * h / t,
        ),
    ],
)
def test_korthikanti_activation_memory(options, formula) -> None:  # type: ignore[no-untyped-def]
    gpt3 = load_model("gpt3-175b")
    parallel = ParallelConfig(micro_batch=1, global_batch=1, seq_len=2048, **options)
    expected = formula(2048, 1, gpt3.hidden, gpt3.heads, options["tp"])
    assert activation_bytes_per_layer(gpt3, parallel) == pytest.approx(expected, rel=1e-12)


def test_time_to_train_and_goodput_closed_forms() -> None:
    ideal = time_to_train(1e12, 1e6, gpus=8, nodes=1)
    assert ideal.ideal_days == pytest.approx(1e6 / 86400)
    assert ideal.gpu_hours == pytest.approx(1e6 * 8 / 3600)
    g = Goodput(
        mtbf_per_node_s=100 * 3600, checkpoint_interval_s=3600, checkpoint_cost_s=60, restart_s=600
    )
    with_failures = time_to_train(1e12, 1e6, gpus=80, nodes=10, goodput=g)
    cluster = 10 * 3600
    # Daly 2006, Eq. 20: T_w = M e^(R/M) (e^((tau + delta)/M) - 1) T_s / tau
    daly = cluster * math.exp(600 / cluster) * math.expm1((3600 + 60) / cluster) / 3600
    assert with_failures.goodput == pytest.approx(1 / daly)
    assert with_failures.expected_days == pytest.approx(ideal.ideal_days * daly)
    # ... which the first-order form 1 - C/T - (T/2 + R)/M approaches for T << M.
    assert with_failures.goodput == pytest.approx(1 - 60 / 3600 - (1800 + 600) / cluster, abs=0.01)
    assert with_failures.interruptions == pytest.approx(
        with_failures.expected_days * 86400 / cluster
    )
    # Young's sqrt(2 C M) plus Daly's higher-order terms.
    ratio = 60 / (2 * cluster)
    young = (2 * 60 * cluster) ** 0.5
    assert with_failures.optimal_checkpoint_interval_s == pytest.approx(
        young * (1 + ratio**0.5 / 3 + ratio / 9) - 60
    )
    with pytest.raises(ScenarioError, match="no progress"):
        time_to_train(1e12, 1e6, gpus=8, nodes=1000, goodput=g)


def test_the_optimal_checkpoint_interval_minimises_the_wall_clock() -> None:
    rates = FailureRates(per_gpu_hour=1e-5, per_node_hour=5e-5, per_job_hour=0.03)
    best = time_to_train(1e12, 1e6, gpus=8192, nodes=1024, goodput=Goodput(rates=rates))
    assert best.checkpoint_interval_s == best.optimal_checkpoint_interval_s
    for factor in (0.5, 0.8, 1.25, 2.0):
        other = Goodput(rates=rates, checkpoint_interval_s=best.checkpoint_interval_s * factor)
        assert time_to_train(1e12, 1e6, gpus=8192, nodes=1024, goodput=other).expected_days > (
            best.expected_days
        )


def test_bad_parallel_configs_and_models_are_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match="global batch"):
        ParallelConfig(dp=4, micro_batch=3, global_batch=10)
    with pytest.raises(ScenarioError, match="ep"):
        ParallelConfig(dp=4, ep=3, global_batch=4)
    with pytest.raises(SpecError, match="unknown model"):
        load_model("llama9-1t")
    bad = tmp_path / "m.toml"
    bad.write_text(
        'id = "m"\nname = "m"\nlayers = 2\nhidden = 64\nheads = 3\nkv_heads = 2\n'
        "ffn = 128\nvocab = 10\nseq_len = 8\n"
    )
    with pytest.raises(SpecError, match="multiple of kv_heads"):
        load_model(str(bad))


def test_custom_model_file_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "tiny.toml"
    path.write_text(
        'id = "tiny"\nname = "Tiny"\nlayers = 2\nhidden = 64\nheads = 4\n'
        "kv_heads = 2\nffn = 256\nvocab = 100\nseq_len = 32\n"
    )
    model = load_model(str(path))
    assert isinstance(model, ModelConfig)
    assert model.kv_heads == 2


def test_goodput_against_llama3_interruption_figures() -> None:
    # Llama 3 paper, Section 3.3.4: 466 job interruptions in a 54-day snapshot of the 405B
    # pre-training on 16,384 GPUs (2,048 nodes), and "higher than 90% effective training time".
    # The failure model with that interruption rate reaches 90 % only with restarts of a few
    # minutes and checkpoints of seconds (the paper: "we reduced job startup and checkpointing
    # time"); ten-minute restarts and minute-long checkpoints would cost more than 10 %.
    mtbf_node = 54 * 86400 * 2048 / 466
    cluster = mtbf_node / 2048
    assert cluster / 3600 == pytest.approx(2.78, abs=0.01)  # an interruption every 2.8 hours

    def goodput(checkpoint_s: float, restart_s: float) -> float:
        interval = (2 * checkpoint_s * cluster) ** 0.5  # the optimal interval
        g = Goodput(
            mtbf_per_node_s=mtbf_node,
            checkpoint_interval_s=interval,
            checkpoint_cost_s=checkpoint_s,
            restart_s=restart_s,
        )
        result = time_to_train(1e12, 1e6, gpus=16_384, nodes=2048, goodput=g).goodput
        assert result is not None
        return result

    assert goodput(checkpoint_s=20, restart_s=180) > 0.90
    assert goodput(checkpoint_s=60, restart_s=600) < 0.90
