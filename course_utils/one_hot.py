"""One-hot encoding (独热编码) and why embedding layers replace it.

A word with id ``i`` in a vocabulary of ``V`` words becomes a length-``V``
vector of zeros with a single 1 at position ``i``. Multiplying that vector by
a (V, d) matrix Q picks out row ``i`` of Q, which is exactly what an embedding
lookup (``nn.Embedding``) does without the multiplication.
"""

from __future__ import annotations

import torch

from .tools.checks import non_negative_int, positive_int


def _check_ids(ids, vocab_size: int) -> torch.Tensor:
    """``ids`` as a long tensor, checked: integers in [0, vocab_size)."""
    if isinstance(ids, list | tuple) and len(ids) == 0:
        ids = torch.zeros(0, dtype=torch.long)  # torch.as_tensor([]) would be float
    ids = torch.as_tensor(ids)
    if ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    positive_int("vocab_size", vocab_size)
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"ids must lie in [0, {vocab_size}), got range [{int(ids.min())}, {int(ids.max())}]"
        )
    return ids.long()


def one_hot(ids, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(..., vocab_size) tensor with a 1 at each id and 0 elsewhere."""
    ids = _check_ids(ids, vocab_size)  # integer ids in [0, vocab_size)
    out = torch.zeros(*ids.shape, vocab_size, dtype=dtype)  # (..., V) all zeros
    out.scatter_(-1, ids.unsqueeze(-1), 1)  # write a 1 at each token's id
    return out


def one_hot_bytes(n_tokens: int, vocab_size: int, dtype: torch.dtype = torch.float32) -> int:
    """Memory of a dense (n_tokens, vocab_size) one-hot matrix in bytes."""
    non_negative_int("n_tokens", n_tokens)
    non_negative_int("vocab_size", vocab_size)
    return n_tokens * vocab_size * torch.empty((), dtype=dtype).element_size()


def human_bytes(n: float) -> str:
    """1536 -> '1.50 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
