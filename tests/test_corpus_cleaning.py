"""course_utils.corpus_cleaning: NFKC, dedup, the MD5 held-out rule, splits and one vocabulary."""

import hashlib
import random
import unicodedata
from collections import Counter

import pytest

from course_utils import corpora
from course_utils.corpus_cleaning import (
    HELD_OUT_FRACTION,
    check_disjoint,
    dedup,
    hash_split,
    is_held_out,
    normalize,
    people_daily_clean,
    review_cleaning_report,
    reviews_clean,
    shared_char_vocab,
)
from course_utils.vocab import UNK

CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"


def random_texts(n, seed=0):
    rng = random.Random(seed)
    return ["".join(rng.choices(CHARS, k=rng.randint(1, 12))) for _ in range(n)]


def md5_rule(text, per_mille):
    """Held out when the first 8 hex digits of the MD5 of the UTF-8 text, mod 1000, < per_mille."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 1000 < per_mille


TEXTS = dedup(random_texts(20_000))


def test_normalize():
    assert normalize("１９９８") == "1998"
    assert normalize("  １９９８年，ＡＢＣ！（好）\n") == "1998年,ABC!(好)"
    assert normalize("。、“”") == "。、“”"  # these have no ASCII form and stay
    assert normalize("\u3000 全角空格 \t") == "全角空格"  # the ideographic space too
    assert normalize("") == ""
    with pytest.raises(TypeError, match="text"):
        normalize(1998)


def test_dedup_keeps_the_first_occurrence_in_order():
    assert dedup(["b", "a", "b", "c", "a", "d"]) == ["b", "a", "c", "d"]
    assert dedup(iter(["x", "x"])) == ["x"]
    assert dedup([]) == []


def test_is_held_out_is_the_md5_per_mille_rule():
    assert [is_held_out(t) for t in TEXTS] == [md5_rule(t, 150) for t in TEXTS]
    assert [is_held_out(t, 0.3) for t in TEXTS] == [md5_rule(t, 300) for t in TEXTS]
    assert [is_held_out(t, 0.9) for t in TEXTS] == [md5_rule(t, 900) for t in TEXTS]
    assert HELD_OUT_FRACTION == 0.15


@pytest.mark.parametrize("fraction", [0.15, 0.3, 0.05])
def test_is_held_out_fraction(fraction):
    share = sum(is_held_out(t, fraction) for t in TEXTS) / len(TEXTS)
    assert share == pytest.approx(fraction, abs=0.012)  # 4 standard errors at 20k texts


def test_is_held_out_depends_only_on_the_text():
    shuffled = list(TEXTS[:2000])
    random.Random(1).shuffle(shuffled)
    first = {t: is_held_out(t) for t in TEXTS[:2000]}
    assert {t: is_held_out(t) for t in shuffled} == first
    # a larger fraction holds out a superset of the texts
    assert all(is_held_out(t, 0.3) for t in TEXTS if is_held_out(t, 0.15))
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            is_held_out("好", bad)


def test_hash_split_partitions_in_order():
    items = [(t, i % 2) for i, t in enumerate(TEXTS[:3000])]
    kept, held = hash_split(items, key=lambda x: x[0])
    assert held == [it for it in items if md5_rule(it[0], 150)]
    assert kept == [it for it in items if not md5_rule(it[0], 150)]
    kept3, held3 = hash_split(TEXTS[:3000], fraction=0.3)
    assert held3 == [t for t in TEXTS[:3000] if md5_rule(t, 300)]
    assert len(kept3) + len(held3) == 3000
    assert hash_split([]) == ([], [])


def test_check_disjoint_names_both_splits():
    check_disjoint(train=["a", "b", "b"], valid=["c"], test=["d", "d"])  # repeats within one: fine
    with pytest.raises(ValueError, match=r"splits 'train' and 'test' share the text 'b'"):
        check_disjoint(train=["a", "b"], valid=["c"], test=["d", "b"])
    with pytest.raises(ValueError, match=r"'valid' and 'test'"):
        check_disjoint(train=["a"], valid=["c"], test=iter(["c"]))
    long = "长" * 40
    with pytest.raises(ValueError, match=f"share the text '{'长' * 30}'$"):
        check_disjoint(x=[long], y=[long])


def test_shared_char_vocab_counts_over_all_corpora():
    a = ["甲乙", "甲丙丙丙丙丙"]  # 甲 2, 乙 1, 丙 5
    b = ["甲甲甲乙乙", "乙丁"]  # 甲 3, 乙 3 (4 in all), 丁 1
    tok = shared_char_vocab(a, b, min_count=5)
    assert tok.itos == [UNK, "\n", "丙", "甲"]  # 甲: 2 + 3 = 5 kept; 乙: 1 + 3 = 4 -> <unk>
    assert tok.encode("乙丁甲") == [0, 0, 3]
    tok = shared_char_vocab(a, b, min_count=4)
    assert tok.itos == [UNK, "\n", "丙", "乙", "甲"]
    tok = shared_char_vocab(a, b)  # min_count 1: every character
    assert tok.itos == [UNK, "\n", *sorted("甲乙丙丁")]
    tok = shared_char_vocab(["\n\n"], min_count=5)  # "\n" is always there
    assert tok.itos == [UNK, "\n"]
    with pytest.raises(ValueError, match="min_count"):
        shared_char_vocab(a, min_count=0)


@pytest.fixture(scope="module")
def raw_reviews():
    return corpora.reviews()


@pytest.fixture(scope="module")
def clean_reviews():
    return reviews_clean()


def test_reviews_clean_has_no_repeats_and_no_conflicts(raw_reviews, clean_reviews):
    texts = [t for t, _ in clean_reviews]
    assert len(texts) == len(set(texts)) > 15_000
    assert all(t and normalize(t) == t for t in texts)
    assert {y for _, y in clean_reviews} == {0, 1}
    labels = {}
    for t, y in raw_reviews:
        labels.setdefault(unicodedata.normalize("NFKC", t).strip(), set()).add(y)
    conflicts = {t for t, ys in labels.items() if len(ys) == 2}
    assert conflicts and not conflicts & set(texts)  # a text seen with both labels is dropped
    assert set(texts) == set(labels) - conflicts - {""}
    assert all(labels[t] == {y} for t, y in clean_reviews)
    # first occurrence order: positives come first in the raw file
    firsts = list(dict.fromkeys(unicodedata.normalize("NFKC", t).strip() for t, _ in raw_reviews))
    kept = set(texts)
    assert texts == [t for t in firsts if t in kept]


def test_review_cleaning_report_is_consistent(raw_reviews, clean_reviews):
    r = review_cleaning_report()
    assert list(r) == [
        "negative lines",
        "negative unique",
        "positive lines",
        "positive unique",
        "texts with both labels",
        "kept",
    ]
    raw = Counter(y for _, y in raw_reviews)
    assert (r["negative lines"], r["positive lines"]) == (raw[0], raw[1])
    kept = Counter(y for _, y in clean_reviews)
    both = r["texts with both labels"]
    assert r["kept"] == len(clean_reviews) == sum(kept.values())
    assert r["negative unique"] == kept[0] + both and r["positive unique"] == kept[1] + both
    assert r["kept"] == r["negative unique"] + r["positive unique"] - 2 * both
    assert 0 < both < r["kept"] and r["negative unique"] < r["negative lines"]


def test_people_daily_clean():
    lines = people_daily_clean()
    raw = corpora.people_daily_text()
    want = []
    seen = set()
    for t in raw:
        t = unicodedata.normalize("NFKC", t).strip()
        if t and t not in seen:
            seen.add(t)
            want.append(t)
    assert lines == want
    assert len(lines) < len(raw)  # repeated lines are gone
    assert not any(c in "０１２３４５６７８９" for t in lines[:2000] for c in t)
    assert any("1998" in t for t in lines)
