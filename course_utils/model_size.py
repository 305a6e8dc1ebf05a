"""How big is a model? Parameters, memory, KV cache, training cost: from a config, in a second.

``count_parameters`` counts a built model, or a config built on the ``meta``
device: a config object counts when it has a ``build()`` method returning an
``nn.Module``. Building under ``torch.device("meta")`` allocates no memory, so
even a 175B-parameter configuration counts in a second.

``config_from_hf`` turns a Hugging Face ``config.json`` (gpt2, openai-gpt, bert,
llama, mistral, qwen2, chatglm, baichuan) into the course's own config, and
``size_report`` derives from it everything the calculator shows: parameters
(total, embedding, non-embedding), weight memory per dtype, KV-cache bytes,
training memory with AdamW in mixed precision, training FLOPs (6·N·D) and the
Chinchilla-optimal number of training tokens (about 20 per parameter).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

SUPPORTED_MODEL_TYPES = (
    "gpt2", "openai-gpt", "bert", "llama", "mistral", "qwen2", "chatglm", "baichuan",
)
BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}
# Mixed-precision AdamW, per parameter: bf16 weights (2) + bf16 gradients (2)
# + fp32 master weights (4) + Adam's first and second moments in fp32 (4 + 4).
ADAMW_MIXED_PRECISION_BYTES = 16
CHINCHILLA_TOKENS_PER_PARAM = 20
GB = 1e9   # GPU memory is sold in decimal-ish "GB"; we use 10^9 bytes throughout


def count_parameters(model_or_config, trainable_only: bool = False) -> int:
    """Total number of parameters, each shared (tied) tensor counted once."""
    if isinstance(model_or_config, nn.Module):
        model = model_or_config
    elif hasattr(model_or_config, "build") and callable(model_or_config.build):
        with torch.device("meta"):
            model = model_or_config.build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"{type(model_or_config).__name__}.build() returned "
                            f"{type(model).__name__}, expected an nn.Module")
    else:
        raise TypeError(f"count_parameters expects an nn.Module or a config with a build() method, "
                        f"got {type(model_or_config).__name__}")
    seen: set[int] = set()
    total = 0
    for p in model.parameters():  # parameters() already yields a tied tensor once
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def embedding_parameters(model_or_config) -> int:
    """Parameters of the lookup tables (token, position, segment) plus an untied output head.

    These scale with the vocabulary, not with depth; Kaplan et al. (2020) leave
    them out of the "non-embedding" N that their scaling laws use.
    """
    if isinstance(model_or_config, nn.Module):
        model = model_or_config
    else:
        count_parameters(model_or_config)  # validates the argument
        with torch.device("meta"):
            model = model_or_config.build()
    tables = [m.weight for m in model.modules() if isinstance(m, nn.Embedding)]
    shapes = {tuple(t.shape) for t in tables}
    heads = [m.weight for m in model.modules()
             if isinstance(m, nn.Linear) and (m.out_features, m.in_features) in shapes]
    unique = {id(p): p for p in tables + heads}
    return sum(p.numel() for p in unique.values())


# ---------------------------------------------------------------- Hugging Face config.json
def _load(config) -> dict:
    if isinstance(config, str | Path):
        path = Path(config)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"no config.json at {path}")
        return json.loads(path.read_text(encoding="utf-8"))
    if hasattr(config, "to_dict") and not isinstance(config, dict):  # a transformers config object
        config = config.to_dict()
    if not isinstance(config, dict):
        raise TypeError(f"config_from_hf expects a dict (parsed config.json) or a path, "
                        f"got {type(config).__name__}")
    return config


def _rope_theta(c: dict, default: float = 10000.0) -> float:
    params = c.get("rope_parameters") or {}
    theta = c.get("rope_theta", params.get("rope_theta", default))
    scaling = c.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type")) or params.get("rope_type", "default")
    if kind not in ("default", None):
        warnings.warn(f"rope scaling {kind!r} is ignored: parameter counts are exact, but "
                      f"long-context outputs of the course's model will differ from the original",
                      stacklevel=3)
    return float(theta)


def _need(c: dict, model_type: str, *keys):
    missing = [k for k in keys if k not in c]
    if missing:
        raise ValueError(f"config.json of model_type {model_type!r} lacks {missing}")
    return [c[k] for k in keys]


def config_from_hf(config):
    """The course's config for a Hugging Face config.json (a dict, a transformers config, a path).

    gpt2/openai-gpt -> ``course_utils.gpt.GPTConfig``; bert -> ``course_utils.bert.BertConfig``;
    llama/mistral/qwen2/chatglm/baichuan -> ``course_utils.llama.LlamaConfig``.
    """
    c = _load(config)
    model_type = c.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(f"model_type {model_type!r} is not supported; supported types are "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)}")
    if model_type in ("gpt2", "openai-gpt"):
        from .gpt import GPTConfig

        vocab, n_pos, n_layer, n_head, n_embd = _need(c, model_type, "vocab_size", "n_positions",
                                                      "n_layer", "n_head", "n_embd")
        eps = c.get("layer_norm_epsilon", 1e-5)
        return GPTConfig(vocab_size=vocab, block_size=n_pos, n_layer=n_layer, n_head=n_head,
                         d_model=n_embd, d_ff=c.get("n_inner") or None, layer_norm_eps=eps,
                         norm_first=model_type == "gpt2",
                         tie_weights=c.get("tie_word_embeddings", True))
    if model_type == "bert":
        from .bert import BertConfig

        keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size")
        values = dict(zip(keys, _need(c, model_type, *keys)))
        return BertConfig(**values, layer_norm_eps=c.get("layer_norm_eps", 1e-12),
                          hidden_act=c.get("hidden_act", "gelu"))
    from .llama import LlamaConfig

    if model_type == "chatglm":
        if "padded_vocab_size" not in c:
            raise ValueError("only ChatGLM2/ChatGLM3 configs (with padded_vocab_size) are "
                             "supported; ChatGLM-6B (v1) is a different architecture")
        mqa = c.get("multi_query_attention", False)
        vocab, hidden, layers, heads, ffn = _need(
            c, model_type, "padded_vocab_size", "hidden_size", "num_layers", "num_attention_heads",
            "ffn_hidden_size")
        kv_heads = c.get("multi_query_group_num", heads) if mqa else heads
        if c.get("add_bias_linear", False):
            raise ValueError("ChatGLM configs with add_bias_linear=true are not supported")
        return LlamaConfig(model_type="chatglm", vocab_size=vocab, hidden_size=hidden,
                           num_hidden_layers=layers, num_attention_heads=heads,
                           num_key_value_heads=kv_heads,
                           head_dim=c.get("kv_channels", hidden // heads), intermediate_size=ffn,
                           max_position_embeddings=c.get("seq_length", 8192),
                           rms_norm_eps=c.get("layernorm_epsilon", 1e-5),
                           rope_theta=10000.0 * c.get("rope_ratio", 1.0),
                           partial_rotary_factor=0.5, rope_interleaved=True,
                           attention_bias=c.get("add_qkv_bias", False), tie_word_embeddings=False)
    keys = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size")
    vocab, hidden, layers, heads, ffn = _need(c, model_type, *keys)
    common = dict(model_type=model_type, vocab_size=vocab, hidden_size=hidden,
                  num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=ffn,
                  rms_norm_eps=c.get("rms_norm_eps", 1e-6))
    if model_type == "baichuan":
        # Baichuan-7B and Baichuan2-7B (hidden 4096) use RoPE; the 13B models use ALiBi.
        return LlamaConfig(**common, max_position_embeddings=c.get("max_position_embeddings",
                                                                   c.get("model_max_length", 4096)),
                           position="rope" if hidden == 4096 else "alibi",
                           tie_word_embeddings=False)
    if c.get("mlp_bias", False):
        raise ValueError("configs with mlp_bias=true are not supported")
    return LlamaConfig(**common, num_key_value_heads=c.get("num_key_value_heads", heads),
                       head_dim=c.get("head_dim") or hidden // heads,
                       max_position_embeddings=c.get("max_position_embeddings", 4096),
                       rope_theta=_rope_theta(c),
                       attention_bias=model_type == "qwen2" or c.get("attention_bias", False),
                       tie_word_embeddings=c.get("tie_word_embeddings", False),
                       sliding_window=c.get("sliding_window") if model_type == "mistral" else None)


# ---------------------------------------------------------------- the calculator
@dataclass(frozen=True)
class Shape:
    """What the KV cache needs to know about an architecture."""

    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    decoder: bool


def architecture(config) -> Shape:
    """Layers, heads and head width of a GPTConfig, BertConfig or LlamaConfig (duck-typed)."""
    c = config
    if hasattr(c, "num_key_value_heads"):                                     # Llama family
        return Shape(c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                     True)
    if hasattr(c, "n_layer") and hasattr(c, "n_head"):                         # GPT
        return Shape(c.n_layer, c.n_head, c.n_head, c.d_model // c.n_head, True)
    if hasattr(c, "num_hidden_layers") and hasattr(c, "num_attention_heads"):  # BERT
        return Shape(c.num_hidden_layers, c.num_attention_heads, c.num_attention_heads,
                     c.hidden_size // c.num_attention_heads, False)
    raise TypeError(f"cannot read layers and heads from {type(c).__name__}; expected a GPTConfig, "
                    f"BertConfig or LlamaConfig")


def _bytes(dtype: str) -> float:
    if dtype not in BYTES_PER_PARAM:
        raise ValueError(f"dtype must be one of {sorted(BYTES_PER_PARAM)}, got {dtype!r}")
    return BYTES_PER_PARAM[dtype]


def weight_bytes(n_params: int, dtype: str = "bf16") -> float:
    """Memory of the weights alone: n_params x bytes per parameter of dtype."""
    return n_params * _bytes(dtype)


def kv_cache_bytes(config, context: int = 1, batch: int = 1, dtype: str = "bf16") -> float:
    """2 (K and V) x layers x kv_heads x head_dim x bytes, per token; times context x batch."""
    if context < 0 or batch < 1:
        raise ValueError(f"context must be >= 0 and batch >= 1, got {context} and {batch}")
    s = architecture(config)
    if not s.decoder:
        raise ValueError("an encoder (BERT) generates nothing token by token, so it keeps no "
                         "KV cache")
    return 2 * s.n_layers * s.n_kv_heads * s.head_dim * _bytes(dtype) * context * batch


def training_bytes(n_params: int, bytes_per_param: int = ADAMW_MIXED_PRECISION_BYTES) -> float:
    """Weights, gradients and AdamW state in mixed precision (16 bytes/param); no activations."""
    return n_params * bytes_per_param


def training_flops(n_params: int, n_tokens: float) -> float:
    """About 6·N·D: 2 FLOPs per parameter per token forward, 4 backward (Kaplan et al. 2020)."""
    return 6.0 * n_params * n_tokens


def chinchilla_tokens(n_params: int) -> float:
    """Compute-optimal training tokens, about 20 per parameter (Hoffmann et al. 2022)."""
    return CHINCHILLA_TOKENS_PER_PARAM * n_params


@dataclass(frozen=True)
class SizeReport:
    name: str
    params: int
    embedding: int
    weights_gb: dict
    kv_bytes_per_token: float | None
    kv_gb: float | None
    context: int
    batch: int
    training_gb: float
    chinchilla_tokens: float
    chinchilla_flops: float

    @property
    def non_embedding(self) -> int:
        return self.params - self.embedding

    def __str__(self) -> str:
        w = ", ".join(f"{k} {v:.1f} GB" for k, v in self.weights_gb.items())
        kv = ("no KV cache (encoder)" if self.kv_gb is None else
              f"KV cache {self.kv_bytes_per_token / 2**10:.0f} KiB/token, {self.kv_gb:.2f} GB for "
              f"{self.context:,} tokens x batch {self.batch}")
        return (f"{self.name}: {self.params:,} parameters ({self.embedding:,} embedding, "
                f"{self.non_embedding:,} non-embedding)\n  weights: {w}\n  {kv}\n"
                f"  full fine-tuning with AdamW (mixed precision, no activations): "
                f"{self.training_gb:.0f} GB\n  Chinchilla-optimal: "
                f"{self.chinchilla_tokens / 1e9:.0f}B tokens, "
                f"6ND = {self.chinchilla_flops:.2e} FLOPs")


def size_report(config, name: str = "", context: int = 4096, batch: int = 1,
                kv_dtype: str = "bf16") -> SizeReport:
    """Everything the calculator shows, for a course config (or a config.json dict/path)."""
    if isinstance(config, dict | str | Path):
        config = config_from_hf(config)
    n = count_parameters(config)
    s = architecture(config)
    kv_tok = kv_cache_bytes(config, 1, 1, kv_dtype) if s.decoder else None
    return SizeReport(
        name=name or type(config).__name__, params=n, embedding=embedding_parameters(config),
        weights_gb={d: weight_bytes(n, d) / GB for d in ("fp32", "bf16", "int8", "int4")},
        kv_bytes_per_token=kv_tok,
        kv_gb=None if kv_tok is None else kv_tok * context * batch / GB,
        context=context, batch=batch, training_gb=training_bytes(n) / GB,
        chinchilla_tokens=chinchilla_tokens(n),
        chinchilla_flops=training_flops(n, chinchilla_tokens(n)))


def fits(report: SizeReport, gpu_gb: float, task: str = "inference-bf16") -> bool:
    """Does a GPU of gpu_gb GB hold the task? Tasks: inference-bf16, inference-int4, finetune.

    Inference needs the weights plus the KV cache of report.context x report.batch tokens;
    full fine-tuning needs 16 bytes/param (activations come on top, so a "yes" is optimistic).
    """
    kv = report.kv_gb or 0.0
    need = {"inference-bf16": report.weights_gb["bf16"] + kv,
            "inference-int4": report.weights_gb["int4"] + kv,
            "finetune": report.training_gb}
    if task not in need:
        raise ValueError(f"task must be one of {sorted(need)}, got {task!r}")
    return need[task] <= gpu_gb


# ---------------------------------------------------------------- published config.json files
# The size-relevant fields of each model's config.json as published on the Hugging Face Hub
# (meta-llama/Llama-2-7b-hf, mistralai/Mistral-7B-v0.1, Qwen/Qwen2-7B, THUDM/chatglm3-6b,
# baichuan-inc/Baichuan-7B, baichuan-inc/Baichuan-13B-Base, openai-community/gpt2,
# openai-community/openai-gpt, google-bert/bert-base-uncased), copied so the course runs offline.
EXAMPLE_HF_CONFIGS: dict[str, dict] = {
    "Llama-2-7B": {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096,
                   "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 32, "max_position_embeddings": 4096,
                   "rms_norm_eps": 1e-05, "tie_word_embeddings": False},
    "Mistral-7B": {"model_type": "mistral", "vocab_size": 32000, "hidden_size": 4096,
                   "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                   "num_key_value_heads": 8, "max_position_embeddings": 32768,
                   "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
                   "tie_word_embeddings": False},
    "Qwen2-7B": {"model_type": "qwen2", "vocab_size": 152064, "hidden_size": 3584,
                 "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                 "num_key_value_heads": 4, "max_position_embeddings": 131072, "rms_norm_eps": 1e-06,
                 "rope_theta": 1000000.0, "tie_word_embeddings": False},
    "ChatGLM3-6B": {"model_type": "chatglm", "padded_vocab_size": 65024, "hidden_size": 4096,
                    "ffn_hidden_size": 13696, "kv_channels": 128, "num_layers": 28,
                    "num_attention_heads": 32, "multi_query_attention": True,
                    "multi_query_group_num": 2, "add_bias_linear": False, "add_qkv_bias": True,
                    "layernorm_epsilon": 1e-05, "rmsnorm": True, "seq_length": 8192},
    "Baichuan-7B": {"model_type": "baichuan", "vocab_size": 64000, "hidden_size": 4096,
                    "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
                    "max_position_embeddings": 4096, "rms_norm_eps": 1e-06},
    "Baichuan-13B": {"model_type": "baichuan", "vocab_size": 64000, "hidden_size": 5120,
                     "intermediate_size": 13696, "num_hidden_layers": 40, "num_attention_heads": 40,
                     "model_max_length": 4096, "rms_norm_eps": 1e-06},
    "GPT-2": {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
              "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-05},
    "GPT-1": {"model_type": "openai-gpt", "vocab_size": 40478, "n_positions": 512, "n_embd": 768,
              "n_layer": 12, "n_head": 12, "layer_norm_epsilon": 1e-05},
    "BERT-base": {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
                  "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
                  "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
                  "hidden_act": "gelu"},
}
