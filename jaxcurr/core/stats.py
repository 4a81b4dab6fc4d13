"""Statistics over seeds: means with 95% Student-t intervals, NaN-tolerant means, rounding."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.stats


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


def stat(values: np.ndarray, digits: int = 6) -> dict[str, Any]:
    """``{"mean": ..., "ci95": ...}`` over the leading (seed) axis, to ``digits`` significant
    digits."""
    mean, half = mean_ci(values)
    return {"mean": significant(mean, digits), "ci95": significant(half, digits)}


def nanmean(values: Any, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``np.nanmean`` without its "mean of empty slice" warning: an all-NaN slice is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values), axis=axis)
