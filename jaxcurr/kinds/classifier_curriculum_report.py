"""Summary and figures of a classifier curriculum run (one point: arrays [seeds, windows]).

* :func:`summarize` / :func:`format_summary`: per method, final losses and accuracies (IQM over
  seeds with stratified bootstrap intervals from 3 seeds), the probability of a lower loss than
  ``uniform``, the sampling share per group and the visit times;
* :func:`classifier_curves`: the paper's layout, per-group loss (top) and per-group sampling
  share (bottom) over training, one column per method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.stats

from jaxcurr.core.figures import band, plt, save_figure
from jaxcurr.core.stats import improvement
from jaxcurr.core.stats import stat as _stat
from jaxcurr.core.table import format_table, improvement_cell, seeds_note, stat_cell
from jaxcurr.curricula.classifier_config import Config

__all__ = ["format_summary", "summarize", "visit_time"]

BASELINE = "uniform"


def visit_time(share: np.ndarray) -> np.ndarray:
    """Share-weighted mean time of each group's visits, as a fraction of training.

    ``share``: ``[seeds, windows, groups]``; returns ``[seeds, groups]``. Uniform sampling gives
    about 0.5 for every group; a group visited early gets less.
    """
    windows = share.shape[1]
    time = (np.arange(windows) + 0.5) / windows
    return np.einsum("swg,w->sg", share, time) / np.maximum(share.sum(1), 1e-12)


def summarize(config: Config, metrics: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per method: final per-group loss, mean loss over training (lower converges faster),
    test accuracy, overall sampling shares, visit times and their rank correlation with the
    final loss (positive: groups visited in the order of their final loss), and the probability
    that a seed's mean loss over training is below one of ``uniform`` (no teacher)."""
    summary: dict[str, Any] = {
        "name": config.name, "seeds": config.run.seeds, "steps": config.run.steps,
        "groups": [list(g) for g in config.data.groups], "label_mode": config.data.label_mode,
        "methods": {}}
    for method in config.run.methods:
        loss = metrics[f"{method}/group_loss"]
        share = metrics[f"{method}/group_share"]
        times = visit_time(share)
        final = loss[:, -1]
        order = [scipy.stats.spearmanr(t, f).statistic if np.ptp(t) > 0 else 0.0
                 for t, f in zip(times, final, strict=True)]
        summary["methods"][method] = {
            "final_group_loss": _stat(final),
            "final_mean_loss": _stat(final.mean(-1)),
            "mean_loss_over_training": _stat(loss.mean((1, 2))),
            "final_test_accuracy": _stat(metrics[f"{method}/test_accuracy"][:, -1]),
            "final_test_group_accuracy": _stat(metrics[f"{method}/test_group_accuracy"][:, -1]),
            "group_share": _stat(share.mean(1)),
            "group_share_first_tenth": _stat(share[:, : max(1, share.shape[1] // 10)].mean(1)),
            "visit_time": _stat(times),
            "visit_order_vs_final_loss_spearman": _stat(np.nan_to_num(np.array(order))),
            "final_teacher_entropy": _stat(metrics[f"{method}/teacher_entropy"][:, -1]),
        }
        if BASELINE in config.run.methods and method != BASELINE:
            summary["methods"][method][f"p_lower_loss_over_training_than_{BASELINE}"] = (
                improvement(-loss.mean((1, 2)),
                            -metrics[f"{BASELINE}/group_loss"].mean((1, 2))))
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A plain-text table of the summary, one row per method, and how to read it."""
    groups = ["{" + ",".join(map(str, g)) + "}" for g in summary["groups"]]
    clean = summary["label_mode"] == "clean"
    key = f"p_lower_loss_over_training_than_{BASELINE}"
    header = ["method", "loss, run mean", f"P(below {BASELINE})", "final loss",
              *(["test acc"] if clean else []), "group acc", *groups]
    rows = [[method, stat_cell(row["mean_loss_over_training"]), improvement_cell(row.get(key)),
             stat_cell(row["final_mean_loss"]),
             *([f"{row['final_test_accuracy']['iqm']:.3f}"] if clean else []),
             f"{row['final_test_group_accuracy']['iqm']:.3f}",
             *(f"{v:.3f}" for v in row["final_group_loss"]["iqm"])]
            for method, row in summary["methods"].items()]
    shares = [[method, *(f"{a:.2f} -> {b:.2f}" for a, b in zip(
        row["group_share_first_tenth"]["iqm"], row["group_share"]["iqm"], strict=True))]
        for method, row in summary["methods"].items()]
    return "\n".join([
        f"{summary['name']}: {summary['seeds']} seeds x {summary['steps']} steps, "
        f"labels {summary['label_mode']}", seeds_note(summary["seeds"]),
        *format_table(header, rows),
        "loss: held-out cross-entropy, mean over groups ({..}: per group, final); group acc: "
        "the prediction is in the true class's group.",
        "test acc: accuracy on the true labels." if clean else
        f"No test accuracy: {summary['label_mode']} labels are random within a group by design, "
        "so only the group accuracy means something.",
        "", "sampling share per group, first tenth of the run -> whole run:",
        *format_table(["method", *groups], shares)])


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
