"""The word2vec exercise checks accept the worked solutions and explain typical mistakes."""

import numpy as np
import pytest

from course_utils.exercises.word2vec import (
    check_context_pairs,
    check_discard_probability,
    check_noise_distribution,
    check_solve_analogy,
)
from course_utils.tools.selfcheck import CheckFailed


def discard_probability(freq, t):
    return max(0.0, 1.0 - float(np.sqrt(t / freq)))


def noise_probs(counts, power=0.75):
    p = np.asarray(counts, dtype=float) ** power
    return p / p.sum()


def context_pairs(tokens, window):
    return [
        (tokens[i], tokens[j])
        for i in range(len(tokens))
        for j in range(max(0, i - window), min(len(tokens), i + window + 1))
        if j != i
    ]


def solve_analogy(kv, a, b, c):
    query = kv.get_vector(b, norm=True) - kv.get_vector(a, norm=True) + kv.get_vector(c, norm=True)
    sims = kv.get_normed_vectors() @ query
    for i in np.argsort(-sims):
        word = kv.index_to_key[i]
        if word not in (a, b, c):
            return word
    raise ValueError("no candidate left")


def test_solutions_pass(capsys):
    for check, answer in [
        (check_discard_probability, discard_probability),
        (check_noise_distribution, noise_probs),
        (check_context_pairs, context_pairs),
        (check_solve_analogy, solve_analogy),
    ]:
        result = check(answer)
        assert result.passed
    assert capsys.readouterr().out.count("[passed]") == 4


def test_stub_is_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    result = check_discard_probability(stub)
    assert not result.attempted and "not attempted yet" in capsys.readouterr().out


def test_discard_probability_mistakes():
    with pytest.raises(CheckFailed, match="outside \\[0, 1\\]"):
        check_discard_probability(lambda f, t: 1 - np.sqrt(t / f))  # forgot to clip at 0
    with pytest.raises(CheckFailed, match="sqrt\\(t / f\\)"):
        check_discard_probability(lambda f, t: max(0.0, 1 - np.sqrt(f / t)) if f < t else 0.5)


def test_noise_distribution_mistakes():
    with pytest.raises(CheckFailed, match="normalise"):
        check_noise_distribution(lambda counts, power: np.asarray(counts, float) ** power)
    with pytest.raises(CheckFailed, match="power 0.75"):
        check_noise_distribution(lambda counts, power: np.asarray(counts, float) / np.sum(counts))


def test_context_pairs_mistakes():
    one_side = lambda tokens, w: [
        (tokens[i], tokens[j])
        for i in range(len(tokens))
        for j in range(i + 1, min(len(tokens), i + w + 1))
    ]
    with pytest.raises(CheckFailed, match="BOTH sides"):
        check_context_pairs(one_side)
    with_self = lambda tokens, w: [
        (tokens[i], tokens[j])
        for i in range(len(tokens))
        for j in range(max(0, i - w), min(len(tokens), i + w + 1))
    ]
    with pytest.raises(CheckFailed, match="own context"):
        check_context_pairs(with_self)


def test_solve_analogy_mistakes():
    def no_exclusion(kv, a, b, c):
        query = (
            kv.get_vector(b, norm=True) - kv.get_vector(a, norm=True) + kv.get_vector(c, norm=True)
        )
        return kv.index_to_key[int(np.argmax(kv.get_normed_vectors() @ query))]

    with pytest.raises(CheckFailed, match="exclude a, b and c"):
        check_solve_analogy(no_exclusion)

    def unnormalised(kv, a, b, c):
        query = kv[b] - kv[a] + kv[c]
        sims = kv.vectors @ query / np.linalg.norm(kv.vectors, axis=1)
        order = [kv.index_to_key[i] for i in np.argsort(-sims)]
        return next(w for w in order if w not in (a, b, c))

    with pytest.raises(CheckFailed, match="normalise every vector"):
        check_solve_analogy(unnormalised)
