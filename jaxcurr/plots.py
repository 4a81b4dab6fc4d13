"""Figures: mean over seeds with a 95% confidence band, written atomically.

* :func:`classifier_curves`: the classifier curriculum paper's layout, per-group loss (top) and
  per-group sampling share (bottom) over training, one column per method.
* :func:`point_curves`: one metric over windows, one line per configuration point (RL kinds).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jaxcurr.run_dir import atomic_write, mean_ci  # noqa: E402


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


def classifier_curves(path: Path, methods: tuple[str, ...], groups, metrics: dict, step,
                      title: str) -> Path:
    """Per-group loss and sampling share per method; ``metrics`` arrays ``[seeds, windows, G]``."""
    labels = ["{" + ",".join(map(str, g)) + "}" for g in groups]
    fig, axes = plt.subplots(2, len(methods), figsize=(3.6 * len(methods), 6.0),
                             sharex=True, sharey="row", squeeze=False)
    for column, method in enumerate(methods):
        for row, (name, what) in enumerate((("group_loss", "loss"),
                                            ("group_share", "sampling share"))):
            ax = axes[row, column]
            values = metrics[f"{method}/{name}"]
            for g, label in enumerate(labels):  # a share's band stays within [0, 1]
                band(ax, step, values[..., g], label,
                     clip=(0, 1) if name == "group_share" else None)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(method.replace("_", " "))
            else:
                ax.set_xlabel("student step")
            if column == 0:
                ax.set_ylabel(f"{what} per group")
    axes[0, -1].legend(title="group", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)


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
