"""Scaled dot-product attention and multi-head attention (Vaswani et al. 2017).

Shapes are batch first. A ``mask`` holds True (or 1) where attention is
allowed and False (0) where it is not; it must broadcast to the scores'
shape ``(..., seq_q, seq_k)``. A query whose row of the mask is all False
attends to nothing: its weights and its output are zero, never NaN.

Besides ``attention`` and ``MultiHeadedAttention`` (reused unchanged by the
Transformer, BERT and GPT chapters), the module holds the masks
(``causal_mask``, ``padding_mask``), the backward pass derived by hand
(``attention_backward``, ``AttentionWithManualBackward``) and a copy into
PyTorch's ``nn.MultiheadAttention`` (``to_torch_mha``). ``causal_mask`` is the one
causal mask of the course: GPT, Llama (with a sliding window) and the
Transformer's decoder (as ``transformer.subsequent_mask``) all build theirs from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .tools.checks import non_negative_int, positive_int, tensor_shape


def check_attention_inputs(query, key, value, mask=None):
    """Raise a clear TypeError/ValueError, naming the shapes, unless attention can run."""
    for name, t in (("query", query), ("key", key), ("value", value), ("mask", mask)):
        if not (t is None and name == "mask") and not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(
            f"query, key, value need at least 2 dims (..., seq, d); got shapes "
            f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if query.size(-1) != key.size(-1):
        raise ValueError(
            f"query and key must share their last dim d_k; got {tuple(query.shape)} "
            f"and {tuple(key.shape)}"
        )
    if key.size(-2) != value.size(-2):
        raise ValueError(
            f"key and value must have the same sequence length; got "
            f"{tuple(key.shape)} and {tuple(value.shape)}"
        )
    if mask is not None:
        try:
            batch = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2])
            scores_shape = (*batch, query.size(-2), key.size(-2))
            torch.broadcast_shapes(mask.shape, scores_shape)
        except RuntimeError:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} cannot broadcast to the scores' "
                f"shape (..., seq_q, seq_k) of query {tuple(query.shape)} and key "
                f"{tuple(key.shape)}"
            ) from None


def check_heads(h, d_model):
    """h and d_model must be positive ints, and d_model a multiple of h (d_k = d_model / h)."""
    positive_int("h", h), positive_int("d_model", d_model)
    if d_model % h != 0:
        raise ValueError(f"d_model ({d_model}) must be divisible by the number of heads h ({h})")


def check_mha_inputs(query, key, value, d_model):
    """query (batch, seq_q, d_model); key and value (batch, seq_k, d_model), the query's batch."""
    dims = tensor_shape("query", query, f"batch seq_q {d_model}")
    for name, t in (("key", key), ("value", value)):  # the query's batch, one length seq_k
        tensor_shape(name, t, f"batch seq_k {d_model}", dims)


def attention(query, key, value, mask=None, dropout=None):
    """Compute softmax(Q K^T / sqrt(d_k)) V; return (output, attention weights)."""
    check_attention_inputs(query, key, value, mask)
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)  # (..., seq_q, seq_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    p_attn = scores.softmax(dim=-1)  # (..., seq_q, seq_k), each row sums to 1
    if mask is not None:
        # A fully masked row has no allowed key: the softmax of all -inf is 0/0 = NaN.
        # Such a query attends to nothing, so its weights (and its output) are set to zero.
        p_attn = p_attn.masked_fill(~(mask != 0).any(dim=-1, keepdim=True), 0.0)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value), p_attn  # (..., seq_q, d_v), (..., seq_q, seq_k)


class MultiHeadedAttention(nn.Module):
    """h parallel attention heads of width d_k = d_model / h, then an output projection.

    ``self.linears`` holds the W_Q, W_K, W_V and W_O projections in that order.
    ``self.attn`` keeps the attention weights of the last call, for plotting.
    """

    def __init__(self, h: int, d_model: int, dropout: float = 0.1, bias: bool = True):
        super().__init__()
        check_heads(h, d_model)
        self.d_k = d_model // h
        self.h = h
        self.linears = nn.ModuleList([nn.Linear(d_model, d_model, bias=bias) for _ in range(4)])
        self.attn = None
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, query, key, value, mask=None):
        check_mha_inputs(query, key, value, self.h * self.d_k)  # (batch, seq, d_model) each
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (batch, 1, seq_q|1, seq_k): the same mask for every head
        nbatches = query.size(0)
        # 1) project, then split d_model into h heads: (batch, h, seq, d_k)
        query, key, value = [
            lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
            for lin, x in zip(self.linears, (query, key, value))
        ]
        # 2) attention on all heads at once: x (batch, h, seq_q, d_k), attn (batch, h, seq_q, seq_k)
        x, self.attn = attention(query, key, value, mask=mask, dropout=self.dropout)
        # 3) concatenate the heads: (batch, seq, h * d_k), then W_O
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        return self.linears[-1](x)


def causal_mask(size: int, past: int = 0, *, window: int | None = None, device=None):
    """(size, past + size) boolean mask: query i may attend to keys j <= i (no peeking ahead).

    ``past`` keys come first (the positions already in a KV cache): query i sits at
    position past + i and sees them all. With ``window`` (Mistral's sliding window) a
    query sees only its last ``window`` keys, itself included.
    """
    positive_int("size", size), non_negative_int("past", past)
    ones = torch.ones(size, past + size, dtype=torch.bool, device=device)
    mask = ones.tril(past)  # key j <= query position past + i
    if window is not None:
        mask &= ~ones.tril(past - positive_int("window", window))  # ... and j > past + i - window
    return mask  # (size, past + size)


def padding_mask(lengths: Sequence[int] | torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(batch, 1, max_len) boolean mask: True on the first ``lengths[b]`` positions (real tokens).

    The middle axis of size 1 broadcasts over the queries: every query may look at
    every real key and at no padding key.
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise TypeError(
            f"lengths must be a 1-D sequence of ints, got {lengths.dtype} of shape "
            f"{tuple(lengths.shape)}"
        )
    if len(lengths) and lengths.min() < 0:
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    longest = int(lengths.max()) if len(lengths) else 0
    max_len = longest if max_len is None else max_len
    if max_len < longest:
        raise ValueError(f"max_len ({max_len}) is shorter than the longest sequence ({longest})")
    return (torch.arange(max_len)[None, :] < lengths[:, None]).unsqueeze(1)  # (batch, 1, max_len)


def attention_backward(query, key, value, p_attn, grad_output):
    """Gradients (dQ, dK, dV) of attention without dropout, given the weights P and dL/dO.

    O = P V with P = softmax(S) row by row and S = Q K^T / sqrt(d_k), so
    dV = P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(dP * P));
    dQ = dS K / sqrt(d_k);  dK = dS^T Q / sqrt(d_k).
    Masked keys have P = 0, so they get dS = 0: the mask needs no special case.
    """
    scale = 1.0 / math.sqrt(query.size(-1))
    grad_value = torch.matmul(p_attn.transpose(-2, -1), grad_output)  # (..., seq_k, d_v)
    grad_p = torch.matmul(grad_output, value.transpose(-2, -1))  # (..., seq_q, seq_k)
    # the softmax Jacobian diag(p) - p p^T, applied row by row: (..., seq_q, seq_k)
    grad_scores = p_attn * (grad_p - (grad_p * p_attn).sum(dim=-1, keepdim=True))
    grad_query = torch.matmul(grad_scores, key) * scale  # (..., seq_q, d_k)
    grad_key = torch.matmul(grad_scores.transpose(-2, -1), query) * scale  # (..., seq_k, d_k)
    return grad_query, grad_key, grad_value


class AttentionWithManualBackward(torch.autograd.Function):
    """``attention`` (no dropout) whose backward is ``attention_backward``, not autograd's.

    Use ``AttentionWithManualBackward.apply(query, key, value, mask)``; it returns the output only.
    """

    @staticmethod
    def forward(ctx, query, key, value, mask=None):
        output, p_attn = attention(query, key, value, mask=mask)
        ctx.save_for_backward(query, key, value, p_attn)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        query, key, value, p_attn = ctx.saved_tensors
        grads = attention_backward(query, key, value, p_attn, grad_output)  # (dQ, dK, dV)
        return *grads, None


def to_torch_mha(mha: MultiHeadedAttention) -> nn.MultiheadAttention:
    """An ``nn.MultiheadAttention`` (batch_first) holding copies of ``mha``'s weights.

    PyTorch stacks W_Q, W_K, W_V into one ``in_proj_weight`` of shape (3 d_model, d_model).
    """
    # Duck-typed, so that a notebook's own copy of the class works too.
    if not all(hasattr(mha, name) for name in ("linears", "h", "d_k", "dropout")):
        raise TypeError(
            f"expected a MultiHeadedAttention (with .linears, .h, .d_k, .dropout), "
            f"got {type(mha).__name__}"
        )
    d_model = mha.h * mha.d_k
    # W_Q, W_K, W_V, W_O (mypy types a ModuleList's items as nn.Module)
    w_q, w_k, w_v, w_o = cast("list[nn.Linear]", list(mha.linears))
    w = w_q.weight
    bias = w_q.bias is not None
    ref = nn.MultiheadAttention(
        d_model,
        mha.h,
        dropout=mha.dropout.p,
        bias=bias,
        batch_first=True,
        device=w.device,
        dtype=w.dtype,
    )
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([w_q.weight, w_k.weight, w_v.weight]))
        ref.out_proj.weight.copy_(w_o.weight)
        if bias:
            ref.in_proj_bias.copy_(torch.cat([w_q.bias, w_k.bias, w_v.bias]))
            ref.out_proj.bias.copy_(w_o.bias)
    return ref.train(mha.training)


def sdpa_reference(query, key, value, mask=None):
    """PyTorch's fused attention with the course's mask convention (True = keep)."""
    attn_mask = None if mask is None else mask.bool()
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask)
