"""How big is a model? Parameters, memory, KV cache, training cost: from a config, in a second.

``count_parameters`` counts a built model, or a config built on the ``meta``
device: a config object counts when it has a ``build()`` method returning an
``nn.Module``. Building under ``torch.device("meta")`` allocates no memory, so
even a 175B-parameter configuration counts in a second.

``active_parameters`` counts what one token passes through: in a mixture of
experts (Mixtral, DeepSeekMoE) each token uses k of the E routed experts of a
layer, so the other E - k experts' weights sit in memory but cost it no compute.

The other formulas read a config's ``shape`` (``course_utils.model_config.ModelShape``:
layers, heads, key/value heads, head width), which every course config has.
``size_report`` derives everything the calculator shows: parameters (total,
embedding, non-embedding), weight memory per dtype, KV-cache bytes, training
memory with AdamW in mixed precision, training FLOPs (6·N·D) and the
Chinchilla-optimal number of training tokens (about 20 per parameter). It
accepts a course config or a Hugging Face ``config.json``, which
``course_utils.hf_checkpoint.config_from_hf`` translates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .hf_checkpoint import config_from_hf
from .model_config import ModelShape
from .tools.checks import finite_number, instance_of, non_negative_int, one_of, positive_int

# "int4" is the ideal 4 bits; real 4-bit formats also store a scale (and a minimum) per small
# block of weights: llama.cpp's Q4_0 and Q4_K take 4.5 bits = 0.5625 bytes per weight ("q4_k").
BYTES_PER_PARAM = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "int8": 1.0,
    "int4": 0.5,
    "q4_k": 4.5 / 8,
}
WEIGHT_DTYPES = ("fp32", "bf16", "int8", "int4", "q4_k")  # the ones size_report lists
# Mixed-precision AdamW, per parameter: bf16 weights (2) + bf16 gradients (2)
# + fp32 master weights (4) + Adam's first and second moments in fp32 (4 + 4).
ADAMW_MIXED_PRECISION_BYTES = 16
CHINCHILLA_TOKENS_PER_PARAM = 20
GB = 1e9  # GPU memory is sold in decimal-ish "GB"; we use 10^9 bytes throughout
GPU_TASKS = ("inference-bf16", "inference-int4", "inference-q4_k", "finetune")


# ---------------------------------------------------------------- counting
def _as_module(model_or_config) -> nn.Module:
    """The model itself, or the config's model built on the meta device (no memory)."""
    if isinstance(model_or_config, nn.Module):
        return model_or_config
    if not callable(getattr(model_or_config, "build", None)):
        raise TypeError(
            f"expected an nn.Module or a config with a build() method, "
            f"got {type(model_or_config).__name__}"
        )
    with torch.device("meta"):
        model = model_or_config.build()
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{type(model_or_config).__name__}.build() returned {type(model).__name__}, "
            f"expected an nn.Module"
        )
    return model


def count_parameters(model_or_config, trainable_only: bool = False) -> int:
    """Total number of parameters, each shared (tied) tensor counted once."""
    instance_of("trainable_only", trainable_only, bool)
    params = _as_module(model_or_config).parameters()  # yields a tied tensor once
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


def active_parameters(model_or_config) -> int:
    """Parameters one token passes through: the total, less the routed experts it skips.

    Each mixture-of-experts layer (a module with ``experts`` and ``top_k``, such as
    ``course_utils.llama.MoE``) holds E routed experts and sends a token to k of them, so
    the (E - k) others are idle for that token. A dense model's active count is its total.
    """
    model = _as_module(model_or_config)
    idle = 0
    for m in model.modules():
        experts, top_k = getattr(m, "experts", None), getattr(m, "top_k", None)
        if isinstance(experts, nn.ModuleList) and isinstance(top_k, int):
            idle += (len(experts) - top_k) * count_parameters(experts[0])
    return count_parameters(model) - idle


def embedding_parameters(model_or_config) -> int:
    """Parameters of the lookup tables (token, position, segment) plus an untied output head.

    These scale with the vocabulary, not with depth; Kaplan et al. (2020) leave
    them out of the "non-embedding" N that their scaling laws use.
    """
    model = _as_module(model_or_config)
    tables = [m.weight for m in model.modules() if isinstance(m, nn.Embedding)]
    shapes = {tuple(t.shape) for t in tables}
    heads = [
        m.weight
        for m in model.modules()
        if isinstance(m, nn.Linear) and (m.out_features, m.in_features) in shapes
    ]
    unique = {id(p): p for p in tables + heads}
    return sum(p.numel() for p in unique.values())


# ---------------------------------------------------------------- the calculator
def model_shape(config) -> ModelShape:
    """``config.shape``: layers, width, heads, KV heads, head width, FFN width, vocabulary."""
    shape = getattr(config, "shape", None)
    if not isinstance(shape, ModelShape):
        raise TypeError(
            f"expected a course config with a shape (GPTConfig, BertConfig or LlamaConfig), "
            f"got {type(config).__name__}"
        )
    return shape


def _positive(name: str, value) -> float:
    return finite_number(name, value, low=0, low_inclusive=False)


def _bytes(dtype: str) -> float:
    return BYTES_PER_PARAM[one_of("dtype", dtype, BYTES_PER_PARAM)]


def weight_bytes(n_params: int, dtype: str = "bf16") -> float:
    """Memory of the weights alone: n_params x bytes per parameter of dtype."""
    return _positive("n_params", n_params) * _bytes(dtype)


def kv_cache_bytes(config, context: int = 1, batch: int = 1, dtype: str = "bf16") -> float:
    """2 (K and V) x layers x kv_heads x head_dim x bytes, per token; times context x batch."""
    non_negative_int("context", context)
    positive_int("batch", batch)
    s = model_shape(config)
    if not s.decoder:
        raise ValueError(
            "an encoder (BERT) generates nothing token by token, so it keeps no KV cache"
        )
    return 2 * s.layers * s.kv_heads * s.head_dim * _bytes(dtype) * context * batch


def training_bytes(n_params: int, bytes_per_param: float = ADAMW_MIXED_PRECISION_BYTES) -> float:
    """Weights, gradients and AdamW state in mixed precision (16 bytes/param); no activations."""
    return _positive("n_params", n_params) * _positive("bytes_per_param", bytes_per_param)


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute C ~ 6 N D: 2N FLOPs per token forward, 4N backward (Kaplan et al. 2020)."""
    return 6.0 * _positive("n_params", n_params) * _positive("n_tokens", n_tokens)


def chinchilla_tokens(n_params: int) -> float:
    """Compute-optimal training tokens, about 20 per parameter (Hoffmann et al. 2022)."""
    return CHINCHILLA_TOKENS_PER_PARAM * _positive("n_params", n_params)


@dataclass(frozen=True)
class SizeReport:
    """What ``size_report`` derives from one config; memory in GB (10^9 bytes)."""

    name: str
    params: int
    active: int  # parameters one token passes through (< params for a mixture of experts)
    embedding: int
    weights_gb: dict
    kv_bytes_per_token: float | None
    kv_gb: float | None
    context: int
    batch: int
    training_gb: float
    chinchilla_tokens: float  # 20 per parameter (a rule made for dense models)
    chinchilla_flops: float  # 6 x active parameters x those tokens

    @property
    def non_embedding(self) -> int:
        return self.params - self.embedding

    def __str__(self) -> str:
        w = ", ".join(f"{k} {v:.1f} GB" for k, v in self.weights_gb.items())
        kv = "no KV cache (encoder)"
        if self.kv_bytes_per_token is not None and self.kv_gb is not None:
            kv = (
                f"KV cache {self.kv_bytes_per_token / 2**10:.0f} KiB/token, {self.kv_gb:.2f} GB "
                f"for {self.context:,} tokens x batch {self.batch}"
            )
        active = (
            f"\n  active per token (mixture of experts): {self.active:,}"
            if self.active != self.params
            else ""
        )
        return (
            f"{self.name}: {self.params:,} parameters ({self.embedding:,} embedding, "
            f"{self.non_embedding:,} non-embedding){active}\n  weights: {w}\n  {kv}\n"
            f"  full fine-tuning with AdamW (mixed precision, no activations): "
            f"{self.training_gb:.0f} GB\n  Chinchilla-optimal: "
            f"{self.chinchilla_tokens / 1e9:.0f}B tokens, "
            f"6ND = {self.chinchilla_flops:.2e} FLOPs"
        )


def size_report(
    config, name: str = "", context: int = 4096, batch: int = 1, kv_dtype: str = "bf16"
) -> SizeReport:
    """Everything the calculator shows, for a course config (or a config.json dict/path)."""
    instance_of("name", name, str)
    non_negative_int("context", context)
    positive_int("batch", batch)
    one_of("kv_dtype", kv_dtype, BYTES_PER_PARAM)
    if isinstance(config, dict | str | Path):
        config = config_from_hf(config)
    model = _as_module(config)  # built once (on the meta device), counted three ways
    n, active = count_parameters(model), active_parameters(model)
    kv_tok = kv_cache_bytes(config, 1, 1, kv_dtype) if model_shape(config).decoder else None
    return SizeReport(
        name=name or type(config).__name__,
        params=n,
        active=active,
        embedding=embedding_parameters(model),
        weights_gb={d: weight_bytes(n, d) / GB for d in WEIGHT_DTYPES},
        kv_bytes_per_token=kv_tok,
        kv_gb=None if kv_tok is None else kv_tok * context * batch / GB,
        context=context,
        batch=batch,
        training_gb=training_bytes(n) / GB,
        chinchilla_tokens=chinchilla_tokens(n),
        chinchilla_flops=training_flops(active, chinchilla_tokens(n)),
    )


def fits(report: SizeReport, gpu_gb: float, task: str = "inference-bf16") -> bool:
    """Does a GPU of gpu_gb GB hold the task? Tasks: inference-bf16, inference-int4 (an ideal
    0.5 bytes per weight), inference-q4_k (4.5 bits per weight, scales included), finetune.

    Inference needs the weights plus the KV cache of report.context x report.batch tokens;
    full fine-tuning needs 16 bytes/param (activations come on top, so a "yes" is optimistic).
    """
    instance_of("report", report, SizeReport)
    _positive("gpu_gb", gpu_gb)
    one_of("task", task, GPU_TASKS)
    kv = report.kv_gb or 0.0
    need = {
        "inference-bf16": report.weights_gb["bf16"] + kv,
        "inference-int4": report.weights_gb["int4"] + kv,
        "inference-q4_k": report.weights_gb["q4_k"] + kv,
        "finetune": report.training_gb,
    }
    return need[task] <= gpu_gb
