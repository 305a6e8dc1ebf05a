"""Intervals for small samples: how sure a measured accuracy or difference is.

* ``wilson_interval``: the Wilson score interval of a proportion (k right out of n). Unlike
  p ± 1.96·sqrt(p(1-p)/n) it stays inside [0, 1] and is not zero-width at p = 0 or 1.
* ``bootstrap_mean``: the mean of per-item scores with a percentile bootstrap interval. Two
  systems scored on the same items are compared by bootstrapping the per-item *difference*
  (a paired interval): the resampled items depend only on ``seed`` and the number of items.
"""

from __future__ import annotations

import numpy as np

from .tools.checks import non_negative_int, positive_int


def wilson_interval(n_correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``n_correct / n`` (95% for z = 1.96)."""
    non_negative_int("n_correct", n_correct)
    positive_int("n", n)
    if n_correct > n:
        raise ValueError(f"n_correct must be <= n, got {n_correct} > {n}")
    p = n_correct / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))  # rounding at p = 0 or 1


def bootstrap_mean(
    values, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` (one score per item, e.g. 0/1 right, or the
    difference of two systems on the same item) and its percentile bootstrap interval."""
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("values must be finite numbers")
    positive_int("n_boot", n_boot)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    resample = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(a[resample].mean(axis=1), [tail, 100 - tail])  # (n_boot,) -> 2
    return float(a.mean()), float(lo), float(hi)
