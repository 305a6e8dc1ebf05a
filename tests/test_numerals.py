"""course_utils.numerals against the cn2an library (a test-only reference)."""

import random

import pytest

from course_utils.numerals import (
    from_chinese,
    held_out_numbers,
    numeral_tensors,
    numeral_vocabs,
    sample_training_numbers,
    to_chinese,
)

cn2an = pytest.importorskip("cn2an")


@pytest.mark.parametrize("n, text", [(0, "零"), (10, "十"), (15, "十五"), (115, "一百一十五"),
                                     (1001, "一千零一"), (1998, "一千九百九十八"),
                                     (20305, "二万零三百零五"), (110000, "十一万"),
                                     (100000001, "一亿零一"), (200000010, "二亿零一十")])
def test_examples(n, text):
    assert to_chinese(n) == text
    assert from_chinese(text) == n


def test_against_cn2an():
    rng = random.Random(0)
    numbers = list(range(0, 12000)) + [rng.randrange(10 ** rng.randint(1, 12)) for _ in range(20000)]
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


def test_data_set_helpers():
    test = held_out_numbers(5, 30, seed=0)
    assert len(test[1]) == 2 and len(test[5]) == 30
    exclude = {x for v in test.values() for x in v}
    train = sample_training_numbers(2000, 5, exclude, random.Random(0))
    assert not exclude & set(train) and max(train) < 10**5
    src_vocab, tgt_vocab = numeral_vocabs()
    src, tgt = numeral_tensors([7, 20305], src_vocab, tgt_vocab)
    assert src.shape == (2, 5) and tgt.shape == (2, 9)
    assert "".join(tgt_vocab.decode(tgt[1, 1:-1].tolist())) == "二万零三百零五"


def test_ids_to_text():
    from course_utils.numerals import ids_to_text

    _, tgt_vocab = numeral_vocabs()
    ids = [tgt_vocab["<bos>"]] + tgt_vocab.encode(list("十五")) + [tgt_vocab["<eos>"], tgt_vocab["五"]]
    assert ids_to_text(ids, tgt_vocab) == "十五"
