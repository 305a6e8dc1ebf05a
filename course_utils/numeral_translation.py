"""Translating numbers with a trained encoder-decoder (chapter 06): greedy or beam search.

``translate_numbers`` turns numbers into source tensors (``numeral_dataset``), decodes with
``course_utils.decoding`` and reads the output ids back as text with ``ids_to_text``;
``translation_log_prob`` is the model's log-probability of a given translation.
"""

from __future__ import annotations

import re

import torch

from .decoding import beam_search, greedy_decode, sequence_log_prob
from .numeral_dataset import numeral_tensors
from .tools.checks import finite_number, instance_of, non_negative_int, positive_int
from .vocab import Vocab


def ids_to_text(ids, vocab: Vocab) -> str:
    """Decoder output ids -> text: drop <bos>/<pad>, stop at <eos>."""
    out = []
    for tok in vocab.decode([int(i) for i in ids]):
        if tok == "<eos>":
            break
        if tok not in ("<bos>", "<pad>"):
            out.append(tok)
    return "".join(out)


def text_to_tokens(text: str, vocab: Vocab) -> list[str]:
    """Text -> the target tokens it was joined from: its characters, and each special token
    that ``ids_to_text`` wrote out (an untrained model may emit ``<unk>``) as one token."""
    specials = sorted((t for t in vocab.specials if len(t) > 1), key=len, reverse=True)
    pattern = "|".join([*map(re.escape, specials), "."])
    return re.findall(pattern, text, flags=re.DOTALL)


def translate_numbers(
    model,
    numbers: list[int],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    beam_size: int = 0,
    alpha: float = 0.6,
    max_len: int = 24,
) -> list[str]:
    """Translate numbers with a trained model: greedy (beam_size 0, batched) or beam search.

    One output per number, in order; no numbers give no outputs.
    """
    instance_of("numbers", numbers, (list, tuple))
    non_negative_int("beam_size", beam_size)
    finite_number("alpha", alpha, low=0)
    positive_int("max_len", max_len)
    if not numbers:
        return []
    src, _ = numeral_tensors(list(numbers), src_vocab, tgt_vocab)  # (batch, src_len)
    src_mask = (src != src_vocab["<pad>"]).unsqueeze(-2)  # (batch, 1, src_len)
    bos, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    model.eval()
    if beam_size == 0:
        ys = greedy_decode(model, src, src_mask, max_len, bos, eos)  # (batch, <= max_len)
        return [ids_to_text(row.tolist(), tgt_vocab) for row in ys]
    return [
        ids_to_text(
            beam_search(
                model, src[i : i + 1], src_mask[i : i + 1], max_len, bos, eos, beam_size, alpha
            )[0].tokens,
            tgt_vocab,
        )
        for i in range(len(numbers))
    ]


def translation_log_prob(
    model, number: int, text: str, src_vocab: Vocab, tgt_vocab: Vocab
) -> float:
    """log P(text | number) under the model: its characters, then <eos>, teacher-forced."""
    instance_of("number", number, int)
    instance_of("text", text, str)
    tokens = text_to_tokens(text, tgt_vocab)
    unknown = sorted(c for c in set(tokens) if c not in tgt_vocab)
    if unknown:
        raise ValueError(f"text holds characters the target vocabulary lacks: {unknown}")
    src, _ = numeral_tensors([number], src_vocab, tgt_vocab)  # (1, src_len)
    src_mask = (src != src_vocab["<pad>"]).unsqueeze(-2)  # (1, 1, src_len)
    ids = [tgt_vocab["<bos>"], *tgt_vocab.encode(tokens), tgt_vocab["<eos>"]]
    model.eval()
    return sequence_log_prob(model, src, src_mask, torch.tensor([ids])).item()
