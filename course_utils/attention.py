"""Scaled dot-product attention and multi-head attention (Vaswani et al. 2017).

Shapes are batch first. A ``mask`` holds True (or 1) where attention is
allowed and False (0) where it is not; it must broadcast to the scores'
shape ``(..., seq_q, seq_k)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def attention(query, key, value, mask=None, dropout=None):
    """Compute softmax(Q K^T / sqrt(d_k)) V; return (output, attention weights)."""
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(f"query, key, value need at least 2 dims (..., seq, d); got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.size(-1) != key.size(-1):
        raise ValueError(f"query and key must share their last dim d_k; got {tuple(query.shape)} "
                         f"and {tuple(key.shape)}")
    if key.size(-2) != value.size(-2):
        raise ValueError(f"key and value must have the same sequence length; got {tuple(key.shape)} "
                         f"and {tuple(value.shape)}")
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)  # (..., seq_q, seq_k)
    if mask is not None:
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} cannot broadcast to the scores' "
                             f"shape {tuple(scores.shape)} (..., seq_q, seq_k)") from None
        scores = scores.masked_fill(mask == 0, float("-inf"))
    p_attn = scores.softmax(dim=-1)
    if mask is not None:
        # A fully masked row has no allowed key: softmax of all -inf is NaN.
        # Such a row attends to nothing, so its weights (and output) are zero.
        p_attn = p_attn.nan_to_num(0.0)
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
        if d_model % h != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by the number of heads h ({h})")
        self.d_k = d_model // h
        self.h = h
        self.linears = nn.ModuleList([nn.Linear(d_model, d_model, bias=bias) for _ in range(4)])
        self.attn = None
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, query, key, value, mask=None):
        if query.dim() != 3:
            raise ValueError(f"query must be (batch, seq, d_model); got shape {tuple(query.shape)}")
        if mask is not None and mask.dim() == 3:
            mask = mask.unsqueeze(1)  # (batch, 1, seq_q|1, seq_k): the same mask for every head
        nbatches = query.size(0)
        # 1) project, then split d_model into h heads: (batch, h, seq, d_k)
        query, key, value = [
            lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
            for lin, x in zip(self.linears, (query, key, value))
        ]
        # 2) attention on all heads at once
        x, self.attn = attention(query, key, value, mask=mask, dropout=self.dropout)
        # 3) concatenate the heads: (batch, seq, h * d_k), then W_O
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        return self.linears[-1](x)


def sdpa_reference(query, key, value, mask=None):
    """PyTorch's fused attention with the course's mask convention (True = keep)."""
    return F.scaled_dot_product_attention(query, key, value, attn_mask=None if mask is None else mask.bool())
