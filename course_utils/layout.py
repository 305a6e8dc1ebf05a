"""Adjusting positions (调整位置): place words in 2-D so that distances match similarities.

Start from random points and move them by gradient descent on the *stress*::

    stress(X) = sum_{i<j} (|x_i - x_j| - D_ij)^2 / sum_{i<j} D_ij^2

where ``D = 1 - S`` turns a similarity matrix ``S`` (1 = same, 0 = unrelated)
into target distances. This is metric multidimensional scaling (MDS) done by
hand: the same "nudge the numbers to lower a loss" that trains every model in
this course.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tools.checks import finite_number, non_negative_int


def similarity_to_distance(similarity) -> np.ndarray:
    """Target distances ``1 - S`` for a symmetric similarity matrix with values in [0, 1]."""
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity must be a square matrix, got shape {s.shape}")
    if not np.allclose(s, s.T):
        raise ValueError("similarity must be symmetric (S[i, j] == S[j, i])")
    if s.min() < -1e-9 or s.max() > 1 + 1e-9:
        raise ValueError(f"similarities must lie in [0, 1], got [{s.min():.3f}, {s.max():.3f}]")
    d = 1.0 - s
    np.fill_diagonal(d, 0.0)
    return d


def _check_positions(positions, target) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(positions, dtype=np.float64)
    d = np.asarray(target, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"positions must have shape (n, dims), got {x.shape}")
    if d.shape != (x.shape[0], x.shape[0]):
        raise ValueError(
            f"target distances must have shape ({x.shape[0]}, {x.shape[0]}) "
            f"to match {x.shape[0]} positions, got {d.shape}"
        )
    return x, d


def pairwise_distances(positions) -> np.ndarray:
    """(n, n) Euclidean distances between the rows of ``positions``."""
    x = np.asarray(positions, dtype=np.float64)
    diff = x[:, None, :] - x[None, :, :]  # (n, n, dims)
    return np.sqrt((diff**2).sum(-1))


def stress(positions, target) -> float:
    """Normalised stress: 0 when every distance equals its target."""
    x, d = _check_positions(positions, target)
    iu = np.triu_indices(len(x), k=1)
    err = pairwise_distances(x)[iu] - d[iu]
    return float((err**2).sum() / max((d[iu] ** 2).sum(), 1e-12))


def stress_gradient(positions, target) -> np.ndarray:
    """d stress / d positions, shape (n, dims)."""
    x, d = _check_positions(positions, target)
    diff = x[:, None, :] - x[None, :, :]  # (n, n, dims)
    dist = np.sqrt((diff**2).sum(-1))  # (n, n)
    iu = np.triu_indices(len(x), k=1)
    norm = max((d[iu] ** 2).sum(), 1e-12)
    coef = np.divide(dist - d, dist, out=np.zeros_like(dist), where=dist > 1e-12)  # (n, n)
    np.fill_diagonal(coef, 0.0)
    return 2.0 * (coef[:, :, None] * diff).sum(axis=1) / norm


@dataclass
class LayoutResult:
    positions: np.ndarray  # (n, dims) final positions
    stress_history: list[float] = field(default_factory=list)  # stress before each step, then final
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> positions


def fit_layout(
    target, dims: int = 2, steps: int = 500, lr: float = 0.05, seed: int = 0, snapshot_steps=(0,)
) -> LayoutResult:
    """Gradient descent from random positions; record stress and snapshots along the way."""
    d = np.asarray(target, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"target distances must be a square matrix, got shape {d.shape}")
    non_negative_int("steps", steps)
    finite_number("lr", lr, low=0, low_inclusive=False)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, size=(len(d), dims))
    result = LayoutResult(x)
    wanted = set(snapshot_steps)
    for step in range(steps + 1):
        if step in wanted:
            result.snapshots[step] = x.copy()
        result.stress_history.append(stress(x, d))
        if step == steps:
            break
        # stress is divided by a sum over ~n^2/2 pairs, but each point's gradient sums only its
        # n - 1 pairs, so it shrinks like 1/n; multiply by n so lr does not depend on n
        x = x - lr * len(d) * stress_gradient(x, d)
    result.positions = x
    return result


def stretch_similarity(similarity) -> np.ndarray:
    """Rescale the off-diagonal similarities linearly to [0, 1] (diagonal stays 1).

    Raw co-occurrence cosines of different words are all small (about 0 to 0.3),
    which would make every target distance nearly 1; stretching keeps their order
    and spreads them out, so the layout shows the groups.
    """
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or len(s) < 3:
        raise ValueError(f"similarity must be a square matrix of at least 3 words, got {s.shape}")
    off = s[~np.eye(len(s), dtype=bool)]
    lo, hi = off.min(), off.max()
    if hi - lo < 1e-12:
        raise ValueError("all off-diagonal similarities are equal; nothing to stretch")
    out = (s - lo) / (hi - lo)
    np.fill_diagonal(out, 1.0)
    return out
