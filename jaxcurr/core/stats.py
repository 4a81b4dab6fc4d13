"""Statistics over seeds for summaries: the IQM with its stratified bootstrap interval and the
probability of improvement (:mod:`jaxcurr.core.aggregate`), NaN-tolerant means, rounding, and
the mean with a 95% Student-t interval (:func:`mean_ci`, for paired comparisons in scripts)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.stats

from jaxcurr.core.aggregate import (
    MIN_SEEDS,
    iqm,
    probability_of_improvement,
    stratified_bootstrap_ci,
)


def mean_ci(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the 95% Student-t confidence interval along ``axis``."""
    values = np.asarray(values, np.float64)
    n = values.shape[axis]
    mean = values.mean(axis)
    if n < 2:
        return mean, np.zeros_like(mean)
    sem = values.std(axis, ddof=1) / np.sqrt(n)
    return mean, scipy.stats.t.ppf(0.975, n - 1) * sem


def significant(values: Any, digits: int = 6) -> Any:
    """``values`` rounded to ``digits`` significant digits, as Python floats (lists)."""
    rounded = np.vectorize(lambda x: float(f"{x:.{digits}g}"), otypes=[float])(
        np.asarray(values, np.float64))
    return rounded.tolist()


def iqm_ci(values: Any) -> tuple[float, float | None, float | None]:
    """``(IQM, low, high)`` of per-seed ``values`` with the 95% stratified bootstrap interval;
    no interval (None) under ``MIN_SEEDS`` seeds; NaN and no interval where a seed is not
    finite (a trimmed mean would hide it)."""
    values = np.asarray(values, np.float64)
    if not np.isfinite(values).all():
        return float("nan"), None, None
    if values.size < MIN_SEEDS:
        return float(iqm(values)), None, None
    return stratified_bootstrap_ci(values)


def stat(values: np.ndarray, digits: int = 6) -> dict[str, Any]:
    """``{"mean", "iqm", "iqm_ci95"}`` over the leading (seed) axis of ``[seeds]`` or
    ``[seeds, k]`` values (each of the k apart), to ``digits`` significant digits; the
    interval is ``[low, high]`` or None (see :func:`iqm_ci`)."""
    values = np.asarray(values, np.float64)
    cells = [iqm_ci(column) for column in values.reshape(len(values), -1).T]
    intervals = [None if low is None else significant([low, high], digits)
                 for _, low, high in cells]
    centre = significant([c[0] for c in cells], digits)
    scalar = values.ndim == 1
    return {"mean": significant(values.mean(0), digits),
            "iqm": centre[0] if scalar else centre,
            "iqm_ci95": intervals[0] if scalar else intervals}


def improvement(x: Any, y: Any, digits: int = 3) -> dict[str, Any] | None:
    """``{"p", "ci95"}``: the probability that a seed of ``x`` scores above one of ``y``
    (ties 1/2) with its stratified bootstrap interval; None under ``MIN_SEEDS`` seeds or with
    non-finite scores."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if min(len(x), len(y)) < MIN_SEEDS or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    p, low, high = probability_of_improvement(x, y)
    return {"p": significant(p, digits), "ci95": significant([low, high], digits)}


def nanmean(values: Any, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``np.nanmean`` without its "mean of empty slice" warning: an all-NaN slice is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values), axis=axis)
