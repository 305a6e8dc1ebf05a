"""The chapter 02 checks accept the worked solutions and explain typical mistakes."""

import numpy as np
import pytest
import torch

from course_utils.exercises.one_hot import check_bag_of_words, check_lookup, check_one_hot
from course_utils.tools.selfcheck import CheckFailed


def one_hot_matrix(ids, vocab_size):
    ids = np.asarray(ids)
    out = np.zeros((len(ids), vocab_size))
    out[np.arange(len(ids)), ids] = 1
    return out


def lookup(q, ids):
    return q[np.asarray(ids)]


def bag_of_words(tokens, vocab):
    pos = {w: i for i, w in enumerate(vocab)}
    out = np.zeros(len(vocab))
    for t in tokens:
        if t in pos:
            out[pos[t]] += 1
    return out


def test_solutions_pass(capsys):
    assert check_one_hot(one_hot_matrix).passed
    assert check_one_hot(lambda ids, v: torch.nn.functional.one_hot(torch.tensor(ids), v)).passed
    assert check_lookup(lookup).passed
    assert check_bag_of_words(bag_of_words).passed
    assert capsys.readouterr().out.count("[passed]") == 4


def test_one_hot_rejects_transposed():
    with pytest.raises(CheckFailed, match="swapped"):
        check_one_hot(lambda ids, v: one_hot_matrix(ids, v).T)


def test_lookup_rejects_columns_and_whole_q():
    with pytest.raises(CheckFailed, match="not Q\\[:, ids\\]"):
        check_lookup(lambda q, ids: q[:, ids].T)
    with pytest.raises(CheckFailed, match="one row of Q per id"):
        check_lookup(lambda q, ids: q)


def test_lookup_rejects_a_matmul():
    with pytest.raises(CheckFailed, match=r"0 \* inf = NaN.*one_hot @ Q"):
        check_lookup(lambda q, ids: one_hot_matrix(ids, len(q)) @ q)
    with pytest.raises(CheckFailed, match="NaN"):
        check_lookup(
            lambda q, ids: (
                torch.nn.functional.one_hot(torch.tensor(ids), len(q)).double() @ torch.as_tensor(q)
            )
        )


def test_bag_of_words_rejects_presence():
    with pytest.raises(CheckFailed, match="counts them"):
        check_bag_of_words(lambda tokens, vocab: (bag_of_words(tokens, vocab) > 0).astype(float))


def test_non_numeric_answer_is_explained():
    with pytest.raises(CheckFailed, match="array or tensor"):
        check_one_hot(lambda ids, v: "not an array")
