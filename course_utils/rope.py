"""Rotary position embedding, RoPE (Su et al. 2021, "RoFormer"), and ChatGLM's partial RoPE.

RoPE rotates each pair of coordinates of a query or key by an angle
``position * theta_i``. Because a rotation by ``m`` followed by the inverse of a
rotation by ``n`` is a rotation by ``m - n``, the score ``q_m . k_n`` depends on
the positions only through ``m - n``: relative position, for free.

Two pairings of coordinates are in use:

* ``interleaved=False`` (Llama, Qwen, Mistral, Baichuan-7B; GPT-NeoX style):
  coordinate ``i`` pairs with ``i + d/2``;
* ``interleaved=True`` (the RoFormer paper, ChatGLM): ``2i`` pairs with ``2i + 1``.

ChatGLM2/3 rotate only the first half of each 128-wide head (``rotary_dim=64``)
and pass the other half through unchanged: *partial* RoPE.
"""

from __future__ import annotations

import torch
from torch import nn


def _check_rotary_dim(rotary_dim) -> None:
    """rotary_dim must be a positive even int: the coordinates are rotated in pairs."""
    if not isinstance(rotary_dim, int) or rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(f"rotary_dim must be a positive even int, got {rotary_dim!r}")


def _check_rope_shapes(x: torch.Tensor, cos: torch.Tensor) -> None:
    """The rotated coordinates fit in x's last dimension, and cos covers x's positions."""
    rotary_dim = 2 * cos.size(-1)
    if rotary_dim > x.size(-1):
        raise ValueError(f"rotary_dim {rotary_dim} exceeds the head dimension {x.size(-1)}")
    if cos.size(-2) != x.size(-2):
        raise ValueError(
            f"cos/sin cover {cos.size(-2)} positions but x has seq length {x.size(-2)}"
        )


def rope_inv_freq(rotary_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """The rotary_dim/2 angular frequencies theta^(-2i/rotary_dim), i = 0 .. rotary_dim/2 - 1."""
    _check_rotary_dim(rotary_dim)  # a positive even int
    return 1.0 / (theta ** (torch.arange(0, rotary_dim, 2, dtype=torch.float32) / rotary_dim))


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor):
    """cos and sin of the angles position * freq, each (..., seq, rotary_dim/2), in float32."""
    angles = positions.float()[..., None] * inv_freq.float()  # (..., seq, rotary_dim/2)
    return angles.cos(), angles.sin()


def apply_rope(
    x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, *, interleaved: bool = False
) -> torch.Tensor:
    """Rotate the first 2*cos.size(-1) coordinates of x (..., seq, head_dim); keep the rest."""
    _check_rope_shapes(x, cos)  # rotary_dim <= head_dim; one cos/sin row per position
    rotary_dim = 2 * cos.size(-1)
    x_rot, x_pass = x[..., :rotary_dim].float(), x[..., rotary_dim:]
    if interleaved:
        x1, x2 = x_rot[..., 0::2], x_rot[..., 1::2]  # pairs (2i, 2i+1)
        rotated = torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    else:
        x1, x2 = x_rot.chunk(2, dim=-1)  # pairs (i, i + d/2)
        rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    return torch.cat((rotated.to(x.dtype), x_pass), dim=-1)  # (..., seq, head_dim)


class RotaryEmbedding(nn.Module):
    """forward(positions) -> (cos, sin). No parameters and no buffer: the frequencies are
    recomputed in float32 on each call, so ``model.to(torch.bfloat16)`` cannot round them."""

    def __init__(self, rotary_dim: int, theta: float = 10000.0):
        super().__init__()
        rope_inv_freq(rotary_dim, theta)  # validates rotary_dim
        self.rotary_dim, self.theta = rotary_dim, theta

    def forward(self, positions: torch.Tensor):
        inv_freq = rope_inv_freq(self.rotary_dim, self.theta).to(positions.device)
        return rope_cos_sin(positions, inv_freq)

    def extra_repr(self) -> str:
        return f"rotary_dim={self.rotary_dim}, theta={self.theta:g}"
