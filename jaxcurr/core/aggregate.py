"""Aggregate scores over runs for few and many seeds (Agarwal et al. 2021, "Deep RL at the
Edge of the Statistical Precipice"): the interquartile mean, stratified bootstrap intervals
and the probability of improvement.

Scores are arrays ``[runs, tasks]`` (a 1-D array is one task). A bootstrap replicate draws the
runs with replacement independently within each task (the stratified bootstrap); intervals are
the replicates' percentiles. Intervals need :data:`MIN_SEEDS` runs or more.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.stats

MIN_SEEDS = 3


def iqm(values, axis: int = 0) -> np.ndarray:
    """Interquartile mean along ``axis``: the mean of the middle 50% (25% trimmed off each
    end; ``scipy.stats.trim_mean(values, 0.25)``)."""
    return np.asarray(scipy.stats.trim_mean(np.asarray(values, np.float64), 0.25, axis=axis))


def _runs_by_tasks(values) -> np.ndarray:
    values = np.asarray(values, np.float64)
    return values[:, None] if values.ndim == 1 else values


def _resample(values: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``[reps, runs, tasks]``: the runs drawn with replacement within each task."""
    runs, tasks = values.shape
    return values[rng.integers(0, runs, (reps, runs, tasks)), np.arange(tasks)]


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(low), float(high)


def stratified_bootstrap_ci(values, statistic: Callable = iqm, reps: int = 2000,
                            confidence: float = 0.95, seed: int = 0
                            ) -> tuple[float, float, float]:
    """``(point, low, high)`` of ``statistic`` over the runs axis, then the mean over tasks;
    ``values`` ``[runs, tasks]``; a percentile interval of ``reps`` stratified replicates."""
    values = _runs_by_tasks(values)
    point = float(np.mean(statistic(values, axis=0)))
    replicates = np.mean(statistic(_resample(values, reps, np.random.default_rng(seed)),
                                   axis=1), axis=-1)
    return (point, *_interval(replicates, confidence))


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 per task along axis -2 (the Mann-Whitney U / (n m))."""
    n, m = x.shape[-2], y.shape[-2]
    ranks = scipy.stats.rankdata(np.concatenate([x, y], axis=-2), axis=-2)
    u = ranks[..., :n, :].sum(-2) - n * (n + 1) / 2
    return u / (n * m)


def probability_of_improvement(x, y, reps: int = 2000, confidence: float = 0.95,
                               seed: int = 0) -> tuple[float, float, float]:
    """``(p, low, high)``: P(X > Y) per task (ties count 1/2), averaged over tasks, with a
    stratified bootstrap interval (the runs of x and of y drawn apart within each task)."""
    x, y = _runs_by_tasks(x), _runs_by_tasks(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} tasks and y {y.shape[1]}; allowed: the same")
    rng = np.random.default_rng(seed)
    point = float(_improvement(x, y).mean())
    replicates = _improvement(_resample(x, reps, rng), _resample(y, reps, rng)).mean(-1)
    return (point, *_interval(replicates, confidence))


def paired_differences_ci(x, y, reps: int = 2000, confidence: float = 0.95, seed: int = 0
                          ) -> tuple[float, float, float]:
    """``(point, low, high)``: the IQM of ``x - y`` for runs paired by seed, with its
    stratified bootstrap interval."""
    difference = _runs_by_tasks(x) - _runs_by_tasks(y)
    return stratified_bootstrap_ci(difference, iqm, reps, confidence, seed)
