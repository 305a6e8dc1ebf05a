"""course_utils.similarity: cosine similarity and nearest neighbours, against sklearn and gensim."""

import numpy as np
import pytest
import torch
from scipy import sparse

from course_utils.similarity import (
    OOVError,
    check_in_vocab,
    cosine_similarity_matrix,
    nearest_neighbours,
    similar_spellings,
)

WORDS = ["北京", "上海", "足球", "篮球", "经济"]


def _vectors(seed=0):
    return np.random.default_rng(seed).normal(size=(len(WORDS), 6))


def test_cosine_matrix_against_sklearn_for_every_input_kind():
    from sklearn.metrics.pairwise import cosine_similarity

    x = _vectors()
    want = cosine_similarity(x)
    for kind in (x, sparse.csr_matrix(x), torch.tensor(x), x.tolist()):
        got = cosine_similarity_matrix(kind)
        assert np.allclose(got, want, atol=1e-12)
    assert np.allclose(np.diag(want), 1.0) and np.abs(got).max() <= 1.0


def test_cosine_ignores_length_and_a_zero_row_scores_zero():
    sim = cosine_similarity_matrix(np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0], [-3.0, 0.0]]))
    assert sim[0, 2] == pytest.approx(1.0) and sim[0, 3] == pytest.approx(-1.0)
    assert (sim[1] == 0.0).all() and (sim[:, 1] == 0.0).all()


def test_nearest_neighbours_agrees_with_gensim_most_similar():
    from course_utils.word2vec import to_keyed_vectors

    x = _vectors(1)
    kv = to_keyed_vectors(WORDS, x)
    ours = nearest_neighbours(kv.vectors, kv.index_to_key, "足球", k=3)
    theirs = kv.most_similar("足球", topn=3)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)


def test_nearest_neighbours_leaves_out_the_query_and_sorts():
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [0.5, 0.5]])
    nn = nearest_neighbours(x, WORDS, "北京", k=10)  # more than there are other words
    assert [w for w, _ in nn] == ["上海", "经济", "足球", "篮球"]
    sims = [s for _, s in nn]
    assert sims == sorted(sims, reverse=True) and sims[-1] == pytest.approx(-1.0)


def test_unknown_words_get_near_spellings():
    with pytest.raises(OOVError, match="did you mean: 北京") as err:
        nearest_neighbours(_vectors(), WORDS, "北平")
    assert isinstance(err.value, KeyError) and "北平" in str(err.value)
    with pytest.raises(OOVError, match="no known word"):
        check_in_vocab(WORDS, "xyzzy")
    assert check_in_vocab(WORDS, "足球") == 2
    assert similar_spellings("北平", ["北京", "平"], n=1) == ["平"]  # ties: listed first wins


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: nearest_neighbours(np.eye(4), WORDS, "北京"), ValueError, "one row per word"),
        (lambda: nearest_neighbours(_vectors(), WORDS, "北京", k=0), ValueError, "k must be"),
        (lambda: nearest_neighbours(_vectors(), WORDS, 3), TypeError, "word must be a str"),
        (lambda: cosine_similarity_matrix(np.ones(3)), ValueError, "2-D"),
        (lambda: cosine_similarity_matrix(np.full((2, 2), np.inf)), ValueError, "NaN or inf"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_keyed_vectors_passed_whole_get_a_hint():
    from course_utils.word2vec import to_keyed_vectors

    kv = to_keyed_vectors(WORDS, _vectors())
    with pytest.raises(TypeError, match="kv.vectors, kv.index_to_key"):
        nearest_neighbours(kv, WORDS, "北京")
