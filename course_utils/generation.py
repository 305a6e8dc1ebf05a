"""Generating text with a decoder-only model: one loop, one KV cache, for GPT and Llama.

``generate(model, idx, max_new_tokens, ...)`` appends one token per step, chosen by
``sampling.sample_next``: ``temperature=0`` picks the most probable token (greedy
decoding, as in the OpenAI API); a positive temperature samples, optionally among
the ``top_k`` most probable tokens or the ``top_p`` nucleus. ``GPT.generate`` and
``LlamaForCausalLM.generate`` call it.

**The KV cache (键值缓存).** A position's keys and values never change once computed
(the causal mask stops them from seeing later tokens), so ``KVCache`` keeps them,
layer by layer. The first step feeds the whole prompt; every later step feeds only
the newest token, and ``KVCache.update(layer, k, v)`` appends its keys and values to
the stored ones. Llama calls ``update`` inside ``Attention.forward``; GPT calls it from
hooks on each layer's W_K and W_V (see ``course_utils.gpt``).

**The context window.** GPT has learned absolute positions for 0 .. block_size - 1
only, so it sees the last ``block_size`` tokens. Once the window slides, every token
in it has moved one position to the left, and every cached key and value was
computed with the old position embedding: they are stale. The cache is then emptied
and refilled from the whole window. Llama's positions (RoPE, ALiBi) enter attention
as relative offsets and have no table to run out of, so its window never slides here.

``generate`` works with any model that has ``forward(idx, cache=...) -> (logits, loss)``,
``new_cache() -> KVCache`` and ``block_size`` (an int, or None for no window).
"""

from __future__ import annotations

import torch

from .sampling import check_sampling_args, sample_next
from .tools.checks import instance_of, non_empty, non_negative_int, positive_int, tensor_shape

__all__ = ["KVCache", "generate", "next_token_logits"]


class KVCache:
    """Keys and values of past tokens, per layer, so each new token costs one step, not a replay.

    Positions are on dim -2: (batch, kv_heads, seq, head_dim) in Llama, (batch, seq, d_model)
    in GPT.
    """

    def __init__(self, num_layers: int):
        positive_int("num_layers", num_layers)
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers

    def __len__(self) -> int:
        """Number of cached positions."""
        return 0 if self.keys[0] is None else self.keys[0].size(-2)

    def update(self, layer: int, k: torch.Tensor | None = None, v: torch.Tensor | None = None):
        """Append the new positions' keys k and values v; return the layer's keys and values.

        Llama passes k and v together; GPT's hooks on W_K and W_V pass one at a time.
        """
        if k is not None:
            self.keys[layer] = _append(self.keys[layer], k)  # (..., past + new, d)
        if v is not None:
            self.values[layer] = _append(self.values[layer], v)
        return self.keys[layer], self.values[layer]

    def clear(self) -> None:
        self.keys = [None] * len(self.keys)
        self.values = [None] * len(self.values)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def _append(past: torch.Tensor | None, new: torch.Tensor) -> torch.Tensor:
    return new if past is None else torch.cat([past, new], dim=-2)


@torch.no_grad()
def generate(
    model,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | list[int] | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Extend idx (batch, seq) by up to ``max_new_tokens`` tokens; return (batch, seq + new).

    ``temperature=0`` is greedy decoding. Stops early once every row has produced one of
    ``eos_token_id`` (rows that finished first keep going until then). ``generator``
    seeds the sampling.
    """
    tensor_shape("idx", idx, "batch seq", dtype="integer"), non_empty("idx", idx)
    non_negative_int("max_new_tokens", max_new_tokens)
    check_sampling_args(temperature, top_k, top_p)
    stop = _stop_ids(eos_token_id, idx.device)  # (n_stop,) or None
    finished = torch.zeros(idx.size(0), 1, dtype=torch.bool, device=idx.device)  # (batch, 1)
    cache = model.new_cache() if use_cache else None
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            logits = next_token_logits(model, idx, cache)  # (batch, vocab)
            next_id = sample_next(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )  # (batch, 1)
            idx = torch.cat([idx, next_id], dim=1)  # (batch, seq + 1)
            if stop is not None:
                finished |= torch.isin(next_id, stop)
                if bool(finished.all()):
                    break
    finally:
        model.train(was_training)
    return idx


def next_token_logits(model, idx: torch.Tensor, cache: KVCache | None) -> torch.Tensor:
    """Logits (batch, vocab) of the token after idx, feeding the model only what the cache lacks."""
    window = idx if model.block_size is None else idx[:, -model.block_size :]  # (batch, <= bs)
    if cache is None:
        logits, _ = model(window)  # replay the whole window
    else:
        if len(cache) >= window.size(1):
            # The window slid: with learned absolute positions the cached keys and values
            # were computed at positions the tokens no longer hold. Refill from the window.
            cache.clear()
        logits, _ = model(window[:, len(cache) :], cache=cache)  # only the uncached positions
    return logits[:, -1].float()  # (batch, vocab)


def _stop_ids(eos_token_id, device) -> torch.Tensor | None:
    if eos_token_id is None:
        return None
    ids = [eos_token_id] if isinstance(eos_token_id, int) else eos_token_id
    non_empty("eos_token_id", instance_of("eos_token_id", ids, (list, tuple)))
    for i in ids:
        non_negative_int("eos_token_id", i)
    return torch.tensor(ids, device=device)  # (n_stop,)
