"""A Llama-style decoder: what changed after GPT-2, one small module at a time.

Compared with GPT-2 (``course_utils.gpt``):

* RMSNorm instead of LayerNorm (``course_utils.norms``);
* rotary position embedding instead of learned positions (``course_utils.rope``),
  or ALiBi biases (``course_utils.alibi``, Baichuan-13B);
* a SwiGLU feed-forward network instead of GELU;
* grouped-query attention: fewer key/value heads than query heads (GQA), down
  to a single one (MQA), which shrinks the KV cache;
* an output head that is not tied to the embedding table;
* no bias in the linear layers (Qwen2 and ChatGLM keep one on Q, K, V);
* optionally, a mixture of experts (``MoE``) in place of the one SwiGLU: a router sends
  each token to k of E expert networks (Mixtral, DeepSeekMoE).

Module and parameter names follow Hugging Face's ``LlamaForCausalLM``
(``model.layers.0.self_attn.q_proj.weight``, ...), so a Llama, Mistral or Qwen2
checkpoint loads with ``load_state_dict`` and no renaming. One config class
covers llama, mistral, qwen2, chatglm (2/3), baichuan, mixtral and deepseek
(DeepSeekMoE); ``LLAMA_PRESETS`` holds the published configurations.

Generation is ``course_utils.generation.generate``, shared with GPT; its
``KVCache`` is updated in ``Attention.forward`` (``cache.update(layer, k, v)``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .alibi import alibi_bias
from .attention import causal_mask
from .generation import KVCache, generate
from .model_config import HFFields, ModelShape
from .norms import RMSNorm
from .rope import RotaryEmbedding, apply_rope
from .tools.checks import (
    finite_number,
    instance_of,
    non_negative_int,
    one_of,
    positive_int,
    tensor_shape,
)


@dataclass(frozen=True)
class MoEConfig:
    """A mixture-of-experts feed-forward layer; field names follow the config.json files."""

    num_experts: int  # routed experts per layer (Mixtral: num_local_experts; DeepSeek: n_routed)
    num_experts_per_tok: int  # k: the experts each token is sent to
    moe_intermediate_size: int  # the SwiGLU width of one expert
    n_shared_experts: int = 0  # DeepSeekMoE: experts that every token passes through
    first_k_dense_replace: int = 0  # DeepSeekMoE: the first k layers keep one dense SwiGLU
    norm_topk_prob: bool = True  # rescale the k router weights to sum to 1 (Mixtral: yes)

    def __post_init__(self):
        positive_int("MoEConfig.num_experts", self.num_experts)
        positive_int("MoEConfig.num_experts_per_tok", self.num_experts_per_tok)
        positive_int("MoEConfig.moe_intermediate_size", self.moe_intermediate_size)
        non_negative_int("MoEConfig.n_shared_experts", self.n_shared_experts)
        non_negative_int("MoEConfig.first_k_dense_replace", self.first_k_dense_replace)
        instance_of("MoEConfig.norm_topk_prob", self.norm_topk_prob, bool)
        if self.num_experts_per_tok > self.num_experts:
            raise ValueError(
                f"MoEConfig.num_experts_per_tok ({self.num_experts_per_tok}) cannot exceed "
                f"num_experts ({self.num_experts})"
            )


@dataclass
class LlamaConfig:
    """Hyper-parameters; field names follow Hugging Face's config.json for Llama."""

    vocab_size: int = 32000
    hidden_size: int = 4096
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None  # None: = heads (MHA); fewer: GQA; 1: MQA
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    intermediate_size: int = 11008  # SwiGLU width
    max_position_embeddings: int = 4096
    rms_norm_eps: float = 1e-6
    position: str = "rope"  # "rope" or "alibi"
    rope_theta: float = 10000.0
    partial_rotary_factor: float = 1.0  # ChatGLM: 0.5 (rotate half of each head)
    rope_interleaved: bool = False  # ChatGLM/RoFormer pairs (2i, 2i+1)
    attention_bias: bool = False  # bias on Q, K, V (Qwen2, ChatGLM)
    tie_word_embeddings: bool = False  # Llama-2 7B: untied
    sliding_window: int | None = None  # Mistral: attend to the last W tokens only
    moe: MoEConfig | None = None  # None: one SwiGLU per layer; else a mixture of experts
    model_type: str = "llama"

    HF_MODEL_TYPES: ClassVar[tuple[str, ...]] = (
        "llama",
        "mistral",
        "qwen2",
        "chatglm",
        "baichuan",
        "mixtral",
        "deepseek",
    )

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
        ):
            positive_int(f"LlamaConfig.{name}", getattr(self, name))
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        positive_int("LlamaConfig.num_key_value_heads", self.num_key_value_heads)
        if self.head_dim is None:
            if self.hidden_size % self.num_attention_heads:
                raise ValueError(
                    f"hidden_size ({self.hidden_size}) must be divisible by "
                    f"num_attention_heads ({self.num_attention_heads}), "
                    f"or head_dim must be given"
                )
            self.head_dim = self.hidden_size // self.num_attention_heads
        positive_int("LlamaConfig.head_dim", self.head_dim)
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple "
                f"of num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.position not in ("rope", "alibi"):
            raise ValueError(f"position must be 'rope' or 'alibi', got {self.position!r}")
        for name in ("rms_norm_eps", "rope_theta"):
            finite_number(f"LlamaConfig.{name}", getattr(self, name), low=0, low_inclusive=False)
        finite_number(
            "LlamaConfig.partial_rotary_factor",
            self.partial_rotary_factor,
            low=0,
            high=1,
            low_inclusive=False,
        )
        if self.rotary_dim % 2:
            raise ValueError(f"rotary dimension {self.rotary_dim} must be even")
        for name in ("rope_interleaved", "attention_bias", "tie_word_embeddings"):
            instance_of(f"LlamaConfig.{name}", getattr(self, name), bool)
        if self.sliding_window is not None:
            positive_int("LlamaConfig.sliding_window", self.sliding_window)
        if self.moe is not None:
            instance_of("LlamaConfig.moe", self.moe, MoEConfig)
        one_of("LlamaConfig.model_type", self.model_type, self.HF_MODEL_TYPES)

    def is_moe_layer(self, layer: int) -> bool:
        """Does layer ``layer`` (from 0) hold a mixture of experts instead of one SwiGLU?"""
        return self.moe is not None and layer >= self.moe.first_k_dense_replace

    @property
    def rotary_dim(self) -> int:
        return int(self.shape.head_dim * self.partial_rotary_factor)

    @property
    def shape(self) -> ModelShape:
        """The sizes, with num_key_value_heads and head_dim resolved (never None)."""
        kv_heads, head_dim = self.num_key_value_heads, self.head_dim
        assert kv_heads is not None and head_dim is not None  # __post_init__ filled them
        return ModelShape(
            layers=self.num_hidden_layers,
            d_model=self.hidden_size,
            heads=self.num_attention_heads,
            kv_heads=kv_heads,
            head_dim=head_dim,
            d_ff=self.intermediate_size,
            vocab=self.vocab_size,
            decoder=True,
        )

    # ------------------------------------------------------------ from a config.json
    @classmethod
    def from_hf(cls, d: dict) -> LlamaConfig:
        """Llama, Mistral, Qwen2, ChatGLM2/3, Baichuan, Mixtral or DeepSeekMoE from its
        Hugging Face config.json dict.

        Each family's reader returns the constructor's arguments; a subclass for a new
        family (more fields) extends its reader and adds its model_type to HF_MODEL_TYPES.
        """
        f = HFFields.of(d, cls.HF_MODEL_TYPES)
        readers = {
            "chatglm": cls._chatglm_fields,
            "baichuan": cls._baichuan_fields,
            "mixtral": cls._mixtral_fields,
            "deepseek": cls._deepseek_fields,
        }
        return cls(model_type=f.model_type, **readers.get(f.model_type, cls._llama_fields)(f))

    @staticmethod
    def _core_fields(f: HFFields) -> dict:
        """The fields that Llama, Mistral, Qwen2 and Baichuan name alike."""
        keys = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
        )
        f.require(*keys)
        fields = {k: f.positive_int(k) for k in keys}
        return fields | {"rms_norm_eps": f.number("rms_norm_eps", 1e-6)}

    @classmethod
    def _llama_fields(cls, f: HFFields) -> dict:
        core = cls._core_fields(f)
        if f.flag("mlp_bias", False):
            raise ValueError("configs with mlp_bias=true are not supported")
        mistral = f.model_type in ("mistral", "mixtral")
        return core | dict(
            num_key_value_heads=f.positive_int("num_key_value_heads", None),  # null: = heads
            head_dim=f.positive_int("head_dim", None),  # null: hidden_size / heads
            max_position_embeddings=f.positive_int("max_position_embeddings", 4096),
            rope_theta=cls._rope_theta(f),
            attention_bias=f.model_type == "qwen2" or f.flag("attention_bias", False),
            tie_word_embeddings=f.flag("tie_word_embeddings", False),
            sliding_window=f.positive_int("sliding_window", None) if mistral else None,
        )

    @classmethod
    def _mixtral_fields(cls, f: HFFields) -> dict:
        """Mistral's fields, and in every layer num_local_experts SwiGLUs of the usual width."""
        fields = cls._llama_fields(f)
        f.require("num_local_experts", "num_experts_per_tok")
        moe = MoEConfig(
            num_experts=f.positive_int("num_local_experts"),
            num_experts_per_tok=f.positive_int("num_experts_per_tok"),
            moe_intermediate_size=fields["intermediate_size"],
        )
        return fields | dict(moe=moe)

    @classmethod
    def _deepseek_fields(cls, f: HFFields) -> dict:
        """DeepSeekMoE (model_type "deepseek"): Llama attention, fine-grained and shared experts."""
        fields = cls._llama_fields(f)
        f.require("n_routed_experts", "num_experts_per_tok", "moe_intermediate_size")
        if f.positive_int("moe_layer_freq", 1) != 1:
            raise ValueError("DeepSeek configs with moe_layer_freq != 1 are not supported")
        f.choice("scoring_func", "softmax", ("softmax",))
        moe = MoEConfig(
            num_experts=f.positive_int("n_routed_experts"),
            num_experts_per_tok=f.positive_int("num_experts_per_tok"),
            moe_intermediate_size=f.positive_int("moe_intermediate_size"),
            n_shared_experts=f.non_negative_int("n_shared_experts", 0),
            first_k_dense_replace=f.non_negative_int("first_k_dense_replace", 0),
            norm_topk_prob=f.flag("norm_topk_prob", False),
        )
        return fields | dict(moe=moe)

    @classmethod
    def _baichuan_fields(cls, f: HFFields) -> dict:
        core = cls._core_fields(f)
        # Baichuan-7B and Baichuan2-7B (hidden 4096) use RoPE; the 13B models use ALiBi.
        context = f.positive_int("max_position_embeddings", None)
        return core | dict(
            max_position_embeddings=context or f.positive_int("model_max_length", 4096),
            position="rope" if core["hidden_size"] == 4096 else "alibi",
            tie_word_embeddings=False,
        )

    @staticmethod
    def _chatglm_fields(f: HFFields) -> dict:
        if "padded_vocab_size" not in f.d:
            raise ValueError(
                "only ChatGLM2/ChatGLM3 configs (with padded_vocab_size) are "
                "supported; ChatGLM-6B (v1) is a different architecture"
            )
        f.require("hidden_size", "num_layers", "num_attention_heads", "ffn_hidden_size")
        if f.flag("add_bias_linear", False):
            raise ValueError("ChatGLM configs with add_bias_linear=true are not supported")
        if not f.flag("rmsnorm", True):
            raise ValueError("ChatGLM configs with rmsnorm=false (LayerNorm) are not supported")
        heads = f.positive_int("num_attention_heads")
        multi_query = f.flag("multi_query_attention", False)
        return dict(
            vocab_size=f.positive_int("padded_vocab_size"),
            hidden_size=f.positive_int("hidden_size"),
            num_hidden_layers=f.positive_int("num_layers"),
            num_attention_heads=heads,
            num_key_value_heads=f.positive_int("multi_query_group_num", heads)
            if multi_query
            else heads,
            head_dim=f.positive_int("kv_channels", None),
            intermediate_size=f.positive_int("ffn_hidden_size"),
            max_position_embeddings=f.positive_int("seq_length", 8192),
            rms_norm_eps=f.number("layernorm_epsilon", 1e-5),
            rope_theta=10000.0 * f.number("rope_ratio", 1.0),
            partial_rotary_factor=0.5,  # rotary on half of each head,
            rope_interleaved=True,  # in (2i, 2i+1) pairs
            attention_bias=f.flag("add_qkv_bias", False),
            tie_word_embeddings=False,
        )

    @staticmethod
    def _rope_theta(f: HFFields) -> float:
        """rope_theta, at the top level or (newer transformers) in rope_parameters."""
        params, scaling = f.section("rope_parameters"), f.section("rope_scaling")
        theta = f.number("rope_theta", None)
        kind = scaling.d.get("rope_type", scaling.d.get("type")) or params.d.get("rope_type")
        if kind not in ("default", None):
            warnings.warn(
                f"rope scaling {kind!r} is ignored: parameter counts are exact, but "
                f"long-context outputs of the course's model will differ from the "
                f"original",
                stacklevel=4,
            )
        return params.number("rope_theta", 10000.0) if theta is None else theta

    def build(self) -> LlamaForCausalLM:
        return LlamaForCausalLM(self)


class SwiGLU(nn.Module):
    """FFN(x) = W_down (SiLU(W_gate x) * W_up x): a gated GELU-free feed-forward (Shazeer 2020)."""

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (batch, seq, hidden)


class MoE(nn.Module):
    """Mixture of experts: a router sends each token to its top-k SwiGLU experts (+ shared ones)."""

    def __init__(self, hidden_size: int, cfg: MoEConfig):
        super().__init__()
        self.gate = nn.Linear(hidden_size, cfg.num_experts, bias=False)  # the router
        width, n_shared = cfg.moe_intermediate_size, cfg.n_shared_experts
        self.experts = nn.ModuleList([SwiGLU(hidden_size, width) for _ in range(cfg.num_experts)])
        self.shared_experts = SwiGLU(hidden_size, n_shared * width) if n_shared else None
        self.top_k, self.norm_topk_prob = cfg.num_experts_per_tok, cfg.norm_topk_prob

    def route(self, x):
        """The k experts of each token and their weights, both (tokens, k)."""
        probs = self.gate(x).float().softmax(dim=-1)  # (tokens, experts)
        weights, experts = probs.topk(self.top_k, dim=-1)  # (tokens, k)
        if self.norm_topk_prob:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights, experts

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (tokens, hidden)
        weights, experts = self.route(x)  # (tokens, k) each
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(experts == e)  # the tokens that chose expert e
            if token.numel():
                y = expert(x[token]) * weights[token, slot, None]  # (n_e, hidden)
                out.index_add_(0, token, y.to(x.dtype))
        if self.shared_experts is not None:
            out = out + self.shared_experts(x)  # every token, no router
        return out.view(shape)  # (batch, seq, hidden)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(batch, kv_heads, seq, d) -> (batch, kv_heads * n_rep, seq, d): share each K/V head."""
    if n_rep == 1:
        return x
    b, h, t, d = x.shape
    return x[:, :, None].expand(b, h, n_rep, t, d).reshape(b, h * n_rep, t, d)


class Attention(nn.Module):
    """Causal self-attention with grouped K/V heads, RoPE or ALiBi, and an optional KV cache."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        s = cfg.shape  # head counts and head_dim, with their None defaults resolved
        self.n_heads, self.n_kv_heads, self.head_dim = s.heads, s.kv_heads, s.head_dim
        d, bias = cfg.hidden_size, cfg.attention_bias
        self.q_proj = nn.Linear(d, self.n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.n_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, d, bias=False)
        self.rope_interleaved = cfg.rope_interleaved

    def forward(self, x, rope=None, bias=None, cache: KVCache | None = None, layer: int = 0):
        b, t, _ = x.shape
        hd = self.head_dim
        q = self.q_proj(x).view(b, t, self.n_heads, hd).transpose(1, 2)  # (b, h, t, hd)
        k = self.k_proj(x).view(b, t, self.n_kv_heads, hd).transpose(1, 2)  # (b, kv, t, hd)
        v = self.v_proj(x).view(b, t, self.n_kv_heads, hd).transpose(1, 2)  # (b, kv, t, hd)
        if rope is not None:
            q = apply_rope(q, *rope, interleaved=self.rope_interleaved)
            k = apply_rope(k, *rope, interleaved=self.rope_interleaved)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (b, kv, past + t, hd)
        n_rep = self.n_heads // self.n_kv_heads
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)  # (b, h, T, hd)
        scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(hd)  # (b, h, t, T)
        if bias is not None:
            scores = scores + bias  # causal mask (-inf) and ALiBi
        p_attn = scores.softmax(dim=-1).to(v.dtype)
        out = (p_attn @ v).transpose(1, 2).reshape(b, t, self.n_heads * hd)
        return self.o_proj(out)  # (b, t, hidden)


class DecoderLayer(nn.Module):
    """Pre-norm block: x + Attn(RMSNorm(x)), then x + SwiGLU(RMSNorm(x)) (or an MoE of them)."""

    def __init__(self, cfg: LlamaConfig, layer: int = 0):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if cfg.moe is not None and cfg.is_moe_layer(layer):
            self.mlp: nn.Module = MoE(cfg.hidden_size, cfg.moe)
        else:
            self.mlp = SwiGLU(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x, rope=None, bias=None, cache=None, layer=0):
        x = x + self.self_attn(self.input_layernorm(x), rope, bias, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    """Token embeddings, N decoder layers, a final RMSNorm. No position table."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        rope = cfg.position == "rope"
        self.rotary_emb = RotaryEmbedding(cfg.rotary_dim, cfg.rope_theta) if rope else None
        self.cfg = cfg

    def attn_bias(self, seq_q: int, seq_k: int, device) -> torch.Tensor:
        """(1 or heads, seq_q, seq_k) float bias: 0 where allowed, -inf elsewhere (+ ALiBi)."""
        past, window = seq_k - seq_q, self.cfg.sliding_window
        allowed = causal_mask(seq_q, past, window=window, device=device)  # (seq_q, seq_k)
        bias = torch.zeros(seq_q, seq_k, device=device).masked_fill(~allowed, float("-inf"))
        if self.cfg.position == "alibi":
            bias = bias + alibi_bias(self.cfg.num_attention_heads, seq_q, seq_k).to(device)
        return bias

    def forward(self, idx, cache: KVCache | None = None):
        t = idx.size(1)
        past = len(cache) if cache is not None else 0
        x = self.embed_tokens(idx)  # (b, t, hidden)
        rope = None
        if self.rotary_emb is not None:
            positions = torch.arange(past, past + t, device=idx.device)
            rope = self.rotary_emb(positions)  # cos, sin: (t, rotary_dim/2)
        bias = self.attn_bias(t, past + t, idx.device)
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, bias, cache, i)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    """LlamaModel plus an output head (untied unless cfg.tie_word_embeddings)."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        if not isinstance(cfg, LlamaConfig):
            raise TypeError(f"expected a LlamaConfig, got {type(cfg).__name__}")
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """idx (batch, seq) token ids -> (logits (batch, seq, vocab), loss or None)."""
        dims = tensor_shape("idx", idx, "batch seq", dtype=(torch.int64, torch.int32))  # token ids
        logits = self.lm_head(self.model(idx, cache))  # (b, t, vocab)
        loss = None
        if targets is not None:
            tensor_shape("targets", targets, "batch seq", dims)
            loss = F.cross_entropy(
                logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100
            )
        return logits, loss

    # RoPE and ALiBi have no position table to run out of: generation keeps the whole sequence.
    block_size = None

    def new_cache(self) -> KVCache:
        return KVCache(self.config.num_hidden_layers)

    def generate(self, idx, max_new_tokens: int, **options):
        """Extend idx (batch, seq) by max_new_tokens tokens: ``generation.generate``'s options
        (temperature=0 is greedy; top_k, top_p, eos_token_id, use_cache, generator)."""
        return generate(self, idx, max_new_tokens, **options)


LLAMA_PRESETS: dict[str, LlamaConfig] = {
    "llama-2-7b": LlamaConfig(model_type="llama", rms_norm_eps=1e-5),
    "llama-3-8b": LlamaConfig(
        vocab_size=128256,
        num_key_value_heads=8,
        intermediate_size=14336,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
    ),
    "mistral-7b": LlamaConfig(
        model_type="mistral",
        num_key_value_heads=8,
        intermediate_size=14336,
        max_position_embeddings=32768,
        rms_norm_eps=1e-5,
        sliding_window=4096,
    ),
    "qwen2-7b": LlamaConfig(
        model_type="qwen2",
        vocab_size=152064,
        hidden_size=3584,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        intermediate_size=18944,
        max_position_embeddings=131072,
        rope_theta=1000000.0,
        attention_bias=True,
    ),
    "qwen2-0.5b": LlamaConfig(
        model_type="qwen2",
        vocab_size=151936,
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        intermediate_size=4864,
        max_position_embeddings=131072,
        rope_theta=1000000.0,
        attention_bias=True,
        tie_word_embeddings=True,
    ),
    "chatglm3-6b": LlamaConfig(
        model_type="chatglm",
        vocab_size=65024,
        hidden_size=4096,
        num_hidden_layers=28,
        num_attention_heads=32,
        num_key_value_heads=2,
        head_dim=128,
        intermediate_size=13696,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        partial_rotary_factor=0.5,
        rope_interleaved=True,
        attention_bias=True,
    ),
    "baichuan-7b": LlamaConfig(
        model_type="baichuan", vocab_size=64000, max_position_embeddings=4096
    ),
    "baichuan-13b": LlamaConfig(
        model_type="baichuan",
        vocab_size=64000,
        hidden_size=5120,
        num_hidden_layers=40,
        num_attention_heads=40,
        intermediate_size=13696,
        max_position_embeddings=4096,
        position="alibi",
    ),
    "mixtral-8x7b": LlamaConfig(
        model_type="mixtral",
        num_key_value_heads=8,
        intermediate_size=14336,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-5,
        moe=MoEConfig(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=14336),
    ),
    "deepseek-moe-16b": LlamaConfig(
        model_type="deepseek",
        vocab_size=102400,
        hidden_size=2048,
        num_hidden_layers=28,
        num_attention_heads=16,
        intermediate_size=10944,
        max_position_embeddings=4096,
        moe=MoEConfig(
            num_experts=64,
            num_experts_per_tok=6,
            moe_intermediate_size=1408,
            n_shared_experts=2,
            first_k_dense_replace=1,
            norm_topk_prob=False,
        ),
    ),
}


def tiny_config(base: str | LlamaConfig = "llama-2-7b", **overrides) -> LlamaConfig:
    """A preset's architecture at toy size (for tests and CPU demos)."""
    cfg = LLAMA_PRESETS[base] if isinstance(base, str) else base
    n_heads = 4
    n_kv = max(1, n_heads * cfg.shape.kv_heads // cfg.num_attention_heads)
    small: dict[str, Any] = dict(
        vocab_size=256,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv,
        head_dim=16,
        intermediate_size=172,
        max_position_embeddings=128,
    )
    if cfg.moe is not None:  # the same routing, with narrow experts
        small["moe"] = replace(cfg.moe, moe_intermediate_size=32)
    small.update(overrides)
    return replace(cfg, **small)
