"""Choosing the next token from a language model's logits.

* greedy: the most probable token, always the same continuation;
* temperature: divide the logits by T before the softmax (T < 1 sharper, T > 1 flatter);
* top-k: keep the k most probable tokens (Fan et al. 2018);
* top-p / nucleus: keep the smallest set whose probability reaches p (Holtzman et al. 2020).
"""

from __future__ import annotations

import torch

from .tools.checks import positive_int


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Logits with all but the k largest of each row set to -inf. (..., vocab) -> (..., vocab)."""
    positive_int("top_k", k)
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest logit
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens whose total probability is >= p."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be a float in (0, 1], got {p!r}")
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (..., vocab)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (..., vocab)
    # drop a token when the tokens before it already reach p (the first token is always kept)
    drop_sorted = (cum - sorted_logits.softmax(dim=-1)) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next token ids (batch, 1) from the last position's logits (batch, vocab)."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, vocab), got shape {tuple(logits.shape)}")
    if greedy:
        return logits.argmax(dim=-1, keepdim=True)  # (batch, 1)
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(
            f"temperature must be > 0 (use greedy=True for T -> 0), got {temperature!r}"
        )
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1)  # (batch, vocab)
    if generator is not None and generator.device != probs.device:
        # a CPU generator with a GPU model: draw on the CPU, so a seed gives the same text anywhere
        return torch.multinomial(probs.cpu(), 1, generator=generator).to(probs.device)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (batch, 1)
