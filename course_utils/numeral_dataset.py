"""The number-translation data set of chapter 06: Arabic digits -> Chinese numerals.

A source sentence is the digits of a number (``20305``), its target the numeral that
``course_utils.numerals.to_chinese`` writes (``二万零三百零五``), framed by ``<bos>`` and
``<eos>``. Numbers are drawn afresh for every batch, so the supply of training pairs is
unlimited; a fixed set of numbers per digit length is held out for testing and never drawn.
"""

from __future__ import annotations

import random

import torch

from .numerals import DIGITS, MAX_NUMBER, to_chinese
from .tools.checks import instance_of, non_empty, positive_int, probability
from .vocab import Vocab

SOURCE_SYMBOLS = "0123456789"
TARGET_SYMBOLS = DIGITS + "十百千万亿"
MAX_DIGITS = len(str(MAX_NUMBER))


def numbers_of_length(n_digits: int) -> range:
    """All numbers written with exactly ``n_digits`` digits (1 digit includes 0)."""
    if positive_int("n_digits", n_digits) > MAX_DIGITS:
        raise ValueError(
            f"n_digits must be at most {MAX_DIGITS} (to_chinese's range), got {n_digits}"
        )
    return range(0 if n_digits == 1 else 10 ** (n_digits - 1), 10**n_digits)


def held_out_numbers(
    max_digits: int, per_length: int, seed: int = 0, max_fraction: float = 0.2
) -> dict[int, list[int]]:
    """A test set per digit length: ``per_length`` numbers (at most ``max_fraction`` of the
    numbers of that length), sampled without replacement. Never train on these."""
    positive_int("per_length", per_length)
    probability("max_fraction", max_fraction, allow_zero=False)
    rng = random.Random(seed)
    out = {}
    for n_digits in range(1, positive_int("max_digits", max_digits) + 1):
        pool = numbers_of_length(n_digits)
        k = min(per_length, max(1, int(len(pool) * max_fraction)))
        out[n_digits] = sorted(rng.sample(pool, k))
    return out


def sample_training_numbers(n: int, max_digits: int, exclude: set[int], rng) -> list[int]:
    """``n`` numbers with a uniform digit length in 1..max_digits, none of them in ``exclude``."""
    positive_int("n", n)
    pools = [numbers_of_length(d) for d in range(1, positive_int("max_digits", max_digits) + 1)]
    if all(sum(x in pool for x in exclude) == len(pool) for pool in pools):
        raise ValueError(
            f"exclude holds every number of 1..{max_digits} digits: nothing is left to sample"
        )
    out: list[int] = []
    while len(out) < n:
        x = rng.choice(numbers_of_length(rng.randint(1, max_digits)))
        if x not in exclude:
            out.append(x)
    return out


def numeral_vocabs() -> tuple[Vocab, Vocab]:
    """(source vocabulary of digits, target vocabulary of numeral characters), both with
    <pad>=0, <unk>, <bos>, <eos> first, in a fixed order."""
    return Vocab([list(SOURCE_SYMBOLS)]), Vocab([list(TARGET_SYMBOLS)])


def numeral_tensors(
    numbers: list[int], src_vocab: Vocab, tgt_vocab: Vocab
) -> tuple[torch.Tensor, torch.Tensor]:
    """(src, tgt) id tensors for a list of numbers, padded with <pad>:
    src = the digits, tgt = <bos> + Chinese numeral + <eos>."""
    non_empty("numbers", numbers)
    instance_of("src_vocab", src_vocab, Vocab)
    instance_of("tgt_vocab", tgt_vocab, Vocab)
    pad, bos, eos = tgt_vocab["<pad>"], tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    tgts = [[bos] + tgt_vocab.encode(list(to_chinese(n))) + [eos] for n in numbers]
    srcs = [src_vocab.encode(list(str(n))) for n in numbers]
    src = torch.full((len(numbers), max(map(len, srcs))), src_vocab["<pad>"])  # (batch, src_len)
    tgt = torch.full((len(numbers), max(map(len, tgts))), pad)  # (batch, tgt_len)
    for i, (s, t) in enumerate(zip(srcs, tgts)):
        src[i, : len(s)] = torch.tensor(s)
        tgt[i, : len(t)] = torch.tensor(t)
    return src, tgt
