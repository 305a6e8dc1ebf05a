"""Self-checks for the ELMo chapter's exercises (see ``course_utils.tools.selfcheck``)."""

from __future__ import annotations

import numpy as np
import torch

from ..elmo import IGNORE_INDEX, ScalarMix, lm_targets
from ..similarity import cosine_similarity_matrix
from ..tools.selfcheck import CheckFailed, exercise, expect, expect_close, expect_equal


@exercise("Exercise 1: the scalar mix by hand")
def check_scalar_mix(fn):
    """``fn(layers, scalars, gamma)`` -> gamma * sum_j softmax(scalars)_j * layers[j]."""
    g = torch.Generator().manual_seed(0)
    layers = [torch.randn(2, 3, 4, generator=g) for _ in range(3)]
    scalars = torch.tensor([0.5, -1.0, 2.0])
    gamma = 1.5
    mix = ScalarMix(3)
    with torch.no_grad():
        mix.scalar_parameters.copy_(scalars)
        mix.gamma.fill_(gamma)
        expected = mix(layers)
    out = fn(layers, scalars, gamma)
    expect(isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}")
    raw = gamma * sum(s * h for s, h in zip(scalars, layers))
    if out.shape == expected.shape and torch.allclose(out, raw, atol=1e-5):
        raise CheckFailed(
            "you weighted the layers by the raw scalars. Hint: normalise them "
            "with a softmax first, so that the weights are positive and sum to 1"
        )
    if out.shape == expected.shape and torch.allclose(out * gamma, expected, atol=1e-5):
        raise CheckFailed(
            "the result is off by a factor gamma. Hint: scale the weighted sum by gamma"
        )
    expect_close(
        out,
        expected,
        "ELMo vector",
        atol=1e-5,
        hint="gamma * sum_j softmax(scalars)[j] * layers[j]",
    )
    return f"weights {[round(w, 3) for w in mix.weights.tolist()]} sum to 1"


@exercise("Exercise 2: what each direction predicts")
def check_lm_targets(fn):
    """``fn(ids)`` for one unpadded sentence -> (forward_targets, backward_targets), lists
    with ``IGNORE_INDEX`` (-100) where a position has nothing to predict."""
    ids = [2, 17, 5, 9, 3]
    f_ref, b_ref = lm_targets(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.bool))
    f_ref, b_ref = f_ref[0].tolist(), b_ref[0].tolist()
    out = fn(ids)
    expect(
        isinstance(out, tuple | list) and len(out) == 2,
        "expected a pair (forward_targets, backward_targets)",
    )
    fwd, bwd = (list(map(int, x)) for x in out)
    if fwd == b_ref and bwd == f_ref:
        raise CheckFailed(
            "the two directions are swapped. Hint: the forward LM reads left to "
            "right, so at position t it predicts the NEXT word ids[t+1]"
        )
    if fwd == ids or bwd == ids:
        raise CheckFailed(
            "a position may not predict its own word: then the LM could copy its "
            "input. Hint: shift by one position"
        )
    expect_equal(
        fwd,
        f_ref,
        f"forward targets for ids={ids}",
        hint=f"position t predicts ids[t+1]; the last position gets {IGNORE_INDEX}",
    )
    expect_equal(
        bwd,
        b_ref,
        f"backward targets for ids={ids}",
        hint=f"position t predicts ids[t-1]; the first position gets {IGNORE_INDEX}",
    )
    return None


def _most_confused_pair(vectors, senses) -> tuple[int, int]:
    sim = cosine_similarity_matrix(vectors)
    senses = np.asarray(senses)
    best, pair = -np.inf, (-1, -1)
    for i in range(len(senses)):
        for j in range(i + 1, len(senses)):
            if senses[i] != senses[j] and sim[i, j] > best:
                best, pair = sim[i, j], (i, j)
    return pair


@exercise("Exercise 3: the most confusable pair of senses")
def check_most_confused_pair(fn):
    """``fn(vectors, senses)`` -> (i, j), i < j, the most cosine-similar pair of sentences
    whose senses differ."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 8)) * 3
    senses = ["a"] * 5 + ["b"] * 5
    vectors = np.stack([centres[0 if s == "a" else 1] + rng.normal(size=8) for s in senses])
    vectors[7] = vectors[1] + 0.3 * rng.normal(size=8)  # a "b" sentence that looks like an "a"
    vectors[3] = vectors[2] + 0.01 * rng.normal(size=8)  # the closest pair overall: same sense
    expected = _most_confused_pair(vectors, senses)
    out = fn(vectors, senses)
    expect(isinstance(out, tuple | list) and len(out) == 2, "expected a pair of indices (i, j)")
    i, j = sorted(int(k) for k in out)
    if senses[i] == senses[j]:
        raise CheckFailed(
            f"sentences {i} and {j} have the same sense {senses[i]!r}. Hint: only "
            "pairs whose senses differ can be confused"
        )
    expect_equal(
        (i, j),
        expected,
        "most similar cross-sense pair",
        hint="use cosine similarity, and keep the pair with the highest value",
    )
    return f"pair {expected}"
