"""The chapter 01 checks accept the worked solutions and explain typical mistakes."""

import numpy as np
import pytest

from course_utils.exercises.vectorization import (
    check_bigram_prob,
    check_cosine,
    check_count_chains,
    check_standardize,
)
from course_utils.tools.selfcheck import CheckFailed


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def standardize(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


def bigram_prob(count_ab, count_a, vocab_size, alpha):
    return (count_ab + alpha) / (count_a + alpha * vocab_size)


def count_chains_from(graph, start, k):
    def extend(idiom, length, on_chain):
        if length == k:
            return 1
        return sum(
            extend(n, length + 1, on_chain | {n}) for n in graph.get(idiom, []) if n not in on_chain
        )

    return extend(start, 1, {start})


def test_solutions_pass(capsys):
    for check, answer in [
        (check_cosine, cosine),
        (check_standardize, standardize),
        (check_bigram_prob, bigram_prob),
        (check_count_chains, count_chains_from),
    ]:
        assert check(answer).passed
    assert capsys.readouterr().out.count("[passed]") == 4


def test_stub_is_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    result = check_cosine(stub)
    assert not result.attempted and "not attempted yet" in capsys.readouterr().out


def test_cosine_rejects_dot_product():
    with pytest.raises(CheckFailed, match="plain dot product"):
        check_cosine(lambda a, b: float(a @ b))


def test_standardize_rejects_whole_matrix_and_rows():
    with pytest.raises(CheckFailed, match="whole matrix"):
        check_standardize(lambda x: (x - x.mean()) / x.std())
    with pytest.raises(CheckFailed, match="each row"):
        check_standardize(
            lambda x: (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
        )


def test_bigram_rejects_missing_alpha_v():
    with pytest.raises(CheckFailed, match="alpha"):
        check_bigram_prob(lambda cab, ca, v, a: (cab + a) / (ca + a))


def test_chains_reject_repeats_and_off_by_one():
    def with_repeats(graph, start, k):
        if k == 1:
            return 1
        return sum(with_repeats(graph, n, k - 1) for n in graph.get(start, []))

    with pytest.raises(CheckFailed, match="already on the current chain"):
        check_count_chains(with_repeats)

    def off_by_one(graph, start, k):
        return count_chains_from(graph, start, k + 1)

    with pytest.raises(CheckFailed, match="k - 1 links"):
        check_count_chains(off_by_one)
