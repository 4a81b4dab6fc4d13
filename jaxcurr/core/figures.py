"""Figures: mean over seeds with a 95% bootstrap band (3 seeds or more), written atomically.

The band is the percentile interval of the mean over seeds resampled with replacement: it lies
between the lowest and highest seed at every window, so a loss's band stays >= 0 and a share's
or success rate's inside [0, 1] (a Student-t band of few seeds crosses both).

* :func:`point_curves`: one metric over windows, one line per configuration point (RL kinds).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxcurr.core.aggregate import MIN_SEEDS  # noqa: E402
from jaxcurr.core.files import atomic_write  # noqa: E402


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))
    plt.close(fig)
    return path


def bootstrap_band(values: np.ndarray, reps: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per window, the percentile interval of the mean of ``values`` ``[seeds, windows]`` over
    seeds drawn with replacement (the same draws for every window; NaN seeds left out)."""
    seeds = values.shape[0]
    weights = np.random.default_rng(seed).multinomial(seeds, np.full(seeds, 1.0 / seeds), reps)
    valid = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ np.where(valid, values, 0.0)) / (weights @ valid)
    tail = 50.0 * (1.0 - confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(means, [tail, 100.0 - tail], axis=0)
    return low, high


def band(ax, x: np.ndarray, values: np.ndarray, label: str, clip=None, **style) -> None:
    """Mean over the leading (seed) axis with its bootstrap band (:func:`bootstrap_band`; none
    under ``MIN_SEEDS`` seeds), clipped to ``clip`` if given; NaN windows are left out."""
    values = np.asarray(values, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, 0)
    line, = ax.plot(x, mean, label=label, lw=1.4, **style)
    if values.shape[0] < MIN_SEEDS:
        return
    low, high = bootstrap_band(values)
    if clip is not None:
        low, high = low.clip(*clip), high.clip(*clip)
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, lw=0)


def point_curves(path: Path, step: np.ndarray, curves: dict[str, np.ndarray], ylabel: str,
                 title: str, xlabel: str = "step", log: bool = False, logx: bool = False,
                 lines: dict[str, float] | None = None) -> Path:
    """One metric over windows: ``curves`` maps a point label to ``[seeds, windows]``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, values in curves.items():
        band(ax, step[: values.shape[1]], values, label)
    for label, y in (lines or {}).items():
        ax.axhline(y, color="k" if "optim" in label else "grey", ls="--", lw=1, label=label)
    if log:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
