"""The Transformer of Vaswani et al. 2017, built from small classes.

Names follow The Annotated Transformer (Rush, 2018, Harvard NLP's line-by-line
PyTorch implementation of the paper): ``Embeddings``, ``PositionalEncoding``,
``SublayerConnection`` (Add & Norm), ``PositionwiseFeedForward``,
``EncoderLayer``/``Encoder``, ``DecoderLayer``/``Decoder``, ``Generator``,
``EncoderDecoder``, ``subsequent_mask`` and ``make_model``; only its ``clones``
is renamed, to the course outline's ``clone_module_to_modulelist``.
Attention and the causal mask come from ``course_utils.attention`` unchanged.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadedAttention, causal_mask
from .tools.checks import non_negative_int, one_of, positive_int, probability

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


@dataclass
class TransformerConfig:
    """Hyper-parameters of an encoder-decoder Transformer (the paper's base model by default)."""

    src_vocab: int = 37000
    tgt_vocab: int = 37000
    N: int = 6  # layers in each stack
    d_model: int = 512
    d_ff: int = 2048
    h: int = 8
    dropout: float = 0.1
    activation: str = "relu"  # "relu" (paper) or "gelu" (BERT, GPT)
    positional: str = "sinusoidal"  # "sinusoidal" (paper) or "learned" (BERT, GPT)
    max_len: int = 5000
    n_token_types: int = 0  # > 0 adds BERT's token-type (segment) embeddings
    norm_first: bool = False  # False: post-norm LayerNorm(x + Sublayer(x)); True: pre-norm
    layer_norm_eps: float = 1e-5
    share_embeddings: bool = False  # one table for source and target (needs one shared vocabulary)
    tie_generator: bool = False  # generator weight = target embedding table

    def __post_init__(self):
        check_transformer_config(self)  # ranges and consistency, each failure named

    def build(self) -> EncoderDecoder:
        return make_model(self)


def check_transformer_config(cfg: TransformerConfig) -> None:
    """Every field of a TransformerConfig in range, and the sizes consistent with each other."""
    for name in ("src_vocab", "tgt_vocab", "N", "d_model", "d_ff", "h", "max_len"):
        positive_int(f"TransformerConfig.{name}", getattr(cfg, name))
    non_negative_int("TransformerConfig.n_token_types", cfg.n_token_types)
    probability("TransformerConfig.dropout", cfg.dropout, allow_one=False)
    one_of("TransformerConfig.activation", cfg.activation, sorted(ACTIVATIONS))
    one_of("TransformerConfig.positional", cfg.positional, ("sinusoidal", "learned"))
    if cfg.d_model % cfg.h != 0:
        raise ValueError(f"d_model ({cfg.d_model}) must be divisible by h ({cfg.h})")
    if cfg.positional == "sinusoidal" and cfg.d_model % 2:
        raise ValueError(
            f"d_model must be even for the sinusoidal positional encoding "
            f"(sin/cos pairs), got {cfg.d_model}"
        )
    if cfg.share_embeddings and cfg.src_vocab != cfg.tgt_vocab:
        raise ValueError(
            f"share_embeddings needs src_vocab == tgt_vocab, got {cfg.src_vocab} "
            f"and {cfg.tgt_vocab}"
        )


def check_even_width(d_model: int) -> None:
    """The sinusoidal encoding fills the dimensions in (sin, cos) pairs: d_model must be even."""
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin/cos pairs), got {d_model}")


def check_sequence_length(x: torch.Tensor, max_len: int) -> None:
    """A position table of ``max_len`` rows covers sequences up to that length."""
    if x.size(1) > max_len:
        raise ValueError(f"sequence length {x.size(1)} exceeds max_len {max_len}")


def clone_module_to_modulelist(module: nn.Module, N: int) -> nn.ModuleList:
    """N independent deep copies of ``module`` (the Annotated Transformer's ``clones``)."""
    return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])


def subsequent_mask(size: int) -> torch.Tensor:
    """(1, size, size) boolean mask: position i may attend to positions <= i.

    The annotated Transformer's name for ``attention.causal_mask`` (chapter 05), with a
    batch axis in front.
    """
    return causal_mask(size).unsqueeze(0)  # (1, size, size)


class Embeddings(nn.Module):
    """Token embedding scaled by sqrt(d_model)."""

    def __init__(self, d_model: int, vocab: int):
        super().__init__()
        self.lut = nn.Embedding(vocab, d_model)
        self.d_model = d_model

    def forward(self, x):
        return self.lut(x) * math.sqrt(self.d_model)  # (batch, seq) -> (batch, seq, d_model)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding PE(pos, 2i) = sin(pos / 10000^(2i/d)),
    PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""

    def __init__(self, d_model: int, dropout: float, max_len: int = 5000):
        super().__init__()
        check_even_width(d_model)  # sin/cos pairs
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)  # (max_len, 1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)  # (1, max_len, d_model)

    def forward(self, x):
        check_sequence_length(x, self.pe.size(1))  # x: (batch, seq, d_model)
        return self.dropout(x + self.pe[:, : x.size(1)])


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned position vector (BERT, GPT) instead of the sinusoid."""

    def __init__(self, d_model: int, dropout: float, max_len: int = 512):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        self.pe = nn.Embedding(max_len, d_model)

    def forward(self, x):
        check_sequence_length(x, self.pe.num_embeddings)  # x: (batch, seq, d_model)
        pos = torch.arange(x.size(1), device=x.device)
        return self.dropout(x + self.pe(pos))


class SublayerConnection(nn.Module):
    """Add & Norm. Post-norm (paper): LayerNorm(x + Sublayer(x)).
    Pre-norm (GPT-2 and later): x + Sublayer(LayerNorm(x))."""

    def __init__(self, size: int, dropout: float, norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(size, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x, sublayer):
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


class PositionwiseFeedForward(nn.Module):
    """FFN(x) = W_2 act(W_1 x + b_1) + b_2, applied at each position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        one_of("activation", activation, sorted(ACTIVATIONS))
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.activation = ACTIVATIONS[activation]

    def forward(self, x):
        return self.w_2(self.dropout(self.activation(self.w_1(x))))  # (batch, seq, d_model)


class EncoderLayer(nn.Module):
    """Self-attention, then the feed-forward network, each wrapped in Add & Norm."""

    def __init__(self, size, self_attn, feed_forward, dropout, norm_first=False, eps=1e-5):
        super().__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = clone_module_to_modulelist(
            SublayerConnection(size, dropout, norm_first, eps), 2
        )
        self.size = size

    def forward(self, x, mask):
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, mask))
        return self.sublayer[1](x, self.feed_forward)


class Encoder(nn.Module):
    """A stack of N encoder layers (a final LayerNorm only in pre-norm mode)."""

    def __init__(self, layer: EncoderLayer, N: int, norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        self.layers = clone_module_to_modulelist(layer, N)
        self.norm = nn.LayerNorm(layer.size, eps=eps) if norm_first else nn.Identity()

    def forward(self, x, mask):
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the memory, then the FFN."""

    def __init__(
        self, size, self_attn, src_attn, feed_forward, dropout, norm_first=False, eps=1e-5
    ):
        super().__init__()
        self.size = size
        self.self_attn = self_attn
        self.src_attn = src_attn
        self.feed_forward = feed_forward
        self.sublayer = clone_module_to_modulelist(
            SublayerConnection(size, dropout, norm_first, eps), 3
        )

    def forward(self, x, memory, src_mask, tgt_mask):
        m = memory
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, tgt_mask))
        x = self.sublayer[1](x, lambda x: self.src_attn(x, m, m, src_mask))
        return self.sublayer[2](x, self.feed_forward)


class Decoder(nn.Module):
    """A stack of N decoder layers (a final LayerNorm only in pre-norm mode)."""

    def __init__(self, layer: DecoderLayer, N: int, norm_first: bool = False, eps: float = 1e-5):
        super().__init__()
        self.layers = clone_module_to_modulelist(layer, N)
        self.norm = nn.LayerNorm(layer.size, eps=eps) if norm_first else nn.Identity()

    def forward(self, x, memory, src_mask, tgt_mask):
        for layer in self.layers:
            x = layer(x, memory, src_mask, tgt_mask)
        return self.norm(x)


class Generator(nn.Module):
    """Output probabilities: linear projection to the vocabulary, then log-softmax."""

    def __init__(self, d_model: int, vocab: int):
        super().__init__()
        self.proj = nn.Linear(d_model, vocab)

    def forward(self, x):
        return F.log_softmax(self.proj(x), dim=-1)  # (batch, seq, vocab)


class EncoderDecoder(nn.Module):
    """The whole Transformer: encode the source, decode the target against the memory."""

    def __init__(self, encoder, decoder, src_embed, tgt_embed, generator):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.src_embed = src_embed
        self.tgt_embed = tgt_embed
        self.generator = generator

    def forward(self, src, tgt, src_mask, tgt_mask):
        return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)

    def encode(self, src, src_mask):
        return self.encoder(self.src_embed(src), src_mask)

    def decode(self, memory, src_mask, tgt, tgt_mask):
        return self.decoder(self.tgt_embed(tgt), memory, src_mask, tgt_mask)


def _positional(cfg: TransformerConfig) -> nn.Module:
    if cfg.positional == "sinusoidal":
        return PositionalEncoding(cfg.d_model, cfg.dropout, cfg.max_len)
    return LearnedPositionalEmbedding(cfg.d_model, cfg.dropout, cfg.max_len)


def make_model(cfg: TransformerConfig | None = None, **overrides) -> EncoderDecoder:
    """Build an EncoderDecoder from a config (keyword overrides allowed), Xavier-initialised."""
    if cfg is None:
        cfg = TransformerConfig(**overrides)
    elif overrides:
        cfg = TransformerConfig(**{**cfg.__dict__, **overrides})
    c = copy.deepcopy
    attn = MultiHeadedAttention(cfg.h, cfg.d_model, cfg.dropout)
    ff = PositionwiseFeedForward(cfg.d_model, cfg.d_ff, cfg.dropout, cfg.activation)
    nf, eps = cfg.norm_first, cfg.layer_norm_eps
    src_lut = Embeddings(cfg.d_model, cfg.src_vocab)
    tgt_lut = src_lut if cfg.share_embeddings else Embeddings(cfg.d_model, cfg.tgt_vocab)
    model = EncoderDecoder(
        Encoder(EncoderLayer(cfg.d_model, c(attn), c(ff), cfg.dropout, nf, eps), cfg.N, nf, eps),
        Decoder(
            DecoderLayer(cfg.d_model, c(attn), c(attn), c(ff), cfg.dropout, nf, eps), cfg.N, nf, eps
        ),
        nn.Sequential(src_lut, _positional(cfg)),
        nn.Sequential(tgt_lut, _positional(cfg)),
        Generator(cfg.d_model, cfg.tgt_vocab),
    )
    for p in model.parameters():
        if p.dim() > 1 and p.device.type != "meta":
            nn.init.xavier_uniform_(p)
    if cfg.tie_generator:
        model.generator.proj.weight = tgt_lut.lut.weight
    return model


# --- PyTorch's own Transformer, for the equivalence tests and the speed benchmark -------------


def _copy_affine(dst: nn.Linear | nn.LayerNorm, weight: torch.Tensor, bias: torch.Tensor | None):
    """dst := (weight, bias); no bias (PyTorch's ``bias=False``) copies as a zero bias."""
    dst.weight.copy_(weight)
    if bias is None:
        dst.bias.zero_()
    else:
        dst.bias.copy_(bias)


@torch.no_grad()
def copy_from_torch_layer(
    ours: EncoderLayer | DecoderLayer,
    theirs: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer,
) -> None:
    """Copy the weights of ``nn.TransformerEncoderLayer``/``DecoderLayer`` into the course's layer.

    PyTorch keeps W_Q, W_K, W_V stacked in one ``in_proj_weight`` (3 d_model, d_model);
    we split it into ``linears[0..2]``; ``out_proj`` is ``linears[3]``.
    """
    if not isinstance(theirs, nn.TransformerEncoderLayer | nn.TransformerDecoderLayer):
        raise TypeError(
            f"expected nn.TransformerEncoderLayer or nn.TransformerDecoderLayer, "
            f"got {type(theirs).__name__}"
        )
    decoder = isinstance(theirs, nn.TransformerDecoderLayer)
    if decoder != hasattr(ours, "src_attn"):
        raise TypeError(
            f"{type(ours).__name__} and {type(theirs).__name__} do not match: copy an "
            f"encoder layer from nn.TransformerEncoderLayer, a decoder layer from "
            f"nn.TransformerDecoderLayer"
        )
    pairs = [(ours.self_attn, theirs.self_attn)]
    norms = [theirs.norm1, theirs.norm2]
    if isinstance(theirs, nn.TransformerDecoderLayer):  # (= decoder, in a form mypy narrows)
        pairs.append((ours.src_attn, theirs.multihead_attn))
        norms.append(theirs.norm3)
    for mine, torch_mha in pairs:
        ws = torch_mha.in_proj_weight.chunk(3)
        bs = torch_mha.in_proj_bias.chunk(3) if torch_mha.in_proj_bias is not None else (None,) * 3
        for lin, w, b in zip(mine.linears[:3], ws, bs):
            _copy_affine(lin, w, b)
        _copy_affine(mine.linears[3], torch_mha.out_proj.weight, torch_mha.out_proj.bias)
    _copy_affine(ours.feed_forward.w_1, theirs.linear1.weight, theirs.linear1.bias)
    _copy_affine(ours.feed_forward.w_2, theirs.linear2.weight, theirs.linear2.bias)
    for sub, norm in zip(ours.sublayer, norms):
        _copy_affine(sub.norm, norm.weight, norm.bias)


class TorchTransformerModel(nn.Module):
    """``nn.Transformer`` with the course's embeddings, positional encoding and generator,
    called like ``EncoderDecoder`` (same masks), as the reference for speed comparisons.

    Note that ``nn.Transformer`` always adds a final LayerNorm after each stack.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.transformer = nn.Transformer(
            cfg.d_model,
            cfg.h,
            cfg.N,
            cfg.N,
            cfg.d_ff,
            cfg.dropout,
            cfg.activation,
            layer_norm_eps=cfg.layer_norm_eps,
            batch_first=True,
            norm_first=cfg.norm_first,
        )
        self.src_embed = nn.Sequential(Embeddings(cfg.d_model, cfg.src_vocab), _positional(cfg))
        self.tgt_embed = nn.Sequential(Embeddings(cfg.d_model, cfg.tgt_vocab), _positional(cfg))
        self.generator = Generator(cfg.d_model, cfg.tgt_vocab)

    def forward(self, src, tgt, src_mask, tgt_mask):
        src_pad = ~src_mask[:, 0, :]  # (batch, src_len): True = padding
        tgt_pad = ~tgt_mask[:, -1, :]  # last row of the mask = the non-pad keys
        causal = ~causal_mask(tgt.size(1), device=tgt.device)  # (tgt_len, tgt_len): True = hidden
        return self.transformer(
            self.src_embed(src),
            self.tgt_embed(tgt),
            tgt_mask=causal,
            src_key_padding_mask=src_pad,
            tgt_key_padding_mask=tgt_pad,
            memory_key_padding_mask=src_pad,
        )  # (batch, tgt_len, d_model)
