"""A decoder-only GPT built from the course's Transformer blocks (Radford et al. 2018, 2019).

A GPT block *is* ``course_utils.transformer.EncoderLayer`` given a causal
mask: self-attention and a feed-forward network, each wrapped in
``SublayerConnection``; there is no cross-attention. GPT-1 puts the LayerNorm
after each residual (post-norm, ``norm_first=False``); GPT-2 puts it before
(pre-norm) and adds a final LayerNorm ``ln_f``. Token (``wte``) and position
(``wpe``) embeddings are learned, and the output head shares the token table
(``tie_weights``).

Generation is ``course_utils.generation.generate``, shared with Llama.
``forward(idx, cache=...)`` takes its ``KVCache``. The cache is filled through
forward hooks on each layer's W_K and W_V projections (``kv_cache_hooks``), which
pass their outputs through ``cache.update``: the hooks keep chapter 06's
``EncoderLayer`` and ``MultiHeadedAttention`` code identical, where Llama calls
``cache.update`` in its own ``Attention.forward``. Positions are learned, so when
generation runs past ``block_size`` the window slides and the cache is refilled
(the cached keys were computed at positions the tokens no longer hold).
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import asdict, dataclass
from typing import ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadedAttention, causal_mask
from .generation import KVCache, generate
from .model_config import HFFields, ModelShape
from .tools.checks import (
    finite_number,
    instance_of,
    one_of,
    positive_int,
    probability,
    tensor_shape,
)
from .transformer import (
    ACTIVATIONS,
    Encoder,
    EncoderLayer,
    PositionwiseFeedForward,
)


@dataclass
class GPTConfig:
    """Hyper-parameters of a GPT. The defaults are GPT-2 small (124M)."""

    vocab_size: int = 50257
    block_size: int = 1024  # context length n_ctx
    n_layer: int = 12
    n_head: int = 12
    d_model: int = 768
    d_ff: int | None = None  # None -> 4 * d_model
    dropout: float = 0.0
    norm_first: bool = True  # True: pre-norm + final LayerNorm (GPT-2); False: post-norm (GPT-1)
    tie_weights: bool = True  # output head shares the token embedding table
    activation: str = "gelu"
    layer_norm_eps: float = 1e-5
    bias: bool = True  # biases in the Linear and LayerNorm layers

    HF_MODEL_TYPES: ClassVar[tuple[str, ...]] = ("gpt2", "openai-gpt")

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model"):
            positive_int(f"GPTConfig.{name}", getattr(self, name))
        if self.d_model % self.n_head != 0:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})"
            )
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model
        positive_int("GPTConfig.d_ff", self.d_ff)
        probability("GPTConfig.dropout", self.dropout, allow_one=False)
        for name in ("norm_first", "tie_weights", "bias"):
            instance_of(f"GPTConfig.{name}", getattr(self, name), bool)
        one_of("GPTConfig.activation", self.activation, ACTIVATIONS)
        finite_number("GPTConfig.layer_norm_eps", self.layer_norm_eps, low=0, low_inclusive=False)

    @classmethod
    def from_hf(cls, d: dict) -> GPTConfig:
        """GPT-2 or GPT-1 (openai-gpt) from its Hugging Face config.json dict."""
        f = HFFields.of(d, cls.HF_MODEL_TYPES)
        f.require("vocab_size", "n_positions", "n_layer", "n_head", "n_embd")
        return cls(
            vocab_size=f.positive_int("vocab_size"),
            block_size=f.positive_int("n_positions"),
            n_layer=f.positive_int("n_layer"),
            n_head=f.positive_int("n_head"),
            d_model=f.positive_int("n_embd"),
            d_ff=f.positive_int("n_inner", None),  # null: 4 x n_embd
            layer_norm_eps=f.number("layer_norm_epsilon", 1e-5),
            norm_first=f.model_type == "gpt2",  # GPT-1 is post-norm
            tie_weights=f.flag("tie_word_embeddings", True),
        )

    @property
    def shape(self) -> ModelShape:
        """The sizes, with d_ff resolved (never None)."""
        assert self.d_ff is not None  # __post_init__ filled it
        return ModelShape(
            layers=self.n_layer,
            d_model=self.d_model,
            heads=self.n_head,
            kv_heads=self.n_head,
            head_dim=self.d_model // self.n_head,
            d_ff=self.d_ff,
            vocab=self.vocab_size,
            decoder=True,
        )

    def build(self) -> GPT:
        return GPT(self)

    def to_dict(self) -> dict:
        return asdict(self)


GPT_PRESETS: dict[str, GPTConfig] = {
    # GPT-1: BPE vocabulary of 40,478, context 512, post-norm, no final LayerNorm.
    "openai-gpt": GPTConfig(
        vocab_size=40478, block_size=512, n_layer=12, n_head=12, d_model=768, norm_first=False
    ),
    "gpt2": GPTConfig(n_layer=12, n_head=12, d_model=768),
    "gpt2-medium": GPTConfig(n_layer=24, n_head=16, d_model=1024),
    "gpt2-large": GPTConfig(n_layer=36, n_head=20, d_model=1280),
    "gpt2-xl": GPTConfig(n_layer=48, n_head=25, d_model=1600),
}


class GPT(nn.Module):
    """Token + position embedding, N EncoderLayers with a causal mask, then the LM head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}")
        c, d = config, config.d_model
        self.config = c
        self.wte = nn.Embedding(c.vocab_size, d)
        self.wpe = nn.Embedding(c.block_size, d)
        self.drop = nn.Dropout(c.dropout)
        attn = MultiHeadedAttention(c.n_head, d, c.dropout, bias=c.bias)
        ff = PositionwiseFeedForward(d, c.shape.d_ff, c.dropout, c.activation)
        layer = EncoderLayer(d, attn, ff, c.dropout, c.norm_first, c.layer_norm_eps)
        # Encoder adds the final LayerNorm (GPT-2's ln_f) only when norm_first.
        self.blocks = Encoder(layer, c.n_layer, c.norm_first, c.layer_norm_eps)
        self.lm_head = nn.Linear(d, c.vocab_size, bias=False)
        if not c.bias:
            _remove_biases(self)
        self.apply(self._init_weights)
        # GPT-2: the residual projections (W_O and w_2) start smaller, std 0.02 / sqrt(2N)
        for name, p in self.named_parameters():
            if name.endswith("linears.3.weight") or name.endswith("w_2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))
        if c.tie_weights:
            self.lm_head.weight = self.wte.weight

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        """idx (batch, seq) token ids -> (logits (batch, seq, vocab), loss or None).

        With a ``cache``, idx holds the positions after the ``len(cache)`` cached ones.
        """
        dims = tensor_shape("idx", idx, "batch seq", dtype=torch.long)  # token ids
        T, past = idx.size(1), 0 if cache is None else len(cache)
        if past + T > self.config.block_size:
            raise ValueError(
                f"sequence of {past + T} positions exceeds block_size {self.config.block_size}"
            )
        pos = torch.arange(past, past + T, device=idx.device)  # (seq,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (batch, seq, d_model)
        with kv_cache_hooks(self, cache):  # W_K and W_V outputs go through cache.update
            x = self.blocks(x, causal_mask(T, past, device=idx.device))  # (batch, seq, d_model)
        logits = self.lm_head(x)  # (batch, seq, vocab)
        loss = None
        if targets is not None:
            tensor_shape("targets", targets, "batch seq", dims)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @property
    def block_size(self) -> int:
        """The longest context: learned positions exist for 0 .. block_size - 1 only."""
        return self.config.block_size

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def generate(self, idx, max_new_tokens: int, **options):
        """Extend idx (batch, seq) by max_new_tokens tokens: ``generation.generate``'s options
        (temperature=0 is greedy; top_k, top_p, eos_token_id, use_cache, generator)."""
        return generate(self, idx, max_new_tokens, **options)


@contextlib.contextmanager
def kv_cache_hooks(model: GPT, cache: KVCache | None):
    """While active, each layer's W_K and W_V outputs pass through ``cache.update``.

    A forward hook's return value replaces the module's output, so attention sees the
    keys and values of the cached positions followed by the new ones: (batch, past + new,
    d_model). Without a cache nothing is hooked.
    """
    handles = []
    if cache is not None:
        for i, layer in enumerate(model.blocks.layers):
            attn = cast(MultiHeadedAttention, layer.self_attn)  # a ModuleList types it nn.Module
            w_k, w_v = attn.linears[1], attn.linears[2]
            # a hook is called as hook(module, inputs, output); what it returns replaces the output
            handles.append(w_k.register_forward_hook(lambda m, x, k, i=i: cache.update(i, k=k)[0]))
            handles.append(w_v.register_forward_hook(lambda m, x, v, i=i: cache.update(i, v=v)[1]))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _remove_biases(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.LayerNorm)) and getattr(m, "bias", None) is not None:
            m.register_parameter("bias", None)


def closed_form_parameters(cfg: GPTConfig) -> int:
    """V·d + n_ctx·d + L·(12d² + 13d) + 2d: GPT-2 with tied embeddings, d_ff = 4d, biases."""
    V, d, L = cfg.vocab_size, cfg.d_model, cfg.n_layer
    final_ln = 2 * d if cfg.norm_first else 0
    return V * d + cfg.block_size * d + L * (12 * d * d + 13 * d) + final_ln


def reference_gpt(cfg: GPTConfig) -> nn.Module:
    """The same architecture from ``nn.TransformerEncoderLayer`` (for the speed benchmark)."""
    return _TorchGPT(cfg)


class _TorchGPT(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.d_model)
        self.wpe = nn.Embedding(c.block_size, c.d_model)
        layer = nn.TransformerEncoderLayer(
            c.d_model,
            c.n_head,
            c.shape.d_ff,
            c.dropout,
            activation=c.activation,
            layer_norm_eps=c.layer_norm_eps,
            batch_first=True,
            norm_first=c.norm_first,
        )
        self.blocks = nn.ModuleList([copy.deepcopy(layer) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=idx.device)
        for layer in self.blocks:
            x = layer(x, src_mask=mask, is_causal=True)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss
