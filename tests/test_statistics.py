"""Wilson intervals against scipy's, and the bootstrap mean against a direct resampling."""

import numpy as np
import pytest
from scipy import stats

from course_utils.statistics import bootstrap_mean, wilson_interval


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (1, 1), (37, 120), (500, 1000)])
def test_wilson_matches_scipy(k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n, z=stats.norm.ppf(0.975))
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)


def test_wilson_shape():
    lo, hi = wilson_interval(30, 100)
    assert lo < 0.3 < hi and 0 < lo and hi < 1
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    # a wider z gives a wider interval; more data a narrower one
    assert wilson_interval(30, 100, z=2.58)[0] < lo
    assert wilson_interval(300, 1000)[1] - wilson_interval(300, 1000)[0] < hi - lo
    # hand-computed: k = 2, n = 4, z = 2 -> centre 0.5, half 2/2 * sqrt(1/16 + 1/16) = 0.3536
    assert wilson_interval(2, 4, z=2) == pytest.approx((0.5 - 0.5**1.5, 0.5 + 0.5**1.5))


def test_wilson_bad_input():
    with pytest.raises(ValueError, match="n_correct must be <= n"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="n"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="n_correct"):
        wilson_interval(-1, 4)


def test_bootstrap_mean_matches_direct_resampling():
    values = np.random.default_rng(1).integers(0, 2, 50).astype(float)
    mean, lo, hi = bootstrap_mean(values, n_boot=500, seed=3)
    idx = np.random.default_rng(3).integers(0, 50, size=(500, 50))
    means = values[idx].mean(axis=1)
    assert mean == values.mean()
    assert (lo, hi) == (np.percentile(means, 2.5), np.percentile(means, 97.5))
    lo90, hi90 = bootstrap_mean(values, n_boot=500, seed=3, level=0.9)[1:]
    assert (lo90, hi90) == (np.percentile(means, 5), np.percentile(means, 95))
    assert lo < lo90 <= mean <= hi90 < hi


def test_bootstrap_mean_defaults_are_2000_resamples_with_seed_0():
    values = np.random.default_rng(2).integers(0, 2, 40).astype(float)
    idx = np.random.default_rng(0).integers(0, 40, size=(2000, 40))
    means = values[idx].mean(axis=1)
    assert bootstrap_mean(values)[1:] == (np.percentile(means, 2.5), np.percentile(means, 97.5))


def test_bootstrap_mean_is_paired_by_seed():
    """Two systems on the same items: the interval of the per-item difference."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 200).astype(float)
    b = np.where(rng.random(200) < 0.1, 1 - a, a)  # b agrees with a on ~90% of the items
    d_mean, d_lo, d_hi = bootstrap_mean(a - b)
    assert d_mean == pytest.approx(a.mean() - b.mean())
    assert d_lo <= d_mean <= d_hi
    # a constant difference has no spread
    assert bootstrap_mean(np.full(30, 0.25)) == (0.25, 0.25, 0.25)


@pytest.mark.parametrize(
    "values, kw, match",
    [
        ([], {}, "non-empty 1-D"),
        ([[1.0, 2.0]], {}, "non-empty 1-D"),
        ([1.0, float("nan")], {}, "finite"),
        ([1.0, 0.0], {"n_boot": 0}, "n_boot"),
        ([1.0, 0.0], {"level": 1.0}, "level"),
    ],
)
def test_bootstrap_mean_bad_input(values, kw, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_mean(values, **kw)
