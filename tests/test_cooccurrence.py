"""Unit tests for course_utils.cooccurrence (counts, PPMI, truncated SVD)."""

import numpy as np
import pytest
from scipy import sparse

from course_utils.cooccurrence import cooccurrence_matrix, ppmi, truncated_svd
from course_utils.similarity import cosine_similarity_matrix, nearest_neighbours

SENTS = [["我", "爱", "北京"], ["我", "爱", "上海"], ["他", "去", "北京"], ["他", "去", "上海"]]
VOCAB = ["我", "爱", "北京", "上海", "他", "去"]


def test_counts_by_hand():
    m = cooccurrence_matrix(SENTS, VOCAB, window=1).toarray()
    i = {w: k for k, w in enumerate(VOCAB)}
    assert m[i["我"], i["爱"]] == 2 and m[i["爱"], i["我"]] == 2
    assert m[i["爱"], i["北京"]] == 1 and m[i["我"], i["北京"]] == 0
    assert (m == m.T).all() and np.trace(m) == 0
    m2 = cooccurrence_matrix(SENTS, VOCAB, window=2).toarray()
    assert m2[i["我"], i["北京"]] == 1
    # out-of-vocabulary words are dropped before windows are taken
    m3 = cooccurrence_matrix([["我", "的", "爱"]], VOCAB, window=1).toarray()
    assert m3[i["我"], i["爱"]] == 1


def test_ppmi_by_hand():
    counts = np.array([[0, 2, 1], [2, 0, 1], [1, 1, 0]], dtype=float)
    got = ppmi(counts, smoothing=1.0).toarray()
    total = counts.sum()
    p = counts / total
    pi = counts.sum(1) / total
    want = np.maximum(0, np.log(np.where(p > 0, p, 1) / np.outer(pi, pi)))
    want[p == 0] = 0
    assert np.allclose(got, want)
    assert (got >= 0).all()


def test_svd_and_neighbours_group_similar_words():
    m = ppmi(cooccurrence_matrix(SENTS, VOCAB, window=1))
    vecs, ratio = truncated_svd(m, k=3, seed=0)
    assert vecs.shape == (6, 3) and ratio.shape == (3,)
    assert (ratio > 0).all() and ratio.sum() <= 1 + 1e-9
    nn = nearest_neighbours(m.toarray(), VOCAB, "北京", k=2)
    assert nn[0][0] == "上海" and nn[0][1] == pytest.approx(1.0)
    sims = cosine_similarity_matrix(m)
    assert np.allclose(np.diag(sims), 1.0) and np.allclose(sims, sims.T)


def test_svd_share_is_the_part_of_the_squared_norm_kept():
    rng = np.random.default_rng(0)
    m = rng.random((8, 6)) + 1.0  # all positive: far from centred
    _, share = truncated_svd(m, k=3, seed=0)
    s = np.linalg.svd(m, compute_uv=False)
    assert np.allclose(share, s[:3] ** 2 / (m**2).sum())
    _, share_sparse = truncated_svd(sparse.csr_matrix(m), k=3, seed=0)
    assert np.allclose(share_sparse, share)
    with pytest.raises(ValueError, match="all zeros"):
        truncated_svd(np.zeros((4, 4)), k=2)


def test_bad_input():
    with pytest.raises(ValueError, match="window"):
        cooccurrence_matrix(SENTS, VOCAB, window=0)
    with pytest.raises(TypeError, match="sentence 0 is a string"):
        cooccurrence_matrix(["我爱北京"], VOCAB)
    with pytest.raises(TypeError, match="not one string"):
        cooccurrence_matrix("我 爱 北京", VOCAB)
    with pytest.raises(ValueError, match="empty"):
        cooccurrence_matrix([], VOCAB)
    with pytest.raises(ValueError, match="repeated"):
        cooccurrence_matrix(SENTS, ["我", "我"])
    with pytest.raises(ValueError, match="square"):
        ppmi(np.ones((2, 3)))
    with pytest.raises(ValueError, match="all zeros"):
        ppmi(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        ppmi(np.array([[0.0, -1.0], [-1.0, 0.0]]))
    for bad in (0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="smoothing"):
            ppmi(np.ones((3, 3)), smoothing=bad)
    with pytest.raises(TypeError, match="smoothing"):
        ppmi(np.ones((3, 3)), smoothing="0.75")
    with pytest.raises(ValueError, match="k must be"):
        truncated_svd(np.eye(4), k=4)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        nearest_neighbours(np.eye(6), VOCAB, "香蕉")


def _counts_by_brute_force(sentences, vocab, window):
    index = {w: i for i, w in enumerate(vocab)}
    m = np.zeros((len(vocab), len(vocab)))
    for sent in sentences:
        ids = [index[w] for w in sent if w in index]
        for a in range(len(ids)):
            for b in range(len(ids)):
                if a != b and abs(a - b) <= window:
                    m[ids[a], ids[b]] += 1
    return m


def test_counts_match_brute_force_for_every_window():
    rng = np.random.default_rng(0)
    vocab = list("abcdefg")
    sents = [list(rng.choice(list("abcdefgxy"), size=rng.integers(1, 9))) for _ in range(30)]
    for window in (1, 2, 3, 8):
        got = cooccurrence_matrix(sents, vocab, window=window)
        assert got.shape == (7, 7) and isinstance(got, sparse.csr_matrix)
        np.testing.assert_array_equal(got.toarray(), _counts_by_brute_force(sents, vocab, window))
    assert cooccurrence_matrix([["a"], ["x", "b"]], vocab).nnz == 0  # no pair at all
    assert cooccurrence_matrix(sents, vocab).toarray().sum() > 0


def test_ppmi_of_asymmetric_counts_with_context_smoothing():
    """PMI = log[P(i, j) / (P(i) P_s(j))]: rows are words, columns contexts raised to s."""
    counts = np.array([[0, 4, 1, 0], [2, 0, 3, 1], [1, 5, 0, 2], [0, 1, 2, 0]], dtype=float)
    for s in (0.75, 1.0, 0.5):
        got = ppmi(counts, smoothing=s) if s != 0.75 else ppmi(counts)
        total = counts.sum()
        p_i = counts.sum(axis=1) / total
        c = counts.sum(axis=0) ** s
        p_j = c / c.sum()
        with np.errstate(divide="ignore"):
            pmi = np.log((counts / total) / np.outer(p_i, p_j))
        want = np.where(counts > 0, np.maximum(pmi, 0), 0)
        np.testing.assert_allclose(got.toarray(), want, rtol=1e-12)
        assert got.nnz == (want > 0).sum()  # only positive scores are stored
    # a uniform table: P(i, j) = P(i) P(j) exactly, every PMI is 0 and nothing is stored
    assert ppmi(np.ones((2, 2)), smoothing=1.0).nnz == 0


def test_default_window_is_two_words():
    sentence = [["a", "b", "c", "d", "e"]]
    vocab = list("abcde")
    default = cooccurrence_matrix(sentence, vocab).toarray()
    assert np.array_equal(default, cooccurrence_matrix(sentence, vocab, window=2).toarray())
    assert default[0, 2] == 1 and default[0, 3] == 0  # "c" is 2 words from "a", "d" is 3


def test_svd_is_seeded_and_repeatable():
    rng = np.random.default_rng(0)
    m = sparse.csr_matrix(rng.poisson(1.0, size=(40, 30)).astype(float))
    a, share_a = truncated_svd(m, 5)
    b, share_b = truncated_svd(m, 5, seed=0)
    c, _ = truncated_svd(m, 5)
    assert np.array_equal(a, b) and np.array_equal(share_a, share_b)  # the default seed is 0
    assert np.array_equal(a, c)  # the same call gives the same vectors, bit for bit
