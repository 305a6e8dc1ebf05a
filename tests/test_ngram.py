"""Unit tests for course_utils.ngram (the character bigram model)."""

import math

import numpy as np
import pytest

from course_utils.corpora import split_texts
from course_utils.ngram import CharBigramModel

TEXTS = ["床前明月光", "疑是地上霜", "举头望明月", "低头思故乡", "明月几时有"]


def test_probabilities_match_hand_counts():
    m = CharBigramModel(alpha=0.5).fit(TEXTS)
    v = m.vocab_size
    assert v == len(set("".join(TEXTS))) + 2  # characters + <unk> + <eos>
    # 明 is followed by 月 three times, and 明 occurs 3 times as a context
    assert m.count("明", "月") == 3
    assert m.prob("明", "月") == pytest.approx((3 + 0.5) / (3 + 0.5 * v))
    assert m.prob("明", "光") == pytest.approx(0.5 / (3 + 0.5 * v))  # an unseen pair
    assert m.prob("<bos>", "明") == pytest.approx((1 + 0.5) / (5 + 0.5 * v))
    assert m.count("月", "<eos>") == 1


def test_distribution_sums_to_one_and_top_choice():
    m = CharBigramModel(alpha=0.1).fit(TEXTS)
    for ctx in ["明", "<bos>", "没见过"[0]]:
        p = m.next_distribution(ctx)
        assert p.shape == (len(m.itos),)
        assert p.sum() == pytest.approx(1.0)
        assert p[0] == 0.0  # <bos> is never predicted
    assert m.most_likely_next("明", 1)[0][0] == "月"


def test_cross_entropy_by_hand_and_against_uniform():
    m = CharBigramModel(alpha=0.1).fit(TEXTS)
    text = "明月光"
    expected = (
        -(
            math.log(m.prob("<bos>", "明"))
            + math.log(m.prob("明", "月"))
            + math.log(m.prob("月", "光"))
        )
        / 3
    )
    assert m.cross_entropy([text]) == pytest.approx(expected)
    assert m.cross_entropy(TEXTS) < m.uniform_cross_entropy()
    assert m.uniform_cross_entropy() == pytest.approx(math.log(m.vocab_size))


def test_unseen_pair_share_counts_pairs_by_hand():
    m = CharBigramModel(alpha=0.1).fit(TEXTS)
    # 明月霜: (<bos>,明) seen, (明,月) seen, (月,霜) unseen -> 1 of 3
    assert m.unseen_pair_share(["明月霜"]) == pytest.approx(1 / 3)
    # 光明: (<bos>,光) unseen, (光,明) unseen -> 2 of 2; the empty line counts nothing
    assert m.unseen_pair_share(["光明", ""]) == pytest.approx(1.0)
    assert m.unseen_pair_share(TEXTS) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        m.unseen_pair_share([""])
    with pytest.raises(TypeError, match="list of strings"):
        m.unseen_pair_share("明月光")


def test_unknown_characters_get_unk_probability():
    m = CharBigramModel(alpha=0.1).fit(TEXTS)
    ce = m.cross_entropy(["猫狗"])
    assert math.isfinite(ce) and ce > 0
    assert m.prob("明", "猫") == m.prob("明", "<unk>")


def test_larger_alpha_flattens():
    sharp = CharBigramModel(alpha=0.01).fit(TEXTS)
    flat = CharBigramModel(alpha=100.0).fit(TEXTS)
    assert sharp.prob("明", "月") > flat.prob("明", "月")
    assert flat.cross_entropy(TEXTS) == pytest.approx(flat.uniform_cross_entropy(), abs=0.1)


def test_generate_is_deterministic_and_sized():
    m = CharBigramModel(alpha=0.01).fit(TEXTS * 5)
    a = m.generate(30, seed=1, prefix="明")
    assert a == m.generate(30, seed=1, prefix="明")
    assert a.startswith("明") and len(a) == 31
    assert "<" not in a  # no special token leaks into the text
    greedy = m.generate(2, seed=0, prefix="明", top_k=1)
    assert greedy == "明月光" or greedy.startswith("明月")
    assert m.generate(0, prefix="床") == "床"


def test_real_corpus_beats_uniform():
    from course_utils.corpora import people_daily_text

    tr, va = split_texts(people_daily_text(limit=2000), valid_fraction=0.1, seed=0)
    m = CharBigramModel().fit(tr)
    assert m.cross_entropy(va) < m.uniform_cross_entropy() - 1.5


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ("床前明月光", TypeError, "list of strings"),
        ([["床", "前"]], TypeError, "plain string"),
        ([""], ValueError, "non-empty"),
    ],
)
def test_fit_rejects_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        CharBigramModel().fit(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"alpha .* in \(0, inf\]"):
        CharBigramModel(alpha=0)
    with pytest.raises(TypeError, match="number"):
        CharBigramModel(alpha="0.1")
    with pytest.raises(RuntimeError, match="fit"):
        CharBigramModel().cross_entropy(["a"])
    m = CharBigramModel().fit(TEXTS)
    with pytest.raises(ValueError, match="n_chars"):
        m.generate(-1)
    with pytest.raises(ValueError, match="top_k"):
        m.generate(3, top_k=0)
    assert np.isfinite(m.cross_entropy(["", "明月"]))


def test_defaults_and_fit_statistics():
    m = CharBigramModel()
    assert m.alpha == 0.1
    m.fit(["ab", "ba"])
    assert (m.n_pairs_seen, m.n_train_chars) == (6, 4)  # <bos>a ab b<eos> <bos>b ba a<eos>
    v = m.vocab_size  # a, b, <unk>, <eos>
    assert m.prob("a", "b") == pytest.approx((1 + 0.1) / (2 + 0.1 * v))
    assert len(CharBigramModel().fit(["abcdefg"]).most_likely_next("a")) == 5


def test_counts_at_the_edges_of_the_sorted_pair_codes():
    m = CharBigramModel().fit(["ab", "ba", "bb"])
    # ids: <bos> 0, <eos> 1, <unk> 2, a 3, b 4; the largest code seen is b -> b
    assert m.count("b", "b") == 1 and m.count("b", "a") == 1
    assert m.count("a", "a") == 0  # between two codes
    n = CharBigramModel().fit(["ab"])
    assert n.count("b", "b") == 0  # beyond the largest code seen (b -> <eos>)
    assert n.count("z", "a") == 0 and n.count("a", "z") == 0  # characters never seen


def test_next_distribution_agrees_with_prob_for_every_symbol():
    m = CharBigramModel(alpha=0.3).fit(["床前明月光", "明月几时有", "月光"])
    for prev in ("<bos>", "明", "月", "光", "从未见过"):
        p = m.next_distribution(prev)
        want = [0.0] + [m.prob(prev, s) for s in m.itos[1:]]
        assert p == pytest.approx(want, rel=1e-12)
    assert m.prob("从", "月") == pytest.approx(m.prob("<unk>", "月"))  # unseen context = <unk>


def test_generate_starts_each_line_from_bos_and_follows_the_last_character():
    m = CharBigramModel(alpha=0.01).fit(["ab"] * 5)
    assert m.generate(5, top_k=1) == "ab\nab"  # after <eos>, the next line starts from <bos>
    assert m.generate(2, prefix="b", top_k=1) == "b\na"  # continues from the prefix's last char
    assert m.generate(2, prefix="x\n", top_k=1) == "x\nab"  # a prefix ending a line: <bos>
    assert m.generate(20) == m.generate(20, seed=0)  # the default seed is 0


def test_generation_with_entropy_follows_its_seed_and_top_k():
    m = CharBigramModel(alpha=0.5).fit(TEXTS)
    assert m.generate(30) == m.generate(30, seed=0) != m.generate(30, seed=1)
    out, prev = [], "<bos>"
    for _ in range(12):  # top_k = 1: the most probable symbol, <unk> excluded, every step
        p = m.next_distribution(prev)
        p[m.stoi["<unk>"]] = 0.0
        best = m.itos[int(np.argsort(-p, kind="stable")[0])]
        out.append("\n" if best == "<eos>" else best)
        prev = "<bos>" if best == "<eos>" else best
    assert m.generate(12, top_k=1) == "".join(out)
