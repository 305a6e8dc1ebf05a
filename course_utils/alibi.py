"""ALiBi, attention with linear biases (Press et al. 2022), as Baichuan-13B uses it.

No position embedding at all: each head h adds ``-slope_h * (i - j)`` to the
score of query i on key j, so attention fades linearly with distance, at a
different rate in each head. The slopes form a geometric sequence.
"""

from __future__ import annotations

import math

import torch

from .tools.checks import positive_int


def _check_lengths(seq_q, seq_k) -> None:
    """The queries are the last seq_q of the seq_k keys, so seq_q <= seq_k."""
    if seq_q > seq_k:
        raise ValueError(f"seq_q ({seq_q}) cannot exceed seq_k ({seq_k})")


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Per-head slopes 2^(-8/n), 2^(-16/n), ...; n not a power of two: the paper's interleave."""
    positive_int("n_heads", n_heads)

    def power_of_two(n):
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]

    closest = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(closest)
    if closest < n_heads:  # e.g. 40 heads: 32 slopes, then every other slope of the 64-head set
        slopes += power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def alibi_bias(n_heads: int, seq_q: int, seq_k: int | None = None) -> torch.Tensor:
    """(n_heads, seq_q, seq_k) additive bias -slope * (i - j); queries are the last seq_q keys."""
    seq_k = seq_q if seq_k is None else seq_k
    _check_lengths(seq_q, seq_k)  # queries are the last seq_q keys
    i = torch.arange(seq_k - seq_q, seq_k)[:, None]  # (seq_q, 1) absolute query positions
    j = torch.arange(seq_k)[None, :]  # (1, seq_k)
    distance = (i - j).clamp(min=0).float()  # future keys are masked anyway
    return -alibi_slopes(n_heads)[:, None, None] * distance  # (n_heads, seq_q, seq_k)
