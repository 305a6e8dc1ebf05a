"""Unit tests for course_utils.layout (2-D placement by gradient descent on stress)."""

import numpy as np
import pytest

from course_utils.layout import (
    fit_layout,
    pairwise_distances,
    similarity_to_distance,
    stress,
    stress_gradient,
)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    target = pairwise_distances(rng.normal(size=(6, 2)))
    x = rng.normal(size=(6, 2))
    g = stress_gradient(x, target)
    eps = 1e-6
    num = np.zeros_like(x)
    for i in range(6):
        for j in range(2):
            e = np.zeros_like(x)
            e[i, j] = eps
            num[i, j] = (stress(x + e, target) - stress(x - e, target)) / (2 * eps)
    assert np.allclose(g, num, atol=1e-7)


def test_layout_recovers_a_planar_configuration():
    rng = np.random.default_rng(1)
    target = pairwise_distances(rng.normal(size=(8, 2)))
    res = fit_layout(target, steps=300, lr=0.2, seed=0, snapshot_steps=(0, 10, 300))
    assert res.stress_history[0] > 0.1
    assert res.stress_history[-1] < 1e-6
    assert sorted(res.snapshots) == [0, 10, 300]
    assert np.allclose(res.snapshots[300], res.positions)
    assert len(res.stress_history) == 301


def test_similarity_to_distance():
    s = np.array([[1.0, 0.8], [0.8, 1.0]])
    assert np.allclose(similarity_to_distance(s), [[0, 0.2], [0.2, 0]])
    assert stress(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        similarity_to_distance(np.ones((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        similarity_to_distance(np.array([[1.0, 0.2], [0.3, 1.0]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        similarity_to_distance(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="to match 3 positions"):
        stress(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="steps"):
        fit_layout(np.zeros((2, 2)), steps=-1)
    with pytest.raises(ValueError, match="lr"):
        fit_layout(np.zeros((2, 2)), lr=0)
