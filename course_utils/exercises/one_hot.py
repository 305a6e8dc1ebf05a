"""Self-checks for chapter 02's exercises (one-hot encoding and the Q matrix)."""

from __future__ import annotations

import numpy as np

from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close

__all__ = ["check_bag_of_words", "check_lookup", "check_one_hot"]


def _array(x, what: str) -> np.ndarray:
    try:
        return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(
            f"{what}: expected an array or tensor of numbers, got {type(x).__name__}"
        ) from None


@exercise("Exercise 1: one-hot encode a list of ids")
def check_one_hot(fn):
    ids, v = [2, 0, 3, 2], 5
    got = _array(fn(ids, v), "one_hot([2, 0, 3, 2], 5)")
    if got.shape == (v, len(ids)):
        raise CheckFailed(
            f"got shape {got.shape}: rows and columns are swapped. "
            f"Hint: one row per token, one column per word: ({len(ids)}, {v})"
        )
    expect(
        got.shape == (len(ids), v),
        f"one_hot([2, 0, 3, 2], 5): expected shape ({len(ids)}, {v}), got {got.shape}",
    )
    expect(np.all(got.sum(axis=1) == 1), "every row must hold exactly one 1 (and zeros elsewhere)")
    expect_close(
        got, np.eye(v)[ids], "one_hot([2, 0, 3, 2], 5)", hint="row t has its 1 in column ids[t]"
    )
    return "each row is a column of the identity matrix"


@exercise("Exercise 2: embedding lookup without the matmul")
def check_lookup(fn):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(6, 3))
    ids = [4, 1, 4]
    # rows never looked up hold inf: a lookup never reads them, but one_hot @ Q
    # multiplies them by 0, and 0 * inf = NaN gives the matmul away
    q[[0, 2, 3, 5]] = np.inf
    want = q[ids]  # (3, 3) the rows of Q
    try:
        with np.errstate(invalid="ignore"):
            answer = fn(q.copy(), ids)
    except IndexError as exc:
        raise CheckFailed(
            f"lookup(Q, [4, 1, 4]) with Q of shape (6, 3) raised IndexError ({exc}). "
            "Hint: Q[ids] (rows), not Q[:, ids] (columns)"
        ) from None
    got = _array(answer, "lookup(Q, [4, 1, 4])")
    if got.shape == q.shape:
        raise CheckFailed(
            "lookup(Q, [4, 1, 4]) returned a matrix the shape of Q itself; it must "
            "return one row of Q per id. Hint: Q[ids]"
        )
    expect(
        got.shape == want.shape,
        f"lookup(Q, [4, 1, 4]) with Q of shape (6, 3): "
        f"expected shape {want.shape}, got {got.shape}",
    )
    if np.isnan(got).any():
        raise CheckFailed(
            "your answer holds NaN. The check puts inf in the rows of Q that are "
            "never looked up: an index never touches them, but a matmul multiplies "
            "them by the one-hot zeros, and 0 * inf = NaN. So your answer multiplies "
            "(one_hot @ Q). Hint: index the rows instead, Q[ids]"
        )
    expect_close(got, want, "lookup(Q, [4, 1, 4])", hint="row t of the answer is Q[ids[t]]")
    return "indexing gives the same rows as one_hot @ Q, without multiplying by zeros"


@exercise("Exercise 3: bag-of-words counts")
def check_bag_of_words(fn):
    vocab = ["我", "爱", "北京", "天安门", "上海"]
    tokens = ["我", "爱", "北京", "，", "我", "爱", "天安门"]
    got = _array(fn(tokens, vocab), "bag_of_words(tokens, vocab)")
    want = np.array([2, 2, 1, 1, 0], dtype=float)
    expect(
        got.shape == (len(vocab),),
        f"expected one count per vocabulary word, shape ({len(vocab)},), got {got.shape}",
    )
    if np.allclose(got, (want > 0).astype(float)):
        raise CheckFailed(
            "you marked which words occur (0/1) but a bag of words counts them: "
            "我 and 爱 occur twice"
        )
    expect_close(
        got,
        want,
        "bag_of_words(['我', '爱', '北京', '，', '我', '爱', '天安门'])",
        hint="count each vocabulary word; tokens outside the vocabulary (，) are dropped",
    )
    return "word order is gone: 我爱北京 and 北京爱我 get the same vector"
