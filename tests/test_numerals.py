"""course_utils.numerals against the cn2an library (a test-only reference)."""

import random

import pytest

from course_utils.numerals import CHINESE_CHARS, from_chinese, to_chinese

cn2an = pytest.importorskip("cn2an")


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "零"),
        (10, "十"),
        (15, "十五"),
        (115, "一百一十五"),
        (1001, "一千零一"),
        (1998, "一千九百九十八"),
        (20305, "二万零三百零五"),
        (110000, "十一万"),
        (100000001, "一亿零一"),
        (200000010, "二亿零一十"),
    ],
)
def test_examples(n, text):
    assert to_chinese(n) == text
    assert from_chinese(text) == n


def test_against_cn2an():
    rng = random.Random(0)
    numbers = list(range(0, 12000)) + [
        rng.randrange(10 ** rng.randint(1, 12)) for _ in range(20000)
    ]
    numbers += [10**k + j for k in range(12) for j in (0, 1, 10)]
    for n in numbers:
        text = to_chinese(n)
        if not (n >= 10**8 and (n // 10**4) % 10**4 == 0 and n % 10**4 >= 1000):
            assert text == cn2an.an2cn(n), n
        assert from_chinese(text) == n


def test_known_difference_from_cn2an():
    # A whole zero 万 group before a 4-digit group is read with 零 (一亿零一千);
    # cn2an drops it. We keep the standard reading.
    assert to_chinese(100001000) == "一亿零一千"
    assert cn2an.cn2an(to_chinese(100001000), "strict") == 100001000


@pytest.mark.parametrize(
    "text, n",
    [
        ("一十五", 15),
        ("二十万零十", 200010),
        ("一千零十一", 1011),  # variants cn2an reads too
        ("一万亿", 10**12),
        ("十万亿", 10**13),
        ("一万一千亿", 11 * 10**11),
        ("一万亿零一", 10**12 + 1),
    ],
)
def test_variants_read_like_cn2an(text, n):
    assert from_chinese(text) == n == cn2an.cn2an(text, "strict")


@pytest.mark.parametrize(
    "text, match",
    [
        ("十十", "十 appears twice"),
        ("一千千", "千 appears twice"),
        ("三百二千", "千 comes after a smaller unit"),
        ("一万万", "万 appears twice"),
        ("一亿亿", "亿 appears twice"),
        ("一千一十", "skips a place without 零"),  # 1010 is 一千零一十
        ("一百五", "skips a place without 零"),  # colloquial 150; the full form is 一百五十
        ("一万十五", "skips a place after 万 without 零"),
        ("一百零十", "a 零 where no place is skipped"),
        ("一万零一千", "a 零 after 万 where no place is skipped"),
        ("零一", "starts with 零"),
        ("一万零", "ends with 零"),
        ("一千零零一", "零零"),
        ("一千零万", "零 must be followed by a digit"),
        ("一十零五", "a 零 where no place is skipped"),
        ("一百十", "十 needs a digit before it"),
        ("百五", "百 needs a digit before it"),
        ("万", "万 needs a number before it"),
        ("一亿万", "万 needs a number before it"),
        ("五零", "ends with 零"),
        ("五零三", "the digit 五 .* needs a unit"),
    ],
)
def test_malformed_numerals_are_rejected_naming_the_problem(text, match):
    with pytest.raises(ValueError, match=match):
        from_chinese(text)
    with pytest.raises(ValueError):
        cn2an.cn2an(text, "strict")  # the reference rejects them too


# cn2an's strict mode also reads these; the course's reader is stricter after 亿
CN2AN_ONLY = ("skips a place after 亿 without 零", "百 needs a digit", "a 零 after 亿 where")


def test_random_strings_agree_with_cn2an():
    rng = random.Random(0)
    alphabet = sorted(CHINESE_CHARS)
    texts = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(4000)}
    for _ in range(3000):  # near misses: one edit of a well-formed numeral
        t = list(to_chinese(rng.randrange(10 ** rng.randint(1, 12))))
        t[rng.randrange(len(t))] = rng.choice(alphabet)
        texts.add("".join(t))
    n_valid = 0
    for text in sorted(texts):
        try:
            ours = from_chinese(text)
        except ValueError as err:
            ours, why = None, str(err)
        try:
            ref = cn2an.cn2an(text, "strict")
        except (ValueError, KeyError):
            ref = None
        if ours is not None:
            n_valid += 1
            assert ours == ref, text  # what we read, cn2an reads the same way
        elif ref is not None:
            assert any(m in why for m in CN2AN_ONLY), (text, ref, why)
    assert n_valid > 300


def test_bad_input():
    with pytest.raises(TypeError, match="int"):
        to_chinese("12")
    with pytest.raises(ValueError, match="10\\*\\*12"):
        to_chinese(-1)
    with pytest.raises(ValueError, match="unknown: a"):
        from_chinese("一a")
    with pytest.raises(ValueError, match="two digits"):
        from_chinese("一二")
    with pytest.raises(TypeError, match="str"):
        from_chinese(12)
    with pytest.raises(ValueError, match="characters"):
        from_chinese("")
