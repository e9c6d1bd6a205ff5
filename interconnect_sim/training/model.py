"""Transformer architectures: dense, GQA, mixture-of-experts and latent attention (MLA).

Presets live in ``training/data/models/<id>.toml`` with their sources; custom models are TOML
files in the same schema (``docs/training.md``). Parameter counts are computed from the
dimensions and checked against the published counts in the tests.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interconnect_sim.errors import SpecError
from interconnect_sim.files import read_text_file

__all__ = ["MODELS_DIR", "LatentAttention", "MoE", "ModelConfig", "list_models", "load_model"]

MODELS_DIR = Path(__file__).parent / "data" / "models"


@dataclass(frozen=True, slots=True, kw_only=True)
class MoE:
    """Mixture-of-experts FFN: routed experts, top-k routing, shared experts.

    The first ``dense_layers`` layers keep a dense FFN; after them a layer is MoE when
    ``(layer + 1) % every == 0`` (``every = 2`` alternates dense and MoE layers, as Llama 4
    Maverick's ``interleave_moe_layer_step``).
    """

    experts: int
    top_k: int
    expert_ffn: int
    shared_experts: int = 0
    shared_expert_ffn: int = 0
    dense_layers: int = 0
    every: int = 1

    @property
    def shared_ffn(self) -> int:
        """Width of one shared expert (default: a routed expert's)."""
        return self.shared_expert_ffn or self.expert_ffn


@dataclass(frozen=True, slots=True, kw_only=True)
class LatentAttention:
    """DeepSeek-style multi-head latent attention projections."""

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelConfig:
    """A decoder-only transformer.

    Attributes
    ----------
    layers, hidden, heads, kv_heads, ffn, vocab : int
        Dimensions; ``kv_heads < heads`` is grouped-query attention.
    mlp : {"swiglu", "gelu"}
        SwiGLU has three FFN matrices, GELU two.
    seq_len : int
        Pre-training sequence length (the default for ``train``).
    head_dim : int
        Per-head size (default hidden / heads).
    dropout : bool, optional
        Dropout after attention and MLP (its masks are kept for backward); default: GPT-style
        GELU models have it, SwiGLU models (Llama, Mixtral, Qwen, DeepSeek) do not.
    attention_window, global_attention_every : int
        Sliding-window (or chunked) attention over ``attention_window`` tokens on every layer
        except each ``global_attention_every``-th, which attends to the whole sequence
        (0 = full attention everywhere).
    mtp_layers : int
        Multi-token prediction depth (DeepSeek-V3: one extra transformer block plus a 2h x h
        projection per depth, sharing embedding and output head), trained on the last stage.
    """

    id: str
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    seq_len: int
    mlp: str = "swiglu"
    head_dim: int = 0
    tied_embeddings: bool = False
    dropout: bool | None = None
    attention_window: int = 0
    global_attention_every: int = 1
    mtp_layers: int = 0
    moe: MoE | None = None
    mla: LatentAttention | None = None
    published_parameters: float | None = None
    sources: tuple[dict[str, str], ...] = ()

    @property
    def dim_head(self) -> int:
        """Per-head dimension."""
        return self.head_dim or self.hidden // self.heads

    @property
    def mlp_matrices(self) -> int:
        """FFN weight matrices: 3 for SwiGLU, 2 for GELU."""
        return 3 if self.mlp == "swiglu" else 2

    def attention_parameters(self) -> float:
        """Weights of one attention block (projections only)."""
        h = self.hidden
        if self.mla is not None:
            a = self.mla
            qk = a.qk_nope_head_dim + a.qk_rope_head_dim
            return float(
                h * a.q_lora_rank
                + a.q_lora_rank * self.heads * qk
                + h * (a.kv_lora_rank + a.qk_rope_head_dim)
                + a.kv_lora_rank * self.heads * (a.qk_nope_head_dim + a.v_head_dim)
                + self.heads * a.v_head_dim * h
            )
        d = self.dim_head
        return float(h * self.heads * d + 2 * h * self.kv_heads * d + self.heads * d * h)

    @property
    def has_dropout(self) -> bool:
        """Whether the layers apply dropout (see ``dropout``)."""
        return self.mlp == "gelu" if self.dropout is None else self.dropout

    def is_moe_layer(self, layer: int) -> bool:
        """Whether ``layer`` (0-based) has a mixture-of-experts FFN."""
        e = self.moe
        return e is not None and layer >= e.dense_layers and (layer + 1) % e.every == 0

    def moe_layer_count(self) -> int:
        """Layers with a mixture-of-experts FFN."""
        return sum(1 for layer in range(self.layers) if self.is_moe_layer(layer))

    def attention_span(self, layer: int, seq_len: int) -> int:
        """Keys one query of ``layer`` may attend to: the window, or the whole sequence."""
        window = self.attention_window
        if window and (layer + 1) % self.global_attention_every:
            return min(window, seq_len)
        return seq_len

    def expert_parameters(self, *, active: bool = False) -> float:
        """Routed-expert weights of one MoE layer (``active``: the top-k a token uses)."""
        e = self.moe
        if e is None:
            return 0.0
        return float(
            (e.top_k if active else e.experts) * self.mlp_matrices * self.hidden * e.expert_ffn
        )

    def dense_ffn_parameters(self, layer: int) -> float:
        """Weights of ``layer``'s FFN that every token uses: the dense FFN, or a MoE layer's
        shared experts and router."""
        h, m = self.hidden, self.mlp_matrices
        if not self.is_moe_layer(layer):
            return float(m * h * self.ffn)
        e = self.moe
        assert e is not None
        return float(e.shared_experts * m * h * e.shared_ffn + h * e.experts)

    def ffn_parameters(self, *, active: bool = False) -> float:
        """FFN weights summed over layers (``active``: only the experts a token uses)."""
        return sum(
            self.dense_ffn_parameters(layer)
            + (self.expert_parameters(active=active) if self.is_moe_layer(layer) else 0.0)
            for layer in range(self.layers)
        )

    def layer_parameters(self, layer: int) -> tuple[float, float]:
        """(weights every token uses, routed-expert weights) of one transformer layer."""
        dense = self.attention_parameters() + self.dense_ffn_parameters(layer) + 2 * self.hidden
        return dense, self.expert_parameters() if self.is_moe_layer(layer) else 0.0

    def embedding_parameters(self) -> float:
        """Input embedding (and the output layer too when tied)."""
        return float(self.vocab * self.hidden)

    def mtp_parameters(self) -> tuple[float, float]:
        """(dense, expert) weights of the multi-token-prediction modules (embedding and head
        shared): per depth a transformer block like the last layer, a 2h x h projection and
        two norms."""
        if not self.mtp_layers:
            return 0.0, 0.0
        dense, experts = self.layer_parameters(self.layers - 1)
        extra = 2 * self.hidden * self.hidden + 2 * self.hidden
        return self.mtp_layers * (dense + extra), self.mtp_layers * experts

    def parameters(self, *, active: bool = False) -> float:
        """Total (or per-token active) parameters, embeddings included, MTP modules excluded
        (as DeepSeek-V3's published 671B)."""
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        norms = self.layers * 2 * self.hidden + self.hidden
        return (
            self.layers * self.attention_parameters()
            + self.ffn_parameters(active=active)
            + embeddings
            + norms
        )


_REQUIRED = ("id", "name", "layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq_len")
_OPTIONAL = {
    "mlp",
    "dropout",
    "attention_window",
    "global_attention_every",
    "mtp_layers",
    "head_dim",
    "tied_embeddings",
    "published_parameters",
    "notes",
    "sources",
    "moe",
    "mla",
    "inferred",
}


_MAY_BE_ZERO = {
    "shared_experts",
    "shared_expert_ffn",
    "dense_layers",
    "attention_window",
    "mtp_layers",
}
_LARGEST_DIMENSION = 10**9
"""No model dimension (layers, hidden, vocabulary, sequence, experts) comes near it."""


def _int(data: dict[str, Any], key: str, path: Path, where: str = "") -> int:
    value = data[key]
    lowest = 0 if key in _MAY_BE_ZERO else 1
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not lowest <= value <= _LARGEST_DIMENSION
    ):
        what = "a whole number from 0" if lowest == 0 else "a whole number from 1"
        raise SpecError(f"{path}: {where}{key} must be {what} to 10^9, got {value!r}")
    return value


def _table(data: Any, cls: Any, path: Path, where: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"{path}: {where} must be a table ([{where}]), got {data!r}")
    fields = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - fields)
    if unknown:
        raise SpecError(f"{path}: [{where}] unknown key(s) {unknown}; allowed {sorted(fields)}")
    try:
        return cls(**{k: _int(data, k, path, f"{where}.") for k in data})
    except TypeError as exc:
        raise SpecError(f"{path}: [{where}] {exc}") from None


def _published(value: Any, path: Path) -> float | None:
    """``published_parameters``: a number or a string such as ``"671e9"``, finite and positive."""
    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, str | int | float) else math.nan
    except (ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise SpecError(f"{path}: published_parameters {value!r} is not a positive number")
    return number


def _check_strings(data: dict[str, Any], path: Path) -> None:
    for key in ("id", "name", "notes"):
        if key in data and not (isinstance(data[key], str) and (data[key] or key == "notes")):
            raise SpecError(f"{path}: {key} must be a non-empty string, got {data[key]!r}")
    if not isinstance(data.get("tied_embeddings", False), bool):
        raise SpecError(f"{path}: tied_embeddings must be true or false")
    sources = data.get("sources", [])
    if not (isinstance(sources, list) and all(isinstance(x, dict) for x in sources)):
        raise SpecError(f"{path}: sources must be [[sources]] tables")


def _check_moe(moe: MoE, layers: int, path: Path) -> None:
    if moe.dense_layers >= layers:
        raise SpecError(
            f"{path}: moe.dense_layers ({moe.dense_layers}) must be below layers ({layers}): "
            "an MoE model needs at least one MoE layer"
        )
    if moe.top_k > moe.experts:
        raise SpecError(
            f"{path}: moe.top_k ({moe.top_k}) cannot exceed moe.experts ({moe.experts})"
        )


def load_model_file(path: Path) -> ModelConfig:
    """Read a model TOML file strictly (unknown keys and bad values name file and key)."""
    try:
        data = tomllib.loads(read_text_file(Path(path), "model", SpecError))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    missing = [k for k in _REQUIRED if k not in data]
    unknown = sorted(set(data) - set(_REQUIRED) - _OPTIONAL)
    if missing or unknown:
        raise SpecError(f"{path}: missing key(s) {missing}, unknown key(s) {unknown}")
    _check_strings(data, path)
    mlp = data.get("mlp", "swiglu")
    if mlp not in ("swiglu", "gelu"):
        raise SpecError(f"{path}: mlp must be swiglu or gelu, got {mlp!r}")
    ints = {k: _int(data, k, path) for k in _REQUIRED if k not in ("id", "name")}
    if ints["heads"] % ints["kv_heads"]:
        raise SpecError(f"{path}: heads ({ints['heads']}) must be a multiple of kv_heads")
    moe = _table(data["moe"], MoE, path, "moe") if "moe" in data else None
    if moe is not None:
        _check_moe(moe, ints["layers"], path)
    dropout = data.get("dropout")
    if dropout is not None and not isinstance(dropout, bool):
        raise SpecError(f"{path}: dropout must be true or false, got {dropout!r}")
    optional_ints = {
        k: _int(data, k, path)
        for k in ("attention_window", "global_attention_every", "mtp_layers")
        if k in data
    }
    return ModelConfig(
        id=data["id"],
        name=data["name"],
        mlp=mlp,
        head_dim=_int(data, "head_dim", path) if "head_dim" in data else 0,
        tied_embeddings=data.get("tied_embeddings", False),
        dropout=dropout,
        **optional_ints,
        moe=moe,
        mla=_table(data["mla"], LatentAttention, path, "mla") if "mla" in data else None,
        published_parameters=_published(data.get("published_parameters"), path),
        sources=tuple(data.get("sources", ())),
        **ints,
    )


def list_models() -> list[str]:
    """Preset model ids."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


def load_model(name_or_path: str) -> ModelConfig:
    """A preset by id, or a custom model TOML file by path.

    Raises
    ------
    SpecError
        Unknown preset (naming the known ones) or a malformed file.
    """
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        return load_model_file(candidate)  # a missing or unreadable file is a one-line error
    if name_or_path not in list_models():
        shown = name_or_path if len(name_or_path) <= 60 else f"{name_or_path[:40]}..."
        raise SpecError(
            f"unknown model {shown!r}; presets: {', '.join(list_models())} (or give a .toml file)"
        )
    return load_model_file(MODELS_DIR / f"{name_or_path}.toml")
