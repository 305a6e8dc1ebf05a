"""Self-checks for the word2vec exercises (notebook 03_word2vec)."""

from __future__ import annotations

import numpy as np

from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal

__all__ = [
    "check_discard_probability",
    "check_noise_distribution",
    "check_context_pairs",
    "check_solve_analogy",
    "toy_analogy_vectors",
]


@exercise("Exercise 1: subsampling (discard probability)")
def check_discard_probability(fn):
    """``fn(freq, t)`` -> probability of *discarding* a word of relative frequency ``freq``."""
    cases = [(0.05, 1e-3), (0.01, 1e-3), (1e-3, 1e-3), (1e-5, 1e-3), (0.02, 1e-4)]
    for f, t in cases:
        got = float(fn(f, t))
        expected = max(0.0, 1.0 - np.sqrt(t / f))
        expect(
            0.0 <= got <= 1.0,
            f"discard probability for f={f}, t={t} is {got:.4f}, "
            "outside [0, 1]. Hint: a word rarer than t is never discarded, so clip at 0",
        )
        expect_close(
            got,
            expected,
            f"discard probability for f={f}, t={t}",
            hint="Mikolov et al. (2013): P(discard) = 1 - sqrt(t / f), and 0 when f <= t",
        )
    return "frequent words are dropped often, words rarer than t never"


@exercise("Exercise 2: the unigram^0.75 noise distribution")
def check_noise_distribution(fn):
    """``fn(counts, power)`` -> array of probabilities (sums to 1)."""
    counts = np.array([900.0, 90.0, 9.0, 1.0])
    got = np.asarray(fn(counts, 0.75), dtype=float)
    expect_equal(got.shape, counts.shape, "shape of the noise distribution")
    expect_close(got.sum(), 1.0, "sum of the probabilities", hint="normalise: divide by the total")
    expected = counts**0.75 / (counts**0.75).sum()
    expect_close(
        got,
        expected,
        "noise probabilities for counts [900, 90, 9, 1]",
        hint="raise the counts to the power 0.75 first, then normalise",
    )
    unigram = counts / counts.sum()
    expect(got[-1] > unigram[-1], "the rarest word should be drawn more often than its frequency")
    return f"the rarest word goes from {unigram[-1]:.4f} to {got[-1]:.4f}"


@exercise("Exercise 3: (center, context) pairs with a fixed window")
def check_context_pairs(fn):
    """``fn(tokens, window)`` -> list of (center, context) pairs, in reading order."""
    tokens = ["我们", "在", "北京", "过", "春节"]
    got = [tuple(p) for p in fn(tokens, 1)]
    expected = [
        ("我们", "在"),
        ("在", "我们"),
        ("在", "北京"),
        ("北京", "在"),
        ("北京", "过"),
        ("过", "北京"),
        ("过", "春节"),
        ("春节", "过"),
    ]
    expect(
        all(c != x or tokens.count(c) > 1 for c, x in got),
        "a word is never its own context: skip offset 0",
    )
    expect_equal(
        len(got),
        len(expected),
        "number of pairs for window=1 on 5 tokens",
        hint="each word pairs with the words at distance 1..window on BOTH sides, "
        "without running past either end",
    )
    expect_equal(sorted(got), sorted(expected), "the pairs for window=1")
    got2 = [tuple(p) for p in fn(tokens, 2)]
    expect_equal(len(got2), 14, "number of pairs for window=2 on 5 tokens")
    return "14 pairs for window=2: the ends of a sentence have fewer neighbours"


def toy_analogy_vectors():
    """A tiny deterministic ``KeyedVectors`` for exercise 4 (words and 3-d vectors).

    Built so that the answer of king - man + woman is queen only when the question words are
    excluded and the vectors are unit-normalised first (as gensim does).
    """
    from ..word2vec import to_keyed_vectors

    words = ["king", "queen", "man", "woman", "apple", "royal"]
    vectors = np.array(
        [
            [5.0, 5.0, 0.0],  # king: a long vector (a frequent word)
            [-0.2, 0.7, 1.0],  # queen
            [1.0, 0.0, 0.0],  # man
            [0.0, 0.0, 1.0],  # woman
            [0.0, 1.0, 0.0],  # apple
            [4.0, 5.0, 1.2],  # royal: wins only if the long king vector dominates the sum
        ],
        dtype=np.float32,
    )
    return to_keyed_vectors(words, vectors)


@exercise("Exercise 4: solve an analogy with 3CosAdd")
def check_solve_analogy(fn):
    """``fn(kv, a, b, c)`` -> the word d with b - a + c closest (cosine), a, b, c excluded."""
    kv = toy_analogy_vectors()
    ref = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0]
    got = fn(kv, "man", "king", "woman")
    expect(isinstance(got, str), f"return the answer word as a str, got {type(got).__name__}")
    expect(
        got not in ("man", "king", "woman"),
        f"got {got!r}, one of the question words. Hint: exclude a, b and c from the candidates",
    )
    other = fn(kv, "king", "royal", "apple")  # here c itself is closest to b - a + c
    expect(
        other not in ("king", "royal", "apple"),
        f"king : royal :: apple : ? gave {other!r}, one of the question words. "
        "Hint: exclude a, b and c from the candidates",
    )
    if got != ref:
        raise CheckFailed(
            f"man : king :: woman : ? gave {got!r}, expected {ref!r}. Hint: "
            "normalise every vector to unit length before adding (kv.get_vector(w, "
            "norm=True)), then rank all words by cosine similarity"
        )
    return f"man : king :: woman : {got}"
