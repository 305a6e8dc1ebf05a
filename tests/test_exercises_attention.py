"""The self-checks of the attention exercises accept the solutions and explain wrong answers."""

import math

import pytest
import torch

from course_utils.exercises.attention import (
    check_attend_one,
    check_causal_mask,
    check_padding_mask,
    check_score_gradient,
)
from course_utils.tools.selfcheck import CheckFailed


def attend_one(q, K, V):
    scores = K @ q / math.sqrt(q.numel())
    return torch.softmax(scores, dim=0) @ V


def score_gradient(p, V, grad_out):
    grad_p = V @ grad_out
    return p * (grad_p - (p * grad_p).sum())


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    for check in (check_attend_one, check_causal_mask, check_score_gradient, check_padding_mask):
        result = check(stub)
        assert not result.attempted
    assert "[not attempted yet]" in capsys.readouterr().out


def test_solutions_pass(capsys):
    assert check_attend_one(attend_one).passed
    assert check_causal_mask(lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool))).passed
    assert check_score_gradient(score_gradient).passed
    assert check_padding_mask(
        lambda lengths, n: torch.arange(n)[None] < torch.tensor(lengths)[:, None]
    ).passed
    assert capsys.readouterr().out.count("[passed]") == 4


def test_attend_one_rejects_missing_scale_and_softmax():
    with pytest.raises(CheckFailed, match="without the scaling"):
        check_attend_one(lambda q, K, V: torch.softmax(K @ q, dim=0) @ V)
    with pytest.raises(CheckFailed, match="raw scores"):
        check_attend_one(lambda q, K, V: (K @ q / 2) @ V)
    with pytest.raises(CheckFailed, match="expected Tensor, got list"):
        check_attend_one(lambda q, K, V: [0.0, 0.0])


def test_causal_mask_rejects_typical_mistakes():
    with pytest.raises(CheckFailed, match="upper-triangular"):
        check_causal_mask(lambda n: torch.triu(torch.ones(n, n, dtype=torch.bool)))
    with pytest.raises(CheckFailed, match="diagonal is False"):
        check_causal_mask(lambda n: torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1))
    with pytest.raises(CheckFailed, match="dtype"):
        check_causal_mask(lambda n: torch.tril(torch.ones(n, n)))


def test_score_gradient_rejects_diagonal_only():
    with pytest.raises(CheckFailed, match="diagonal of the softmax Jacobian"):
        check_score_gradient(lambda p, V, g: p * (V @ g))
    with pytest.raises(CheckFailed, match="back through"):
        check_score_gradient(lambda p, V, g: V @ g)


def test_padding_mask_rejects_inverted_mask():
    with pytest.raises(CheckFailed, match="True on the padding"):
        check_padding_mask(
            lambda lengths, n: torch.arange(n)[None] >= torch.tensor(lengths)[:, None]
        )
    with pytest.raises(CheckFailed, match="shape"):
        check_padding_mask(lambda lengths, n: torch.ones(n, len(lengths), dtype=torch.bool))
