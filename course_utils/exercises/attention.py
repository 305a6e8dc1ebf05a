"""Self-checks for the exercises of the self-attention chapter.

Each check takes the learner's function, calls it on small fixed inputs and
compares the result with ``course_utils.attention``; a wrong answer raises
``CheckFailed`` with what was expected and a hint about the usual mistake.
"""

from __future__ import annotations

import math

import torch

from ..attention import attention, causal_mask, padding_mask
from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal, expect_type

# A tiny fixed example: 3 keys of width d_k = 4, values of width 2.
_Q = torch.tensor([1.0, 0.0, 2.0, -1.0], dtype=torch.float64)
_K = torch.tensor(
    [[1.0, 1.0, 0.0, 0.0], [0.0, 2.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0]], dtype=torch.float64
)
_V = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]], dtype=torch.float64)
_GRAD_OUT = torch.tensor([1.0, -2.0], dtype=torch.float64)


def _as_tensor(x, what: str) -> torch.Tensor:
    expect_type(x, torch.Tensor, what)
    return x.detach().to(torch.float64)


@exercise("Exercise 1: one attention output by hand")
def check_attend_one(attend_one):
    """``attend_one(q, K, V)``: q (d_k,), K (n, d_k), V (n, d_v) -> output (d_v,)."""
    got = _as_tensor(attend_one(_Q.clone(), _K.clone(), _V.clone()), "attend_one(q, K, V)")
    want = attention(_Q[None], _K, _V)[0][0]
    unscaled = torch.softmax(_K @ _Q, dim=0) @ _V
    if got.shape == want.shape and torch.allclose(got, unscaled, atol=1e-6):
        raise CheckFailed(
            "attend_one gave softmax(K q) V without the scaling. Hint: divide the "
            f"scores by sqrt(d_k) = {math.sqrt(_Q.numel()):g} before the softmax"
        )
    if got.shape == want.shape and torch.allclose(got, (_K @ _Q / 2) @ _V, atol=1e-6):
        raise CheckFailed(
            "attend_one used the raw scores as weights. Hint: apply softmax to the "
            "scaled scores so that the weights are positive and sum to 1"
        )
    expect_close(
        got,
        want,
        "the output for q=[1, 0, 2, -1]",
        rtol=1e-5,
        hint="scores = K q / sqrt(d_k); weights = softmax(scores); output = weights @ V",
    )
    return f"output = {[round(x, 4) for x in want.tolist()]}"


@exercise("Exercise 2: the causal mask")
def check_causal_mask(make_causal_mask):
    """``make_causal_mask(n)`` -> (n, n) bool tensor, True where query i may attend to key j."""
    for n in (1, 4, 7):
        got = make_causal_mask(n)
        expect_type(got, torch.Tensor, f"make_causal_mask({n})")
        expect_equal(tuple(got.shape), (n, n), f"shape of make_causal_mask({n})")
        expect_equal(
            got.dtype,
            torch.bool,
            f"dtype of make_causal_mask({n})",
            hint="compare with a condition or use .bool(): masks are True/False",
        )
        want = causal_mask(n)
        if torch.equal(got, want):
            continue
        if torch.equal(got, want.T):
            raise CheckFailed(
                "your mask is upper-triangular: query 0 could see every future key. "
                "Hint: query i may look at keys j <= i, i.e. torch.tril"
            )
        if torch.equal(got, torch.tril(torch.ones(n, n, dtype=torch.bool), diagonal=-1)):
            raise CheckFailed(
                "the diagonal is False, so token 0 can attend to nothing. "
                "Hint: a token may attend to itself (j <= i, not j < i)"
            )
        if torch.equal(got, ~want):
            raise CheckFailed("your mask is inverted: True must mean 'may attend'")
        raise CheckFailed(f"make_causal_mask({n}) should be\n{want.int()}\ngot\n{got.int()}")
    return "query i sees keys 0..i"


@exercise("Exercise 3: the gradient of the scores")
def check_score_gradient(score_gradient):
    """``score_gradient(p, V, grad_out)`` -> dL/ds for one query row.

    p (n,) = softmax(s) are the weights, V (n, d_v) the values, grad_out (d_v,) = dL/do
    for the output o = p @ V.
    """
    s = (_K @ _Q / 2).requires_grad_()
    p = torch.softmax(s, dim=0)
    (p @ _V @ _GRAD_OUT).backward()
    got = _as_tensor(
        score_gradient(p.detach().clone(), _V.clone(), _GRAD_OUT.clone()),
        "score_gradient(p, V, grad_out)",
    )
    p = p.detach()
    grad_p = _V @ _GRAD_OUT
    if got.shape == s.shape and torch.allclose(got, p * grad_p, atol=1e-6):
        raise CheckFailed(
            "you returned p * dL/dp, the diagonal of the softmax Jacobian only. "
            "Hint: every weight depends on every score; subtract p * sum(p * dL/dp)"
        )
    if got.shape == s.shape and torch.allclose(got, grad_p, atol=1e-6):
        raise CheckFailed(
            "you returned dL/dp = V @ grad_out; it still has to go back through "
            "the softmax: dL/ds = p * (dL/dp - sum(p * dL/dp))"
        )
    expect_close(
        got,
        s.grad,
        "dL/ds",
        rtol=1e-5,
        hint="dL/dp = V @ grad_out, then dL/ds = p * (dL/dp - (p * dL/dp).sum())",
    )
    expect(
        abs(float(got.sum())) < 1e-9,
        "dL/ds should sum to 0 (adding one constant to every score changes nothing)",
    )
    return f"dL/ds = {[round(x, 4) for x in s.grad.tolist()]}, and it sums to 0"


@exercise("Exercise 4: the padding mask")
def check_padding_mask(make_padding_mask):
    """``make_padding_mask(lengths, max_len)`` -> (batch, max_len) bool, True on real tokens."""
    lengths, max_len = [3, 1, 5], 5
    got = make_padding_mask(lengths, max_len)
    expect_type(got, torch.Tensor, "make_padding_mask([3, 1, 5], 5)")
    expect_equal(
        tuple(got.shape),
        (3, 5),
        "shape of make_padding_mask([3, 1, 5], 5)",
        hint="one row per sentence, one column per position",
    )
    expect_equal(got.dtype, torch.bool, "dtype of the mask")
    want = padding_mask(lengths, max_len)[:, 0]
    if torch.equal(got, ~want):
        raise CheckFailed(
            "your mask is True on the padding: in this course True means "
            "'may attend', so it must be True on the real tokens"
        )
    if not torch.equal(got, want):
        raise CheckFailed(
            f"expected\n{want.int()}\ngot\n{got.int()}. Hint: position t of "
            "sentence b is real when t < lengths[b]"
        )
    return "True on the real tokens, False on the padding"
