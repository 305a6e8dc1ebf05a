"""Decoding an encoder-decoder: greedy search and beam search with length normalisation,
and the model's log-probability of a given output (``sequence_log_prob``), which tells a
search error (the model prefers the right output, the search missed it) from a model error.

The model is a ``course_utils.transformer.EncoderDecoder`` (anything with
``encode(src, src_mask)``, ``decode(memory, src_mask, tgt, tgt_mask)`` and a
``generator`` returning log-probabilities).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .tools.checks import positive_int, tensor_shape
from .transformer import subsequent_mask


@torch.no_grad()
def greedy_decode(
    model,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    max_len: int,
    start_symbol: int,
    end_symbol: int | None = None,
) -> torch.Tensor:
    """Pick the most probable word at every step, for a whole batch at once.

    Returns (batch, <= max_len) ids starting with ``start_symbol``. Stops early
    once every row has produced ``end_symbol``; after it, a row repeats it.
    """
    tensor_shape("src", src, "batch seq")  # token ids
    positive_int("max_len", max_len)
    memory = model.encode(src, src_mask)  # (batch, src_len, d_model)
    ys = torch.full((src.size(0), 1), start_symbol, dtype=src.dtype, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for _ in range(max_len - 1):
        out = model.decode(memory, src_mask, ys, subsequent_mask(ys.size(1)).to(src.device))
        next_word = model.generator(out[:, -1]).argmax(dim=-1)  # (batch,)
        if end_symbol is not None:
            next_word = torch.where(done, torch.full_like(next_word, end_symbol), next_word)
            done |= next_word == end_symbol
        ys = torch.cat([ys, next_word.unsqueeze(1)], dim=1)  # (batch, t + 1)
        if end_symbol is not None and bool(done.all()):
            break
    return ys


@torch.no_grad()
def sequence_log_prob(model, src: torch.Tensor, src_mask, tgt: torch.Tensor) -> torch.Tensor:
    """log P(tgt[1:] | tgt[0], src) of each row of tgt (batch, t), teacher-forced: (batch,).

    ``tgt`` starts with the start symbol and holds no padding; the sum runs over the words
    after it (ending with the end symbol, if it is there).
    """
    dims = tensor_shape("src", src, "batch seq")
    tensor_shape("tgt", tgt, "batch t", dims)
    if tgt.size(1) < 2:
        raise ValueError(
            f"tgt needs the start symbol and at least one word, got {tuple(tgt.shape)}"
        )
    memory = model.encode(src, src_mask)  # (batch, src_len, d_model)
    mask = subsequent_mask(tgt.size(1) - 1).to(tgt.device)  # (1, t - 1, t - 1)
    log_probs = model.generator(model.decode(memory, src_mask, tgt[:, :-1], mask))  # (b, t-1, V)
    return log_probs.gather(-1, tgt[:, 1:, None]).squeeze(-1).sum(dim=-1)  # (batch,)


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length normaliser ((5 + length) / 6) ** alpha; alpha = 0 turns it off."""
    return ((5.0 + length) / 6.0) ** alpha


def check_beam_step_inputs(scores: torch.Tensor, log_probs: torch.Tensor, k: int) -> None:
    """scores (beams,), log_probs (beams, vocab) with the same beams, and k a positive int."""
    dims = tensor_shape("scores", scores, "beams")
    tensor_shape("log_probs", log_probs, "beams vocab", dims)
    positive_int("k", k)


def beam_search_step(scores: torch.Tensor, log_probs: torch.Tensor, k: int):
    """One beam-search step.

    scores: (beams,) summed log-probabilities of the live hypotheses;
    log_probs: (beams, vocab) log-probabilities of each next word.
    Returns (new_scores, beam_index, word_index), each (k,), best first: the k
    best extensions over all beams and words.
    """
    check_beam_step_inputs(scores, log_probs, k)  # (beams,), (beams, vocab), k >= 1
    vocab = log_probs.size(1)
    total = scores.unsqueeze(1) + log_probs  # (beams, vocab)
    k = min(k, total.numel())
    new_scores, flat = total.view(-1).topk(k)  # (k,)
    return new_scores, flat // vocab, flat % vocab


@dataclass(frozen=True)
class Hypothesis:
    tokens: list[int]  # starts with the start symbol; ends with the end symbol when finished
    log_prob: float  # summed log-probability of the generated words
    score: float  # log_prob / length_penalty(generated words, alpha)


@torch.no_grad()
def beam_search(
    model,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    max_len: int,
    start_symbol: int,
    end_symbol: int,
    beam_size: int = 4,
    alpha: float = 0.6,
) -> list[Hypothesis]:
    """Beam search for ONE source sentence (src of shape (1, seq)).

    Keeps the ``beam_size`` best partial translations; a hypothesis that emits
    ``end_symbol`` is finished and leaves the beam (so the beam shrinks).
    Finished hypotheses are ranked by their length-normalised score. Returns
    all finished hypotheses, best first.
    """
    if src.dim() != 2 or src.size(0) != 1:
        raise ValueError(
            f"beam_search decodes one sentence: src must be (1, seq), got {tuple(src.shape)}"
        )
    positive_int("max_len", max_len), positive_int("beam_size", beam_size)
    memory = model.encode(src, src_mask)  # (1, src_len, d_model)
    ys = torch.full((1, 1), start_symbol, dtype=src.dtype, device=src.device)  # (beams, t)
    scores = torch.zeros(1, device=src.device)  # (beams,) summed log-probabilities
    finished: list[Hypothesis] = []
    for _ in range(max_len - 1):
        log_probs = next_word_log_probs(model, memory, src_mask, ys)  # (beams, vocab)
        k = beam_size - len(finished)  # finished hypotheses leave the beam
        scores, beam_idx, word_idx = beam_search_step(scores, log_probs, k)  # (k,) each
        ys = torch.cat([ys[beam_idx], word_idx.unsqueeze(1)], dim=1)  # (k, t + 1)
        ended = word_idx == end_symbol  # (k,)
        finished += hypotheses(ys[ended], scores[ended], alpha)
        ys, scores = ys[~ended], scores[~ended]
        if ys.size(0) == 0:
            break
    finished += hypotheses(ys, scores, alpha)  # ran out of length: keep the unfinished ones too
    return sorted(finished, key=lambda h: h.score, reverse=True)


def next_word_log_probs(model, memory, src_mask, ys: torch.Tensor) -> torch.Tensor:
    """(beams, vocab) log-probabilities of the word after each hypothesis ys (beams, t)."""
    n = ys.size(0)
    tgt_mask = subsequent_mask(ys.size(1)).to(ys.device)  # (1, t, t)
    out = model.decode(memory.expand(n, -1, -1), src_mask.expand(n, -1, -1), ys, tgt_mask)
    return model.generator(out[:, -1])  # (beams, vocab)


def hypotheses(ys: torch.Tensor, scores: torch.Tensor, alpha: float) -> list[Hypothesis]:
    """One Hypothesis per row of ys (n, t), scored by log-probability / length penalty."""
    length = ys.size(1) - 1  # generated words: the start symbol does not count
    return [
        Hypothesis(tokens, lp, lp / length_penalty(length, alpha))
        for tokens, lp in zip(ys.tolist(), scores.tolist())
    ]
