"""Figures: mean over seeds with a 95% confidence band, written atomically.

* :func:`point_curves`: one metric over windows, one line per configuration point (RL kinds).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxcurr.core.files import atomic_write
from jaxcurr.core.stats import mean_ci  # noqa: E402


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG atomically and close it."""
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format="png"))
    plt.close(fig)
    return path


def band(ax, x: np.ndarray, values: np.ndarray, label: str, clip=None, **style) -> None:
    """Mean over the leading (seed) axis with its 95% t-band; NaN windows are left out."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, half = mean_ci(values)
    line, = ax.plot(x, mean, label=label, lw=1.4, **style)
    low, high = mean - half, mean + half
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
