"""Self-checks for chapter 01's exercises (vectorization intuition)."""

from __future__ import annotations

import numpy as np

from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close

__all__ = ["check_bigram_prob", "check_count_chains", "check_cosine", "check_standardize"]


@exercise("Exercise 1: cosine similarity")
def check_cosine(fn):
    cases = [
        (([1.0, 0.0], [2.0, 0.0]), 1.0, "two vectors pointing the same way"),
        (([1.0, 0.0], [0.0, 3.0]), 0.0, "two orthogonal vectors"),
        (([1.0, 2.0], [-1.0, -2.0]), -1.0, "two opposite vectors"),
        (([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]), 32 / np.sqrt(14 * 77), "[1, 2, 3] and [4, 5, 6]"),
    ]
    for (a, b), want, what in cases:
        got = fn(np.array(a), np.array(b))
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"expected a single number, got {type(got).__name__}") from None
        if want == 1.0 and abs(got - np.dot(a, b)) < 1e-9 and abs(got - 1.0) > 1e-6:
            raise CheckFailed(
                f"for {what} you returned {got:g}, the plain dot product. "
                "Hint: divide by the two vectors' lengths (np.linalg.norm)"
            )
        expect_close(
            got,
            want,
            f"cosine similarity of {what}",
            hint="cos = a·b / (|a| |b|); the result never depends on the vectors' lengths",
        )
    return "scaling a vector does not change its direction, so its cosine stays the same"


@exercise("Exercise 2: feature scaling (standardize each column)")
def check_standardize(fn):
    x = np.array([[1.0, 170.0, 65.0], [0.0, 160.0, 50.0], [1.0, 180.0, 80.0], [0.0, 165.0, 55.0]])
    got = np.asarray(fn(x.copy()), dtype=float)
    expect(got.shape == x.shape, f"expected the same shape as the input {x.shape}, got {got.shape}")
    want = (x - x.mean(axis=0)) / x.std(axis=0)
    if np.allclose(got, (x - x.mean()) / x.std()):
        raise CheckFailed(
            "you standardized the whole matrix with one mean and one std. "
            "Hint: each column (feature) needs its own: x.mean(axis=0), "
            "x.std(axis=0)"
        )
    if np.allclose(got, (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)):
        raise CheckFailed(
            "you standardized each row (person); standardize each column (feature) instead: axis=0"
        )
    expect_close(
        got.mean(axis=0),
        np.zeros(3),
        "column means after scaling",
        hint="subtract each column's mean",
    )
    expect_close(
        got.std(axis=0),
        np.ones(3),
        "column standard deviations after scaling",
        hint="divide by each column's standard deviation",
    )
    expect_close(got, want, "standardized matrix")
    return "every feature now has mean 0 and standard deviation 1"


@exercise("Exercise 3: add-alpha smoothed bigram probability")
def check_bigram_prob(fn):
    # P(b | a) = (count(a, b) + alpha) / (count(a) + alpha * V)
    expect_close(
        fn(3, 10, 5, 1.0),
        4 / 15,
        "P with count(a,b)=3, count(a)=10, V=5, alpha=1",
        hint="(count(a, b) + alpha) / (count(a) + alpha * V)",
    )
    total = sum(fn(c, 10, 5, 0.5) for c in (3, 7, 0, 0, 0))
    expect_close(
        total,
        1.0,
        "sum of P(b | a) over all 5 next symbols (counts 3, 7, 0, 0, 0)",
        hint="the denominator needs + alpha * V, so that the probabilities sum to 1",
    )
    expect(fn(0, 10, 5, 0.5) > 0, "an unseen pair must still get a probability above 0")
    return "unseen pairs get a small probability, and every row still sums to 1"


@exercise("Exercise 4: count idiom chains by depth-first search")
def check_count_chains(fn):
    graph = {
        "一心一意": ["意气风发", "意味深长"],
        "意气风发": ["发扬光大"],
        "意味深长": ["长治久安"],
        "发扬光大": ["大公无私"],
        "长治久安": ["安居乐业"],
        "大公无私": [],
        "安居乐业": ["业精于勤"],
        "业精于勤": [],
    }
    cases = [
        ("一心一意", 1, 1),
        ("一心一意", 2, 2),
        ("一心一意", 3, 2),
        ("一心一意", 4, 2),
        ("一心一意", 5, 1),
        ("大公无私", 2, 0),
    ]
    for start, k, want in cases:
        got = fn(graph, start, k)
        expect(isinstance(got, int | np.integer), f"expected an int, got {type(got).__name__}")
        expect(
            got == want,
            f"chains of {k} idioms from {start}: expected {want}, got {got}. "
            "Hint: a chain of k idioms has k - 1 links, and the chain itself counts as one "
            "idiom when k == 1",
        )
    loop = {"甲乙": ["乙甲"], "乙甲": ["甲乙"]}
    got = fn(loop, "甲乙", 3)
    expect(
        got == 0,
        f"in a two-idiom loop there is no chain of 3 distinct idioms, got {got}. "
        "Hint: skip an idiom that is already on the current chain",
    )
    return "brute force visits every chain once, so its cost grows with the answer"
