"""RMSNorm (Zhang & Sennrich 2019) beside the LayerNorm of GPT-2.

LayerNorm centres each vector (subtracts its mean), scales it to unit variance,
then applies a learned gain and bias. RMSNorm drops the centring and the bias:
it only divides by the root mean square. Llama, Qwen, Mistral, ChatGLM and
Baichuan all use RMSNorm: one reduction instead of two, half the parameters.
"""

from __future__ import annotations

import torch
from torch import nn


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last dimension."""
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last dimension (no centring, no bias)."""
    rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
    return x / rms * weight


class RMSNorm(nn.Module):
    """Root-mean-square normalisation with a learned gain; computed in float32 like Llama."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        if not isinstance(dim, int) or dim <= 0:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        if x.size(-1) != self.weight.numel():
            raise ValueError(
                f"RMSNorm expected last dimension {self.weight.numel()}, got shape {tuple(x.shape)}"
            )
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., dim)
        return self.weight * x.to(dtype)
