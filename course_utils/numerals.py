"""Arabic numbers <-> Chinese numerals (一千九百九十八, 二万零三百零五), written for the course.

The rules are the everyday ones (the same as the ``cn2an`` library, which the
tests use as a reference):

* digits are read in groups of four: ``亿 | 万 | (units)``, each group with 千百十;
* a run of zeros inside the number is read as a single 零 (1001 -> 一千零一,
  20305 -> 二万零三百零五, 100000001 -> 一亿零一), trailing zeros are silent;
* a number that *starts* with 1 in the tens place drops the 一 (15 -> 十五,
  110000 -> 十一万), elsewhere it stays (115 -> 一百一十五).

Supported range: 0 <= n < 10**12.
"""

from __future__ import annotations

DIGITS = "零一二三四五六七八九"
SMALL_UNITS = ("千", "百", "十", "")  # inside a group of four digits
GROUP_UNITS = ("亿", "万", "")  # for the groups, most significant first
MAX_NUMBER = 10**12 - 1
CHINESE_CHARS = frozenset(DIGITS + "十百千万亿")


def _group_to_chinese(g: int, leading: bool) -> str:
    """A 4-digit group (0 < g < 10000) without its group unit."""
    out = []
    digits = f"{g:04d}"
    zero_pending = False
    started = False
    for d, unit in zip(digits, SMALL_UNITS):
        if d == "0":
            zero_pending = started
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        if not (leading and not started and unit == "十" and d == "1"):
            out.append(DIGITS[int(d)])
        out.append(unit)
        started = True
    return "".join(out)


def to_chinese(n: int) -> str:
    """1998 -> '一千九百九十八', 20305 -> '二万零三百零五', 0 -> '零'."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"to_chinese expects an int, got {type(n).__name__}")
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"to_chinese supports 0 <= n < 10**12, got {n}")
    if n == 0:
        return DIGITS[0]
    groups = [(n // 10**8) % 10**4, (n // 10**4) % 10**4, n % 10**4]
    out = []
    need_zero = False  # a zero was skipped since the last group we wrote
    for g, unit in zip(groups, GROUP_UNITS):
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_group_to_chinese(g, leading=not out) + unit)
        need_zero = False
    return "".join(out)


def _parse_group(text: str, original: str) -> int:
    """Parse up to 9999 written with 千百十 (zeros allowed anywhere)."""
    value, digit = 0, None
    for ch in text:
        if ch == "零":
            digit = None
            continue
        if ch in DIGITS:
            if digit is not None:
                raise ValueError(
                    f"two digits in a row in {original!r}: Chinese numerals need a unit "
                    f"(十百千万亿) between digits"
                )
            digit = DIGITS.index(ch)
            continue
        mult = {"十": 10, "百": 100, "千": 1000}[ch]
        value += (1 if digit is None else digit) * mult
        digit = None
    return value + (digit or 0)


def from_chinese(text: str) -> int:
    """'二万零三百零五' -> 20305; the inverse of ``to_chinese``."""
    if not isinstance(text, str):
        raise TypeError(f"from_chinese expects a str, got {type(text).__name__}")
    if not text or any(ch not in CHINESE_CHARS for ch in text):
        bad = sorted({ch for ch in text if ch not in CHINESE_CHARS})
        raise ValueError(
            f"expected Chinese numeral characters {''.join(sorted(CHINESE_CHARS))}, "
            f"got {text!r}" + (f" (unknown: {''.join(bad)})" if bad else "")
        )
    total = 0
    rest = text
    for unit, mult in (("亿", 10**8), ("万", 10**4)):
        if unit in rest:
            head, rest = rest.split(unit, 1)
            if unit in rest:
                raise ValueError(f"{unit} appears twice in {text!r}")
            total += _parse_group(head, text) * mult
    return total + _parse_group(rest, text)


# --- a translation data set: Arabic digits -> Chinese numerals ---------------------------------


def numbers_of_length(n_digits: int) -> range:
    """All numbers written with exactly ``n_digits`` digits (1 digit includes 0)."""
    if n_digits < 1:
        raise ValueError(f"n_digits must be >= 1, got {n_digits}")
    return range(0 if n_digits == 1 else 10 ** (n_digits - 1), 10**n_digits)


def held_out_numbers(
    max_digits: int, per_length: int, seed: int = 0, max_fraction: float = 0.2
) -> dict[int, list[int]]:
    """A test set per digit length: ``per_length`` numbers (at most ``max_fraction`` of the
    numbers of that length), sampled without replacement. Never train on these."""
    import random

    rng = random.Random(seed)
    out = {}
    for n_digits in range(1, max_digits + 1):
        pool = numbers_of_length(n_digits)
        k = min(per_length, max(1, int(len(pool) * max_fraction)))
        out[n_digits] = sorted(rng.sample(pool, k))
    return out


def sample_training_numbers(n: int, max_digits: int, exclude: set[int], rng) -> list[int]:
    """``n`` numbers with a uniform digit length in 1..max_digits, none of them in ``exclude``."""
    out = []
    while len(out) < n:
        x = rng.choice(numbers_of_length(rng.randint(1, max_digits)))
        if x not in exclude:
            out.append(x)
    return out


def numeral_vocabs():
    """(source vocabulary of digits, target vocabulary of numeral characters), both with
    <pad>=0, <unk>, <bos>, <eos> first, in a fixed order."""
    from .vocab import Vocab

    return Vocab([list("0123456789")]), Vocab([list(DIGITS + "十百千万亿")])


def numeral_tensors(numbers: list[int], src_vocab, tgt_vocab):
    """(src, tgt) id tensors for a list of numbers, padded with <pad>:
    src = the digits, tgt = <bos> + Chinese numeral + <eos>."""
    import torch

    pad, bos, eos = tgt_vocab["<pad>"], tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    srcs = [src_vocab.encode(list(str(n))) for n in numbers]
    tgts = [[bos] + tgt_vocab.encode(list(to_chinese(n))) + [eos] for n in numbers]
    src = torch.full((len(numbers), max(map(len, srcs))), src_vocab["<pad>"])
    tgt = torch.full((len(numbers), max(map(len, tgts))), pad)
    for i, (s, t) in enumerate(zip(srcs, tgts)):
        src[i, : len(s)] = torch.tensor(s)
        tgt[i, : len(t)] = torch.tensor(t)
    return src, tgt  # (batch, src_len), (batch, tgt_len)


def ids_to_text(ids, vocab) -> str:
    """Decoder output ids -> text: drop <bos>/<pad>, stop at <eos>."""
    out = []
    for tok in vocab.decode([int(i) for i in ids]):
        if tok == "<eos>":
            break
        if tok not in ("<bos>", "<pad>"):
            out.append(tok)
    return "".join(out)


def translate_numbers(
    model,
    numbers: list[int],
    src_vocab,
    tgt_vocab,
    beam_size: int = 0,
    alpha: float = 0.6,
    max_len: int = 24,
) -> list[str]:
    """Translate numbers with a trained model: greedy (beam_size 0, batched) or beam search."""
    from .decoding import beam_search, greedy_decode

    src, _ = numeral_tensors(numbers, src_vocab, tgt_vocab)
    src_mask = (src != src_vocab["<pad>"]).unsqueeze(-2)  # (batch, 1, src_len)
    bos, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    model.eval()
    if beam_size <= 0:
        ys = greedy_decode(model, src, src_mask, max_len, bos, eos)
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
