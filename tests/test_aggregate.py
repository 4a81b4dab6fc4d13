"""jaxcurr.core.aggregate against independent references: a hand-sorted interquartile mean,
brute-force pair counting, coverage on a known distribution and scipy.stats.bootstrap."""

import numpy as np
import pytest
import scipy.stats

from jaxcurr.core.aggregate import (
    MIN_SEEDS,
    iqm,
    paired_differences_ci,
    probability_of_improvement,
    stratified_bootstrap_ci,
)


def hand_iqm(column):
    """Sort, drop floor(n / 4) values at each end, average the rest."""
    ordered = sorted(column)
    cut = len(ordered) // 4
    kept = ordered[cut: len(ordered) - cut]
    return sum(kept) / len(kept)


@pytest.mark.parametrize("runs", [3, 4, 5, 8, 11])
def test_iqm_is_the_mean_of_the_middle_half(runs):
    values = np.random.default_rng(runs).standard_cauchy((runs, 3))
    expected = [hand_iqm(values[:, t].tolist()) for t in range(3)]
    np.testing.assert_allclose(iqm(values), expected, rtol=1e-12)
    np.testing.assert_allclose(iqm(values.T, axis=1), expected, rtol=1e-12)
    assert iqm([1.0, 2.0, 3.0, 4.0, 100.0, -100.0, 2.5, 3.5]) == pytest.approx(
        (2.0 + 2.5 + 3.0 + 3.5) / 4)  # the outliers are trimmed


def brute_force_improvement(x, y):
    """P(X > Y) per task by counting every pair (ties 1/2), averaged over tasks."""
    per_task = []
    for t in range(x.shape[1]):
        wins = sum((a > b) + 0.5 * (a == b) for a in x[:, t] for b in y[:, t])
        per_task.append(wins / (x.shape[0] * y.shape[0]))
    return float(np.mean(per_task))


def test_probability_of_improvement_counts_pairs_with_ties_as_half():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (6, 3)).astype(float)  # small integers: many ties
    y = rng.integers(0, 4, (5, 3)).astype(float)
    p, low, high = probability_of_improvement(x, y)
    assert p == pytest.approx(brute_force_improvement(x, y), abs=1e-12)
    assert 0.0 <= low <= p <= high <= 1.0
    assert probability_of_improvement(x, x)[0] == pytest.approx(0.5)
    assert probability_of_improvement(x + 10, y)[:3] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="tasks"):
        probability_of_improvement(x, y[:, :2])


def test_bootstrap_interval_covers_the_truth_about_95_percent_of_the_time():
    """Normal(2, 1) scores: the IQM of a symmetric distribution is its centre, 2. Over 300
    data sets of 20 runs x 2 tasks, the 95% interval covers it in 90-99% of them."""
    rng = np.random.default_rng(2)
    covered = 0
    for k in range(300):
        _, low, high = stratified_bootstrap_ci(rng.normal(2.0, 1.0, (20, 2)), reps=500, seed=k)
        covered += low <= 2.0 <= high
    assert 0.90 <= covered / 300 <= 0.99


def test_one_task_matches_scipy_percentile_bootstrap():
    values = np.random.default_rng(3).gamma(2.0, 1.0, 40)
    point, low, high = stratified_bootstrap_ci(values, np.mean, reps=20_000, seed=4)
    ref = scipy.stats.bootstrap((values,), np.mean, n_resamples=20_000, method="percentile",
                                random_state=np.random.default_rng(5))
    assert point == pytest.approx(values.mean())
    spread = values.std() / np.sqrt(values.size)  # Monte Carlo noise: ~0.03 spread
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.1 * spread)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.1 * spread)


def test_stratified_resampling_keeps_tasks_apart():
    """Task 0 scores near 0, task 1 near 100: drawn within tasks, every replicate's mean
    over tasks stays near 50; runs mixed across tasks would spread it over tens."""
    rng = np.random.default_rng(6)
    both = np.stack([rng.normal(0.0, 0.1, 12), rng.normal(100.0, 0.1, 12)], axis=1)
    point, low, high = stratified_bootstrap_ci(both, seed=7)
    assert point == pytest.approx(np.mean([hand_iqm(both[:, t].tolist()) for t in (0, 1)]))
    assert 49.8 < low <= point <= high < 50.2


def test_paired_differences_are_the_iqm_of_differences():
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 1.0, 10)
    y = x - 0.5 + rng.normal(0.0, 0.01, 10)
    point, low, high = paired_differences_ci(x, y)
    assert point == pytest.approx(hand_iqm((x - y).tolist()))
    assert 0.45 < low <= point <= high < 0.55
    assert MIN_SEEDS == 3
