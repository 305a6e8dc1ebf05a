"""Choosing the next token from a language model's logits.

* greedy: the most probable token, always the same continuation (temperature 0, as in
  the OpenAI API: the limit of ever sharper distributions);
* temperature: divide the logits by T before the softmax (T < 1 sharper, T > 1 flatter);
* top-k: keep the k most probable tokens (Fan et al. 2018);
* top-p / nucleus: keep the smallest set whose probability reaches p (Holtzman et al. 2020).
"""

from __future__ import annotations

import torch

from .tools.checks import finite_number, positive_int, probability, tensor_shape


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Logits with all but the k largest of each row set to -inf. (..., vocab) -> (..., vocab)."""
    positive_int("top_k", k)
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest logit
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most probable tokens whose total probability is >= p."""
    probability("top_p", p, allow_zero=False)
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (..., vocab)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (..., vocab)
    # drop a token when the tokens before it already reach p (the first token is always kept)
    drop_sorted = (cum - sorted_logits.softmax(dim=-1)) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def check_sampling_args(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise a clear error unless temperature >= 0, top_k >= 1 and 0 < top_p <= 1 (None: off)."""
    finite_number("temperature", temperature, low=0)
    if top_k is not None:
        positive_int("top_k", top_k)
    if top_p is not None:
        probability("top_p", top_p, allow_zero=False)


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next token ids (batch, 1) from the last position's logits (batch, vocab).

    ``temperature=0`` is greedy decoding: the most probable token, whatever top_k and top_p.
    """
    tensor_shape("logits", logits, "batch vocab")
    check_sampling_args(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)  # (batch, 1)
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
